import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Schema, Types } from 'mongoose';
import { AppEvent } from '../../../modules/events/event-bus';
import { SaveInfo } from '../../../modules/events/event-map';
import { OnEvent } from '../../../modules/events/on-event.decorator';
import { FoldersRepository } from '../../../modules/tree/repositories/folders.repository';
import { FolderDoc } from '../../../modules/tree/schemas/folder.schema';
import { ItemDoc } from '../../../modules/tree/schemas/item.schema';
import type { CopyInfo } from '../../../modules/tree/tree-events';
import { MappedNode, Realms } from '../realms';

/**
 * The dead properties of one tree node (collection `dav_prop`), keyed by the node's id, so they
 * stay with the node whatever moves or renames it (WebDAV or REST). `parentId` and `name` copy the
 * node's place so that a Depth 1 PROPFIND finds a folder's children's properties in one query;
 * the save handler below keeps them current.
 */
export interface DeadPropsDoc {
  _id: Types.ObjectId;
  parentId: Types.ObjectId;
  name: string;
  /** By `propKey(ns, local)`: the property element as sent, serialized with its own namespaces. */
  props: Record<string, string>;
}

export const DEAD_PROPS_MODEL = 'dav_prop';
export const DeadPropsSchema = new Schema<DeadPropsDoc>(
  {
    _id: { type: Schema.Types.ObjectId, required: true },
    parentId: { type: Schema.Types.ObjectId, required: true },
    name: { type: String, required: true },
    props: { type: Schema.Types.Mixed, default: {} },
  },
  { collection: 'dav_prop', versionKey: false, minimize: false },
);
DeadPropsSchema.index({ parentId: 1 });

/** A property's key in `props`: both parts URI-encoded (no `.` or `$` reach a field name). */
export function propKey(ns: string, local: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/\./g, '%2E');
  return `${enc(ns)}|${enc(local)}`;
}

export function parsePropKey(key: string): { ns: string; local: string } {
  const [ns, local] = key.split('|').map(decodeURIComponent);
  return { ns, local };
}

type Node = Exclude<MappedNode, null>;

function placeOf(node: Node): { parentId: Types.ObjectId; name: string } {
  return { parentId: node.kind === 'folder' ? node.doc.parentId : node.doc.folderId, name: node.doc.name };
}

/** Every query on `dav_prop`. Deleting a node deletes its properties; copies copy them. */
@Injectable()
export class DavDeadProps {
  constructor(
    @InjectModel(DEAD_PROPS_MODEL) private readonly model: Model<DeadPropsDoc>,
    private readonly folders: FoldersRepository,
    private readonly realms: Realms,
  ) {}

  of(ids: Types.ObjectId[]): Promise<DeadPropsDoc[]> {
    return this.model.find({ _id: { $in: ids } }).lean<DeadPropsDoc[]>().exec();
  }

  /** A folder's own properties and those of its children. */
  ofFolderAndChildren(folderId: Types.ObjectId): Promise<DeadPropsDoc[]> {
    return this.model.find({ $or: [{ _id: folderId }, { parentId: folderId }] }).lean<DeadPropsDoc[]>().exec();
  }

  /** Sets and removes properties in one atomic update (a PROPPATCH is all or nothing). */
  async patch(node: Node, set: Map<string, string>, unset: string[]): Promise<void> {
    const update: Record<string, unknown> = { $set: { ...placeOf(node), ...Object.fromEntries([...set].map(([k, v]) => [`props.${k}`, v])) } };
    if (unset.length) update.$unset = Object.fromEntries(unset.map((k) => [`props.${k}`, '']));
    await this.model.updateOne({ _id: node.doc._id }, update, { upsert: true }).exec();
  }

  /**
   * A WebDAV COPY made `to` from `from` (on disk, then in the tree): each node of the copy takes
   * the properties of its source. The source's folders are walked once to find them.
   */
  async copyTree(from: Node, to: Node): Promise<void> {
    const below = new Map<string, string[]>([[String(from.doc._id), []]]);
    if (from.kind === 'folder' && to.kind === 'folder') {
      const queue: FolderDoc[] = [from.doc];
      for (let n = 0; n < queue.length; n++) {
        for await (const child of this.folders.childrenOf('folder', queue[n]._id)) {
          below.set(String(child._id), [...below.get(String(queue[n]._id))!, child.name]);
          queue.push(child);
        }
      }
    }
    const folderIds = [...below.keys()].map((id) => new Types.ObjectId(id));
    const docs = await this.model.find({ $or: [{ _id: from.doc._id }, { parentId: { $in: folderIds } }] }).lean<DeadPropsDoc[]>().exec();
    for (const doc of docs) {
      const segments = doc._id.equals(from.doc._id) ? [] : [...below.get(String(doc.parentId))!, doc.name];
      const target = !segments.length ? to : to.kind === 'folder' ? await this.realms.nodeAt(to.doc, segments) : null;
      if (target) await this.model.replaceOne({ _id: target.doc._id }, { ...placeOf(target), props: doc.props }, { upsert: true }).exec();
    }
  }

  @OnEvent('model.folder.remove.after', 'homeDirs.deadProps.folderRemoved')
  async onFolderRemoved(event: AppEvent<FolderDoc>): Promise<void> {
    await this.model.deleteOne({ _id: event.info._id }).exec();
  }

  @OnEvent('model.item.remove.after', 'homeDirs.deadProps.itemRemoved')
  async onItemRemoved(event: AppEvent<ItemDoc>): Promise<void> {
    await this.model.deleteOne({ _id: event.info._id }).exec();
  }

  /** A rename or move keeps the properties (same node); their copy of its place follows. */
  @OnEvent('model.folder.save.after', 'homeDirs.deadProps.folderSaved')
  async onFolderSaved(event: AppEvent<SaveInfo<FolderDoc>>): Promise<void> {
    const { doc, previous } = event.info;
    if (previous && (previous.name !== doc.name || !previous.parentId.equals(doc.parentId))) await this.followPlace({ kind: 'folder', doc });
  }

  @OnEvent('model.item.save.after', 'homeDirs.deadProps.itemSaved')
  async onItemSaved(event: AppEvent<SaveInfo<ItemDoc>>): Promise<void> {
    const { doc, previous } = event.info;
    if (previous && (previous.name !== doc.name || !previous.folderId.equals(doc.folderId))) await this.followPlace({ kind: 'item', doc });
  }

  /** A copy made through the REST API takes its source's properties too (one event per node). */
  @OnEvent('model.folder.copy.after', 'homeDirs.deadProps.folderCopied')
  async onFolderCopied(event: AppEvent<CopyInfo<FolderDoc>>): Promise<void> {
    await this.copyOwn(event.info.source._id, { kind: 'folder', doc: event.info.doc });
  }

  @OnEvent('model.item.copy.after', 'homeDirs.deadProps.itemCopied')
  async onItemCopied(event: AppEvent<CopyInfo<ItemDoc>>): Promise<void> {
    await this.copyOwn(event.info.source._id, { kind: 'item', doc: event.info.doc });
  }

  private async followPlace(node: Node): Promise<void> {
    await this.model.updateOne({ _id: node.doc._id }, { $set: placeOf(node) }).exec();
  }

  private async copyOwn(sourceId: Types.ObjectId, to: Node): Promise<void> {
    const source = await this.model.findById(sourceId).lean<DeadPropsDoc>().exec();
    if (source) await this.model.replaceOne({ _id: to.doc._id }, { ...placeOf(to), props: source.props }, { upsert: true }).exec();
  }
}

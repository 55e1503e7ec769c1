import { Injectable } from '@nestjs/common';
import { Types } from 'mongoose';
import { AuthenticationError, NotFoundError, ValidationError } from '../../common/errors';
import { parseJsonParam, parseObjectId } from '../../common/params';
import { RequestContext } from '../../common/request-context';
import { AccessLevel } from '../access/access-level';
import { AccessService } from '../access/access.service';
import { CollectionsRepository } from '../tree/repositories/collections.repository';
import { FilesRepository } from '../tree/repositories/files.repository';
import { FoldersRepository } from '../tree/repositories/folders.repository';
import { ItemsRepository } from '../tree/repositories/items.repository';
import { CollectionDoc } from '../tree/schemas/collection.schema';
import { FileDoc } from '../tree/schemas/file.schema';
import { FolderDoc } from '../tree/schemas/folder.schema';
import { ItemDoc } from '../tree/schemas/item.schema';
import { TreeReader } from '../tree/tree-reader.service';
import { TreeService } from '../tree/tree.service';
import { ParentRef } from '../tree/tree.types';
import { lowerNameOf } from '../tree/tree-names';
import type { UserDoc } from '../users/user.schema';
import { UsersRepository } from '../users/users.repository';

export type Resource =
  | { type: 'user'; doc: UserDoc }
  | { type: 'collection'; doc: CollectionDoc }
  | { type: 'folder'; doc: FolderDoc }
  /** An item comes with its folder, whose access it takes. */
  | { type: 'item'; doc: ItemDoc; folder: FolderDoc }
  | { type: 'file'; doc: FileDoc };

export interface ResourceIds {
  folder: Types.ObjectId[];
  item: Types.ObjectId[];
  collection: Types.ObjectId[];
  user: Types.ObjectId[];
}

/** Paths (`/user/<login>/…`, `/collection/<name>/…`) and bulk operations over several nodes. */
@Injectable()
export class ResourcesService {
  constructor(
    private readonly reader: TreeReader,
    private readonly tree: TreeService,
    private readonly access: AccessService,
    private readonly users: UsersRepository,
    private readonly collections: CollectionsRepository,
    private readonly folders: FoldersRepository,
    private readonly items: ItemsRepository,
    private readonly files: FilesRepository,
  ) {}

  /**
   * Resolves a path, segment by segment, needing READ on every node. Missing and unreadable give
   * the same 404, so a path does not reveal what the caller may not see.
   */
  async lookup(path: string): Promise<Resource> {
    const segments = path
      .split('/')
      .filter((s) => s !== '')
      .map((s) => s.replace(/\\-/g, '/'));
    const notFound = () => new NotFoundError(`Path not found: ${path}`);
    if (segments.length < 2) throw notFound();
    const user = RequestContext.user();
    let current: Resource;
    if (segments[0] === 'user') {
      const doc = await this.users.findByLogin(segments[1]);
      if (!doc || !user) throw notFound();
      current = { type: 'user', doc };
    } else if (segments[0] === 'collection') {
      const doc = await this.collections.findByName(segments[1]);
      if (!doc || !this.access.has(doc, user, AccessLevel.READ)) throw notFound();
      current = { type: 'collection', doc };
    } else throw notFound();
    for (let i = 2; i < segments.length; i++) {
      const segment = segments[i];
      const lower = lowerNameOf(segment.normalize('NFC'));
      if (current.type === 'item') {
        const file: FileDoc | undefined = (await this.files.ofItem(current.doc._id)).find((f) => f.name === segment || f.name.toLowerCase() === lower);
        if (!file) throw notFound();
        current = { type: 'file', doc: file };
        continue;
      }
      if (current.type === 'file') throw notFound();
      const parent = current as Extract<Resource, { type: 'user' | 'collection' | 'folder' }>;
      // the last name is a folder or an item: both are asked for at once (earlier names are mostly folders)
      const lastItem: Promise<ItemDoc | null> | null = i === segments.length - 1 && parent.type === 'folder' ? this.items.findChild(parent.doc._id, lower) : null;
      lastItem?.catch(() => undefined); // awaited below unless a folder answers
      const folder = await this.folders.findChild(parent.type as 'user' | 'collection' | 'folder', parent.doc._id, lower);
      if (folder) {
        if (!this.access.has(folder, user, AccessLevel.READ)) throw notFound();
        current = { type: 'folder', doc: folder };
        continue;
      }
      const item: ItemDoc | null = parent.type === 'folder' ? await (lastItem ?? this.items.findChild(parent.doc._id, lower)) : null;
      if (!item) throw notFound();
      current = { type: 'item', doc: item, folder: parent.doc as FolderDoc };
    }
    return current;
  }

  /** The path of a node (Girder's `GET /resource/:id/path`); a wrong type or id is a 400. */
  async pathOf(id: Types.ObjectId, type: string): Promise<string> {
    const invalid = () => new ValidationError(`Invalid resource id ${id} for type ${type}.`, 'id');
    const parts: string[] = [];
    let folder: FolderDoc | null = null;
    switch (type) {
      case 'user': {
        const u = await this.users.findById(id);
        if (!u) throw invalid();
        if (!RequestContext.user()) throw new AuthenticationError();
        return `/user/${u.login}`;
      }
      case 'collection': {
        const c = await this.collections.findById(id);
        if (!c) throw invalid();
        this.access.require(c, RequestContext.user(), AccessLevel.READ, 'collection');
        return `/collection/${c.name}`;
      }
      case 'folder':
        folder = await this.folders.findById(id);
        if (!folder) throw invalid();
        break;
      case 'item': {
        const item = await this.items.findById(id);
        if (!item) throw invalid();
        parts.unshift(item.name);
        folder = await this.folders.findById(item.folderId);
        break;
      }
      case 'file': {
        const file = await this.files.findById(id);
        if (!file) throw invalid();
        const item = await this.items.findById(file.itemId);
        if (!item) throw invalid();
        parts.unshift(item.name, file.name);
        folder = await this.folders.findById(item.folderId);
        break;
      }
      default:
        throw new ValidationError('type must be one of user, collection, folder, item, file.', 'type');
    }
    if (!folder) throw invalid();
    this.access.require(folder, RequestContext.user(), AccessLevel.READ, type);
    const chain = await this.reader.rootpath(folder);
    const names = chain.map(({ type: t, object }) => (t === 'user' ? (object as UserDoc).login : (object as FolderDoc).name));
    return `/${chain[0]?.type ?? folder.baseParentType}/${[...names, folder.name, ...parts].map((n) => n.replace(/\//g, '\\-')).join('/')}`;
  }

  /** Parses Girder's `resources` parameter: `{"folder": [ids], "item": [ids], …}`. */
  parseResources(value: unknown, allowed: (keyof ResourceIds)[]): ResourceIds {
    const raw = parseJsonParam<unknown>(value, 'resources');
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ValidationError('resources must be a JSON object of id lists.', 'resources');
    const out: ResourceIds = { folder: [], item: [], collection: [], user: [] };
    for (const [kind, ids] of Object.entries(raw)) {
      if (!allowed.includes(kind as keyof ResourceIds)) throw new ValidationError(`Invalid resource type: ${kind}.`, 'resources');
      if (!Array.isArray(ids)) throw new ValidationError(`resources.${kind} must be a list of ids.`, 'resources');
      out[kind as keyof ResourceIds] = ids.map((id) => parseObjectId(id, 'resources'));
    }
    return out;
  }

  /** Loads every named node with `level`, before anything is changed (all or nothing on access). */
  async loadAll(ids: ResourceIds, level: AccessLevel) {
    const folders = await Promise.all(ids.folder.map((id) => this.reader.loadFolder(id, level)));
    const items = await Promise.all(ids.item.map((id) => this.reader.loadItem(id, level).then((r) => r.item)));
    const collections = await Promise.all(ids.collection.map((id) => this.reader.loadCollection(id, level)));
    return { folders, items, collections };
  }

  async move(ids: ResourceIds, parent: ParentRef): Promise<void> {
    const { folders, items } = await this.loadAll(ids, AccessLevel.WRITE);
    if (items.length && parent.type !== 'folder') throw new ValidationError('Items can only be moved into a folder.', 'parentType');
    for (const folder of folders) await this.tree.updateFolder(folder, { parent });
    for (const item of items) await this.tree.updateItem(item, { folder: parent.doc as FolderDoc });
  }

  async copy(ids: ResourceIds, parent: ParentRef): Promise<void> {
    const { folders, items } = await this.loadAll(ids, AccessLevel.READ);
    if (items.length && parent.type !== 'folder') throw new ValidationError('Items can only be copied into a folder.', 'parentType');
    const creator = RequestContext.user();
    for (const folder of folders) await this.tree.copyFolder(folder, parent, { creator, public: 'original' });
    for (const item of items) await this.tree.copyItem(item, parent.doc as FolderDoc, { creator });
  }

  async delete(ids: ResourceIds): Promise<void> {
    // as the single deletes: items need WRITE, folders and collections ADMIN; all checked first
    const { folders, collections } = await this.loadAll({ ...ids, item: [] }, AccessLevel.ADMIN);
    const { items } = await this.loadAll({ folder: [], collection: [], user: [], item: ids.item }, AccessLevel.WRITE);
    for (const item of items) await this.tree.deleteItem(item);
    for (const folder of folders) await this.tree.deleteFolder(folder);
    for (const collection of collections) await this.tree.deleteCollection(collection);
  }
}

import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { FilterQuery, Model, Types } from 'mongoose';
import { driverCollection } from '../../../common/driver-collection';
import { findPage, findPageDirect } from '../../../common/find-page';
import { Paging } from '../../../common/params';
import { ParentType } from '../schemas/common';
import { FOLDER_MODEL, FolderDoc } from '../schemas/folder.schema';

export interface ChildFilter {
  /** Exact name (case-insensitive, as names are unique that way). */
  name?: string;
  /** Keyset paging: only names sorting after this one. */
  after?: string;
}

/**
 * The sort of a listing of one parent's children. Names are unique among a parent's children
 * (unique indexes on `{folderId, lowerName}` and `{parentId, parentCollection, lowerName}`), so the
 * `_id` tie-break that `paging` adds to every sort never decides anything there: it is dropped from
 * a `lowerName` sort, which the index then delivers in order (a page reads skip + limit entries
 * instead of sorting the whole folder, on MongoDB as on the embedded server). Same documents, same
 * order. Searches across parents keep the tie-break: their names are not unique.
 */
export function childSort(sort: Paging['sort']): Paging['sort'] {
  const keys = Object.keys(sort);
  if (keys.length === 2 && keys[0] === 'lowerName' && keys[1] === '_id' && sort._id === sort.lowerName) return { lowerName: sort.lowerName };
  return sort;
}

/** Every query on the `folder` collection. */
@Injectable()
export class FoldersRepository {
  constructor(@InjectModel(FOLDER_MODEL) private readonly model: Model<FolderDoc>) {}

  findById(id: Types.ObjectId): Promise<FolderDoc | null> {
    // a hot path (every access check on a folder, item or file): through the driver when the id is typed
    const direct = id instanceof Types.ObjectId ? driverCollection(this.model) : undefined;
    if (direct) return direct.findOne({ _id: id }) as Promise<FolderDoc | null>;
    return this.model.findById(id).lean<FolderDoc>().exec();
  }

  /**
   * A folder and every folder above it, nearest first, following parent links (empty when the
   * folder is gone). Folders in `known` (by id) are taken from there instead of read, and the ones
   * read are added to it, so that walks sharing their upper part read it once.
   */
  async chainFrom(id: Types.ObjectId, known: Map<string, FolderDoc> = new Map()): Promise<FolderDoc[]> {
    const chain: FolderDoc[] = [];
    let next = id;
    for (let depth = 0; depth < 10_000; depth++) {
      let folder = known.get(String(next));
      if (!folder) {
        folder = (await this.findById(next)) ?? undefined;
        if (!folder) break;
        known.set(String(next), folder);
      }
      chain.push(folder);
      if (folder.parentCollection !== 'folder') break;
      next = folder.parentId;
    }
    return chain;
  }

  /** The ACLs (`public`, `access`) of several folders, for access decisions only. */
  accessOf(ids: Types.ObjectId[]): Promise<Pick<FolderDoc, '_id' | 'public' | 'access'>[]> {
    return this.model.find({ _id: { $in: ids } }, { public: 1, access: 1 }).lean<Pick<FolderDoc, '_id' | 'public' | 'access'>[]>().exec();
  }

  findChild(parentType: ParentType, parentId: Types.ObjectId, lowerName: string): Promise<FolderDoc | null> {
    const direct = parentId instanceof Types.ObjectId && typeof lowerName === 'string' ? driverCollection(this.model) : undefined;
    if (direct) return direct.findOne({ parentId, parentCollection: parentType, lowerName }) as Promise<FolderDoc | null>;
    return this.model.findOne({ parentId, parentCollection: parentType, lowerName }).lean<FolderDoc>().exec();
  }

  async listChildren(
    parentType: ParentType,
    parentId: Types.ObjectId,
    visible: FilterQuery<FolderDoc> | null,
    page: Paging,
    by: ChildFilter = {},
  ): Promise<{ docs: FolderDoc[]; total: number }> {
    const filter: FilterQuery<FolderDoc> = { parentId, parentCollection: parentType };
    if (by.name !== undefined) filter.lowerName = by.name.toLowerCase();
    if (visible) Object.assign(filter, visible);
    const listFilter = by.after !== undefined ? { ...filter, lowerName: { $gt: by.after.toLowerCase() } } : filter;
    const childPage = { ...page, sort: childSort(page.sort) };
    return parentId instanceof Types.ObjectId ? findPageDirect(this.model, listFilter, childPage, filter) : findPage(this.model, listFilter, childPage, filter);
  }

  /** The folder a realm directory is mapped to (home-dirs plugin; every WebDAV write starts here). */
  findMapped(realm: string, key: string): Promise<FolderDoc | null> {
    const direct = typeof realm === 'string' && typeof key === 'string' ? driverCollection(this.model) : undefined;
    if (direct) return direct.findOne({ 'mapping.realm': realm, 'mapping.key': key }) as Promise<FolderDoc | null>;
    return this.model.findOne({ 'mapping.realm': realm, 'mapping.key': key }).lean<FolderDoc>().exec();
  }

  /** Root folders of a realm that pass `visible` (an access filter). */
  mappedIn(realm: string, visible: FilterQuery<FolderDoc> | null): Promise<FolderDoc[]> {
    return this.model.find({ 'mapping.realm': realm, ...(visible ?? {}) }).sort({ _id: 1 }).lean<FolderDoc[]>().exec();
  }

  /** Child folders, for walking a subtree (no access filter: callers are the tree's own walks). */
  childrenOf(parentType: ParentType, parentId: Types.ObjectId): AsyncIterable<FolderDoc> {
    return this.model.find({ parentId, parentCollection: parentType }).lean<FolderDoc>().cursor();
  }

  countChildren(parentType: ParentType, parentId: Types.ObjectId): Promise<number> {
    return this.model.countDocuments({ parentId, parentCollection: parentType }).exec();
  }

  async insert(doc: Omit<FolderDoc, '_id'> & { _id?: Types.ObjectId }): Promise<FolderDoc> {
    return (await this.model.create(doc)).toObject() as FolderDoc;
  }

  update(id: Types.ObjectId, set: Partial<FolderDoc>): Promise<FolderDoc | null> {
    return this.model.findByIdAndUpdate(id, { $set: set }, { new: true }).lean<FolderDoc>().exec();
  }

  async delete(id: Types.ObjectId): Promise<void> {
    await this.model.deleteOne({ _id: id }).exec();
  }

  /** Deletes a folder and returns it as it was at that moment (null when it was gone already). */
  deleteReturning(id: Types.ObjectId): Promise<FolderDoc | null> {
    return this.model.findOneAndDelete({ _id: id }).lean<FolderDoc>().exec();
  }

  /**
   * Adds to the direct and/or recursive sizes of several folders, in one command: one statement
   * per distinct increment (a folder's ancestors all take the same one), as each statement costs
   * the database about as much as a command.
   */
  async incSizes(changes: { id: Types.ObjectId; size: number; sizeRecursive: number }[]): Promise<void> {
    const groups = new Map<string, { inc: Record<string, number>; ids: Types.ObjectId[] }>();
    for (const { id, size, sizeRecursive } of changes) {
      const inc: Record<string, number> = {};
      if (size) inc.size = size;
      if (sizeRecursive) inc.sizeRecursive = sizeRecursive;
      if (!Object.keys(inc).length) continue;
      const key = `${inc.size ?? 0}:${inc.sizeRecursive ?? 0}`;
      const group = groups.get(key);
      if (group) group.ids.push(id);
      else groups.set(key, { inc, ids: [id] });
    }
    if (!groups.size) return;
    const ops = [...groups.values()].map(({ inc, ids }) =>
      ids.length === 1 ? { updateOne: { filter: { _id: ids[0] }, update: { $inc: inc } } } : { updateMany: { filter: { _id: { $in: ids } }, update: { $inc: inc } } },
    );
    const direct = changes.every((c) => c.id instanceof Types.ObjectId) ? driverCollection(this.model) : undefined;
    if (direct) await direct.bulkWrite(ops, { ordered: false });
    else await this.model.bulkWrite(ops as never, { ordered: false });
  }

  async setSizes(id: Types.ObjectId, size: number, sizeRecursive: number): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { size, sizeRecursive } }).exec();
  }

  async setBaseParent(ids: Types.ObjectId[], baseParentType: string, baseParentId: Types.ObjectId): Promise<void> {
    if (ids.length) await this.model.updateMany({ _id: { $in: ids } }, { $set: { baseParentType, baseParentId } }).exec();
  }

  async setAccess(ids: Types.ObjectId[], set: Pick<FolderDoc, 'access'> & Partial<Pick<FolderDoc, 'public'>>): Promise<void> {
    if (ids.length) await this.model.updateMany({ _id: { $in: ids } }, { $set: set }).exec();
  }

  /** Folders whose name matches, among those `visible` (search). */
  async search(visible: FilterQuery<FolderDoc> | null, pattern: RegExp, page: Paging) {
    const filter: FilterQuery<FolderDoc> = { lowerName: pattern, ...(visible ?? {}) };
    const query = this.model.find(filter).sort(page.sort).skip(page.offset);
    if (page.limit) query.limit(page.limit);
    return query.lean<FolderDoc[]>().exec();
  }

  all(): AsyncIterable<FolderDoc> {
    return this.model.find({}).lean<FolderDoc>().cursor();
  }
}

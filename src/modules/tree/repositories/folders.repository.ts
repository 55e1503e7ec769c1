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

  /** The folder a realm directory is mapped to (home-dirs plugin). */
  findMapped(realm: string, key: string): Promise<FolderDoc | null> {
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

  /** Adds to the direct and/or recursive size of one folder. */
  async incSizes(id: Types.ObjectId, direct: number, recursive: number): Promise<void> {
    const inc: Record<string, number> = {};
    if (direct) inc.size = direct;
    if (recursive) inc.sizeRecursive = recursive;
    if (Object.keys(inc).length) await this.model.updateOne({ _id: id }, { $inc: inc }).exec();
  }

  async incRecursive(ids: Types.ObjectId[], delta: number): Promise<void> {
    if (delta && ids.length) await this.model.updateMany({ _id: { $in: ids } }, { $inc: { sizeRecursive: delta } }).exec();
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

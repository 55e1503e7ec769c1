import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { FilterQuery, Model, Types } from 'mongoose';
import { driverCollection } from '../../../common/driver-collection';
import { insertStored } from '../../../common/stored-as-is';
import { findPage, findPageDirect } from '../../../common/find-page';
import { Paging } from '../../../common/params';
import { ITEM_MODEL, ItemDoc } from '../schemas/item.schema';
import { ChildFilter, childSort } from './folders.repository';

/** Every query on the `item` collection. */
@Injectable()
export class ItemsRepository {
  constructor(@InjectModel(ITEM_MODEL) private readonly model: Model<ItemDoc>) {}

  findById(id: Types.ObjectId): Promise<ItemDoc | null> {
    return this.model.findById(id).lean<ItemDoc>().exec();
  }

  findChild(folderId: Types.ObjectId, lowerName: string): Promise<ItemDoc | null> {
    // path lookups: through the driver when the id is typed
    const direct = folderId instanceof Types.ObjectId && typeof lowerName === 'string' ? driverCollection(this.model) : undefined;
    if (direct) return direct.findOne({ folderId, lowerName }) as Promise<ItemDoc | null>;
    return this.model.findOne({ folderId, lowerName }).lean<ItemDoc>().exec();
  }

  async list(folderId: Types.ObjectId, page: Paging, by: ChildFilter = {}): Promise<{ docs: ItemDoc[]; total: number }> {
    const filter: FilterQuery<ItemDoc> = { folderId };
    if (by.name !== undefined) filter.lowerName = by.name.toLowerCase();
    const listFilter = by.after !== undefined ? { ...filter, lowerName: { $gt: by.after.toLowerCase() } } : filter;
    const childPage = { ...page, sort: childSort(page.sort) };
    return folderId instanceof Types.ObjectId ? findPageDirect(this.model, listFilter, childPage, filter) : findPage(this.model, listFilter, childPage, filter);
  }

  inFolder(folderId: Types.ObjectId): AsyncIterable<ItemDoc> {
    return this.model.find({ folderId }).lean<ItemDoc>().cursor();
  }

  countInFolder(folderId: Types.ObjectId): Promise<number> {
    return this.model.countDocuments({ folderId }).exec();
  }

  insert(doc: Omit<ItemDoc, '_id'> & { _id?: Types.ObjectId }): Promise<ItemDoc> {
    return insertStored(this.model, doc as ItemDoc);
  }

  update(id: Types.ObjectId, set: Partial<ItemDoc>): Promise<ItemDoc | null> {
    return this.model.findByIdAndUpdate(id, { $set: set }, { new: true }).lean<ItemDoc>().exec();
  }

  async delete(id: Types.ObjectId): Promise<void> {
    await this.model.deleteOne({ _id: id }).exec();
  }

  /** Deletes an item and returns it as it was at that moment (null when it was gone already). */
  deleteReturning(id: Types.ObjectId): Promise<ItemDoc | null> {
    return this.model.findOneAndDelete({ _id: id }).lean<ItemDoc>().exec();
  }

  async incSize(id: Types.ObjectId, delta: number): Promise<void> {
    if (!delta) return;
    // every file written changes its item's size
    const direct = id instanceof Types.ObjectId && typeof delta === 'number' ? driverCollection(this.model) : undefined;
    if (direct) await direct.updateOne({ _id: id }, { $inc: { size: delta } });
    else await this.model.updateOne({ _id: id }, { $inc: { size: delta } }).exec();
  }

  async setSize(id: Types.ObjectId, size: number): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { size } }).exec();
  }

  async setBaseParentInFolders(folderIds: Types.ObjectId[], baseParentType: string, baseParentId: Types.ObjectId): Promise<void> {
    if (folderIds.length) await this.model.updateMany({ folderId: { $in: folderIds } }, { $set: { baseParentType, baseParentId } }).exec();
  }

  /** Items whose name matches, whose folder passes `folderFilter` (an ACL filter on `__folder.`). */
  async search(folderFilter: Record<string, unknown> | null, pattern: RegExp, page: Paging): Promise<ItemDoc[]> {
    const pipeline: Record<string, unknown>[] = [{ $match: { lowerName: pattern } }];
    if (folderFilter) {
      pipeline.push({ $lookup: { from: 'folder', localField: 'folderId', foreignField: '_id', as: '__folder' } }, { $match: folderFilter });
    }
    pipeline.push({ $sort: page.sort }, { $skip: page.offset });
    if (page.limit) pipeline.push({ $limit: page.limit });
    pipeline.push({ $project: { __folder: 0 } });
    return this.model.aggregate<ItemDoc>(pipeline as never).exec();
  }

  all(): AsyncIterable<ItemDoc> {
    return this.model.find({}).lean<ItemDoc>().cursor();
  }
}

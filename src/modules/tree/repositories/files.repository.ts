import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { driverCollection } from '../../../common/driver-collection';
import { findPage } from '../../../common/find-page';
import { insertStored } from '../../../common/stored-as-is';
import { Paging } from '../../../common/params';
import { FILE_MODEL, FileDoc } from '../schemas/file.schema';

/** Every query on the `file` collection. */
@Injectable()
export class FilesRepository {
  constructor(@InjectModel(FILE_MODEL) private readonly model: Model<FileDoc>) {}

  findById(id: Types.ObjectId): Promise<FileDoc | null> {
    return this.model.findById(id).lean<FileDoc>().exec();
  }

  async listForItem(itemId: Types.ObjectId, page: Paging): Promise<{ docs: FileDoc[]; total: number }> {
    return findPage(this.model, { itemId }, page);
  }

  ofItem(itemId: Types.ObjectId): Promise<FileDoc[]> {
    // every overwrite, move and delete of an item reads its files
    const direct = itemId instanceof Types.ObjectId ? driverCollection(this.model) : undefined;
    if (direct) return direct.find({ itemId }).sort({ _id: 1 }).toArray() as Promise<FileDoc[]>;
    return this.model.find({ itemId }).sort({ _id: 1 }).lean<FileDoc[]>().exec();
  }

  insert(doc: Omit<FileDoc, '_id'> & { _id?: Types.ObjectId }): Promise<FileDoc> {
    return insertStored(this.model, doc as FileDoc);
  }

  update(id: Types.ObjectId, set: Partial<FileDoc>): Promise<FileDoc | null> {
    return this.model.findByIdAndUpdate(id, { $set: set }, { new: true }).lean<FileDoc>().exec();
  }

  async delete(id: Types.ObjectId): Promise<void> {
    await this.model.deleteOne({ _id: id }).exec();
  }

  /** How many files of an assetstore hold these bytes (their blob's reference count). */
  countBySha512(assetstoreId: Types.ObjectId, sha512: string): Promise<number> {
    return this.model.countDocuments({ assetstoreId, sha512 }).exec();
  }

  countInAssetstore(assetstoreId: Types.ObjectId): Promise<number> {
    return this.model.countDocuments({ assetstoreId }).exec();
  }

  all(): AsyncIterable<FileDoc> {
    return this.model.find({}).lean<FileDoc>().cursor();
  }
}

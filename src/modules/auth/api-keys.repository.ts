import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { findPage } from '../../common/find-page';
import { Paging } from '../../common/params';
import { API_KEY_MODEL, ApiKeyDoc } from './api-key.schema';

/** Every query on the `api_key` collection. */
@Injectable()
export class ApiKeysRepository {
  constructor(@InjectModel(API_KEY_MODEL) private readonly model: Model<ApiKeyDoc>) {}

  async insert(doc: Omit<ApiKeyDoc, '_id'>): Promise<ApiKeyDoc> {
    return (await this.model.create(doc)).toObject() as ApiKeyDoc;
  }

  findById(id: Types.ObjectId): Promise<ApiKeyDoc | null> {
    return this.model.findById(id).lean<ApiKeyDoc>().exec();
  }

  findByHash(keyHash: string): Promise<ApiKeyDoc | null> {
    return this.model.findOne({ keyHash }).lean<ApiKeyDoc>().exec();
  }

  async listForUser(userId: Types.ObjectId, page: Paging): Promise<{ keys: ApiKeyDoc[]; total: number }> {
    const { docs: keys, total } = await findPage(this.model, { userId }, page);
    return { keys, total };
  }

  update(id: Types.ObjectId, set: Partial<ApiKeyDoc>): Promise<ApiKeyDoc | null> {
    return this.model.findByIdAndUpdate(id, { $set: set }, { new: true }).lean<ApiKeyDoc>().exec();
  }

  async touch(id: Types.ObjectId): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { lastUse: new Date() } }).exec();
  }

  async delete(id: Types.ObjectId): Promise<void> {
    await this.model.deleteOne({ _id: id }).exec();
  }

  async deleteForUser(userId: Types.ObjectId): Promise<void> {
    await this.model.deleteMany({ userId }).exec();
  }
}

import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { FilterQuery, Model, Types } from 'mongoose';
import { driverCollection } from '../../../common/driver-collection';
import { findPage } from '../../../common/find-page';
import { Paging } from '../../../common/params';
import { COLLECTION_MODEL, CollectionDoc } from '../schemas/collection.schema';

/** Every query on the `collection` collection. */
@Injectable()
export class CollectionsRepository {
  constructor(@InjectModel(COLLECTION_MODEL) private readonly model: Model<CollectionDoc>) {}

  findById(id: Types.ObjectId): Promise<CollectionDoc | null> {
    const direct = id instanceof Types.ObjectId ? driverCollection(this.model) : undefined;
    if (direct) return direct.findOne({ _id: id }) as Promise<CollectionDoc | null>;
    return this.model.findById(id).lean<CollectionDoc>().exec();
  }

  findByName(name: string): Promise<CollectionDoc | null> {
    // path lookups start here
    const direct = driverCollection(this.model);
    if (direct) return direct.findOne({ lowerName: name.toLowerCase() }) as Promise<CollectionDoc | null>;
    return this.model.findOne({ lowerName: name.toLowerCase() }).lean<CollectionDoc>().exec();
  }

  async insert(doc: Omit<CollectionDoc, '_id'>): Promise<CollectionDoc> {
    return (await this.model.create(doc)).toObject() as CollectionDoc;
  }

  update(id: Types.ObjectId, set: Partial<CollectionDoc>): Promise<CollectionDoc | null> {
    return this.model.findByIdAndUpdate(id, { $set: set }, { new: true }).lean<CollectionDoc>().exec();
  }

  async delete(id: Types.ObjectId): Promise<void> {
    await this.model.deleteOne({ _id: id }).exec();
  }

  async incSize(id: Types.ObjectId, delta: number): Promise<void> {
    if (delta) await this.model.updateOne({ _id: id }, { $inc: { size: delta } }).exec();
  }

  async setSize(id: Types.ObjectId, size: number): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { size } }).exec();
  }

  async list(visible: FilterQuery<CollectionDoc> | null, text: string | RegExp | undefined, page: Paging) {
    const clauses: FilterQuery<CollectionDoc>[] = [];
    if (visible) clauses.push(visible);
    if (text instanceof RegExp) clauses.push({ lowerName: text });
    else if (text?.trim()) clauses.push({ lowerName: new RegExp(escape(text.trim().toLowerCase())) });
    return findPage(this.model, clauses.length ? { $and: clauses } : {}, page);
  }

  all(): AsyncIterable<CollectionDoc> {
    return this.model.find({}).lean<CollectionDoc>().cursor();
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { UPLOAD_MODEL, UploadDoc } from './upload.schema';

const CHUNK_LEASE_MS = 10 * 60_000;

/** Every query on the `upload` collection. */
@Injectable()
export class UploadsRepository {
  constructor(@InjectModel(UPLOAD_MODEL) private readonly model: Model<UploadDoc>) {}

  async insert(doc: Omit<UploadDoc, '_id'> & { _id: Types.ObjectId }): Promise<UploadDoc> {
    return (await this.model.create(doc)).toObject() as UploadDoc;
  }

  findById(id: Types.ObjectId): Promise<UploadDoc | null> {
    return this.model.findById(id).lean<UploadDoc>().exec();
  }

  async setState(id: Types.ObjectId, state: Record<string, unknown>): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { state } }).exec();
  }

  /** When a chunk lease taken at `now` runs out (a request that died holding it blocks no longer). */
  leaseFrom(now: Date): Date {
    return new Date(now.getTime() + CHUNK_LEASE_MS);
  }

  /** Takes the right to write the chunk at `offset`; false when the offset is stale or a chunk is in flight. */
  async claimChunk(id: Types.ObjectId, offset: number): Promise<boolean> {
    const now = new Date();
    const res = await this.model
      .updateOne(
        { _id: id, status: 'uploading', received: offset, $or: [{ lockedUntil: null }, { lockedUntil: { $lt: now } }] },
        { $set: { lockedUntil: this.leaseFrom(now) } },
      )
      .exec();
    return res.modifiedCount === 1;
  }

  async finishChunk(id: Types.ObjectId, received: number): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { received, lockedUntil: null, updated: new Date() } }).exec();
  }

  /** The last chunk is in: the lease holder moves the upload to `finalizing` in the same write. */
  async finishLastChunk(id: Types.ObjectId, received: number): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { received, lockedUntil: null, status: 'finalizing', updated: new Date() } }).exec();
  }

  async releaseChunk(id: Types.ObjectId): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { lockedUntil: null } }).exec();
  }

  /** Moves a complete upload to `finalizing`; true for exactly one caller. */
  async claimFinalize(id: Types.ObjectId, size: number): Promise<boolean> {
    const res = await this.model.updateOne({ _id: id, status: 'uploading', received: size, size }, { $set: { status: 'finalizing' } }).exec();
    return res.modifiedCount === 1;
  }

  async markDone(id: Types.ObjectId, fileId: Types.ObjectId): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { status: 'done', fileId, updated: new Date() } }).exec();
  }

  async markUploading(id: Types.ObjectId): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { status: 'uploading' } }).exec();
  }

  async delete(id: Types.ObjectId): Promise<void> {
    await this.model.deleteOne({ _id: id }).exec();
  }

  /** Finished uploads kept for idempotent retries, older than `before`. */
  async deleteDoneBefore(before: Date): Promise<void> {
    await this.model.deleteMany({ status: 'done', updated: { $lt: before } }).exec();
  }
}

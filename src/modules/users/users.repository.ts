import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { FilterQuery, Model, Types, UpdateQuery } from 'mongoose';
import { findPage } from '../../common/find-page';
import { Paging } from '../../common/params';
import { USER_MODEL, UserDoc } from './user.schema';

/** Every query on the `user` collection. */
@Injectable()
export class UsersRepository {
  constructor(@InjectModel(USER_MODEL) private readonly model: Model<UserDoc>) {}

  findById(id: Types.ObjectId): Promise<UserDoc | null> {
    return this.model.findById(id).lean<UserDoc>().exec();
  }

  findByLogin(login: string): Promise<UserDoc | null> {
    return this.model.findOne({ login: login.toLowerCase() }).lean<UserDoc>().exec();
  }

  findByLoginOrEmail(loginOrEmail: string): Promise<UserDoc | null> {
    const key = loginOrEmail.trim().toLowerCase();
    const field = key.includes('@') ? 'email' : 'login';
    return this.model.findOne({ [field]: key }).lean<UserDoc>().exec();
  }

  async insert(doc: Omit<UserDoc, '_id'>): Promise<UserDoc> {
    const created = await this.model.create(doc);
    return created.toObject() as UserDoc;
  }

  /** Applies an update and returns the stored document after it (null when gone). */
  update(id: Types.ObjectId, update: UpdateQuery<UserDoc>): Promise<UserDoc | null> {
    return this.model.findByIdAndUpdate(id, update, { new: true, runValidators: true }).lean<UserDoc>().exec();
  }

  async delete(id: Types.ObjectId): Promise<boolean> {
    return (await this.model.deleteOne({ _id: id })).deletedCount === 1;
  }

  async count(filter: FilterQuery<UserDoc> = {}): Promise<number> {
    return this.model.countDocuments(filter).exec();
  }

  async search(text: string | undefined, page: Paging): Promise<{ users: UserDoc[]; total: number }> {
    const filter: FilterQuery<UserDoc> = {};
    if (text?.trim()) {
      const re = new RegExp(escapeRegExp(text.trim()), 'i');
      filter.$or = [{ login: new RegExp(`^${escapeRegExp(text.trim().toLowerCase())}`) }, { firstName: re }, { lastName: re }];
    }
    const { docs: users, total } = await findPage(this.model, filter, page);
    return { users, total };
  }

  addGroup(userId: Types.ObjectId, groupId: Types.ObjectId): Promise<UserDoc | null> {
    return this.update(userId, { $addToSet: { groups: groupId } });
  }

  removeGroup(userId: Types.ObjectId, groupId: Types.ObjectId): Promise<UserDoc | null> {
    return this.update(userId, { $pull: { groups: groupId } });
  }

  /** Drops a deleted group from every member. */
  async removeGroupFromAll(groupId: Types.ObjectId): Promise<void> {
    await this.model.updateMany({ groups: groupId }, { $pull: { groups: groupId } }).exec();
  }

  async membersOf(groupId: Types.ObjectId, page: Paging): Promise<{ users: UserDoc[]; total: number }> {
    const { docs: users, total } = await findPage(this.model, { groups: groupId }, page);
    return { users, total };
  }

  /** Adds to the total size of a user's tree (sizes change with atomic increments only). */
  async incSize(id: Types.ObjectId, delta: number): Promise<void> {
    if (delta) await this.model.updateOne({ _id: id }, { $inc: { size: delta } }).exec();
  }

  async setSize(id: Types.ObjectId, size: number): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { size } }).exec();
  }

  all(): AsyncIterable<UserDoc> {
    return this.model.find({}).lean<UserDoc>().cursor();
  }

  countAdmins(): Promise<number> {
    return this.model.countDocuments({ admin: true, status: 'enabled' }).exec();
  }
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

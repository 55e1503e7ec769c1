import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { FilterQuery, Model, Types, UpdateQuery } from 'mongoose';
import { driverCollection } from '../../common/driver-collection';
import { findPage } from '../../common/find-page';
import { Paging } from '../../common/params';
import { CredentialCache } from '../auth/credential-cache';
import { USER_MODEL, UserDoc } from './user.schema';

/**
 * Every query on the `user` collection. Each write also makes the CredentialCache forget the users
 * it changed (after the database answered, and also when it failed, as the write may have happened),
 * so that a disabled, demoted, deleted or otherwise changed user is read afresh on the next request.
 * Size changes are the exception: they prove nothing about a credential, and every tree write in a
 * user's tree makes one, so the cache is told the new size instead (`noteSize`).
 */
@Injectable()
export class UsersRepository {
  constructor(
    @InjectModel(USER_MODEL) private readonly model: Model<UserDoc>,
    private readonly cache: CredentialCache,
  ) {}

  findById(id: Types.ObjectId): Promise<UserDoc | null> {
    // authentication loads the token's user: through the driver when the id is typed
    const direct = id instanceof Types.ObjectId ? driverCollection(this.model) : undefined;
    if (direct) return direct.findOne({ _id: id }) as Promise<UserDoc | null>;
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
  async update(id: Types.ObjectId, update: UpdateQuery<UserDoc>): Promise<UserDoc | null> {
    try {
      return await this.model.findByIdAndUpdate(id, update, { new: true, runValidators: true }).lean<UserDoc>().exec();
    } finally {
      this.cache.forgetUser(id);
    }
  }

  async delete(id: Types.ObjectId): Promise<boolean> {
    try {
      return (await this.model.deleteOne({ _id: id })).deletedCount === 1;
    } finally {
      this.cache.forgetUser(id);
    }
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
    try {
      await this.model.updateMany({ groups: groupId }, { $pull: { groups: groupId } }).exec();
    } finally {
      this.cache.forgetMembersOf(groupId);
    }
  }

  async membersOf(groupId: Types.ObjectId, page: Paging): Promise<{ users: UserDoc[]; total: number }> {
    const { docs: users, total } = await findPage(this.model, { groups: groupId }, page);
    return { users, total };
  }

  /** Adds to the total size of a user's tree (sizes change with atomic increments only). */
  async incSize(id: Types.ObjectId, delta: number): Promise<void> {
    if (!delta) return;
    const update = { $inc: { size: delta, sizeVersion: 1 } };
    const options = { returnDocument: 'after' as const, projection: { size: 1, sizeVersion: 1 } };
    let after: Pick<UserDoc, 'size' | 'sizeVersion'> | null;
    try {
      const direct = id instanceof Types.ObjectId ? driverCollection(this.model) : undefined;
      after = direct
        ? ((await direct.findOneAndUpdate({ _id: id }, update, options)) as Pick<UserDoc, 'size' | 'sizeVersion'> | null)
        : await this.model.findOneAndUpdate({ _id: id }, update, { ...options, new: true }).lean<UserDoc>().exec();
    } catch (err) {
      this.cache.forgetUser(id); // it may have happened
      throw err;
    }
    // GET /user/me shows the size: cached copies of the user take the new one
    if (after) this.cache.noteSize(id, after.size, after.sizeVersion ?? 0);
  }

  async setSize(id: Types.ObjectId, size: number): Promise<void> {
    try {
      await this.model.updateOne({ _id: id }, { $set: { size }, $inc: { sizeVersion: 1 } }).exec();
    } finally {
      this.cache.forgetUser(id);
    }
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

import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { FilterQuery, Model, Types, UpdateQuery } from 'mongoose';
import { findPage } from '../../common/find-page';
import { Paging } from '../../common/params';
import { GROUP_MODEL, GroupDoc } from './group.schema';
import { escapeRegExp } from './users.repository';

/** Every query on the `group` collection. */
@Injectable()
export class GroupsRepository {
  constructor(@InjectModel(GROUP_MODEL) private readonly model: Model<GroupDoc>) {}

  findById(id: Types.ObjectId): Promise<GroupDoc | null> {
    return this.model.findById(id).lean<GroupDoc>().exec();
  }

  findByIds(ids: Types.ObjectId[]): Promise<GroupDoc[]> {
    return this.model.find({ _id: { $in: ids } }).lean<GroupDoc[]>().exec();
  }

  findByName(name: string): Promise<GroupDoc | null> {
    return this.model.findOne({ lowerName: name.trim().toLowerCase() }).lean<GroupDoc>().exec();
  }

  async insert(doc: Omit<GroupDoc, '_id'>): Promise<GroupDoc> {
    return (await this.model.create(doc)).toObject() as GroupDoc;
  }

  update(id: Types.ObjectId, update: UpdateQuery<GroupDoc>): Promise<GroupDoc | null> {
    return this.model.findByIdAndUpdate(id, update, { new: true }).lean<GroupDoc>().exec();
  }

  async delete(id: Types.ObjectId): Promise<void> {
    await this.model.deleteOne({ _id: id }).exec();
  }

  /** Groups matching `visible` (an access filter) and an optional name search. */
  async search(visible: FilterQuery<GroupDoc> | null, text: string | undefined, page: Paging): Promise<{ groups: GroupDoc[]; total: number }> {
    const clauses: FilterQuery<GroupDoc>[] = [];
    if (visible) clauses.push(visible);
    if (text?.trim()) clauses.push({ lowerName: new RegExp(escapeRegExp(text.trim().toLowerCase())) });
    const filter = clauses.length ? { $and: clauses } : {};
    const { docs: groups, total } = await findPage(this.model, filter, page);
    return { groups, total };
  }

  /** Removes a user from the moderator/admin entries of every group (the user was deleted). */
  async removeUserFromAll(userId: Types.ObjectId): Promise<void> {
    await this.model.updateMany({ 'access.users.id': userId }, { $pull: { 'access.users': { id: userId } } }).exec();
  }
}

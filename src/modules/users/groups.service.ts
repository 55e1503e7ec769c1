import { Injectable } from '@nestjs/common';
import { Types } from 'mongoose';
import { AuthenticationError, ConflictError, isDuplicateKeyError, NotFoundError, ValidationError } from '../../common/errors';
import { Paging } from '../../common/params';
import { RequestContext } from '../../common/request-context';
import { AccessLevel, isAccessLevel } from '../access/access-level';
import { AccessService, sameId } from '../access/access.service';
import { EventBus } from '../events/event-bus';
import { OnEvent } from '../events/on-event.decorator';
import { AppEvent } from '../events/event-bus';
import { GroupDoc } from './group.schema';
import { GroupsRepository } from './groups.repository';
import { UserDoc } from './user.schema';
import { UsersRepository } from './users.repository';

/**
 * Groups, as Girder: members (stored on the user) have READ on their group; `access.users` names
 * moderators (WRITE: may add and remove members) and group admins (ADMIN: may also edit and delete).
 */
@Injectable()
export class GroupsService {
  constructor(
    private readonly repo: GroupsRepository,
    private readonly users: UsersRepository,
    private readonly access: AccessService,
    private readonly events: EventBus,
  ) {}

  /** The caller's level on a group: the ACL, plus READ for members. */
  levelOf(group: GroupDoc, user: UserDoc | null): AccessLevel {
    const level = this.access.levelOf(group, user);
    const member = user?.groups?.some((g) => sameId(g, group._id));
    return member ? Math.max(level, AccessLevel.READ) : level;
  }

  async load(id: Types.ObjectId, level: AccessLevel): Promise<GroupDoc> {
    const group = await this.repo.findById(id);
    const user = RequestContext.user();
    if (!group) throw new NotFoundError(`Group not found: ${id}`);
    if (this.levelOf(group, user) < level) {
      // a private group a stranger cannot see stays hidden
      if (this.levelOf(group, user) < AccessLevel.READ) throw new NotFoundError(`Group not found: ${id}`);
      this.access.require({}, user, level, `group ${group.name}`);
    }
    return group;
  }

  async create(name: string, description = '', isPublic = false): Promise<GroupDoc> {
    const user = RequestContext.user();
    if (!user) throw new AuthenticationError();
    const clean = cleanName(name);
    const now = new Date();
    const doc: Omit<GroupDoc, '_id'> = {
      name: clean,
      lowerName: clean.toLowerCase(),
      description: description.trim(),
      public: isPublic,
      access: { users: [{ id: user._id, level: AccessLevel.ADMIN }], groups: [] },
      creatorId: user._id,
      created: now,
      updated: now,
    };
    const event = await this.events.trigger('model.group.save', { doc: doc as GroupDoc });
    if (event.defaultPrevented) throw new ConflictError('Group creation was refused by the server.');
    let group: GroupDoc;
    try {
      group = await this.repo.insert(doc);
    } catch (err) {
      if (isDuplicateKeyError(err)) throw new ConflictError('A group with that name already exists.', 'name');
      throw err;
    }
    await this.users.addGroup(user._id, group._id); // the creator is a member
    await this.events.trigger('model.group.save.created', group);
    await this.events.trigger('model.group.save.after', { doc: group });
    return group;
  }

  async update(id: Types.ObjectId, changes: { name?: string; description?: string; public?: boolean }): Promise<GroupDoc> {
    const previous = await this.load(id, AccessLevel.WRITE);
    const set: Partial<GroupDoc> = { updated: new Date() };
    if (changes.name !== undefined) {
      set.name = cleanName(changes.name);
      set.lowerName = set.name.toLowerCase();
    }
    if (changes.description !== undefined) set.description = changes.description.trim();
    if (changes.public !== undefined) set.public = changes.public;
    return this.save(previous, set);
  }

  async delete(id: Types.ObjectId): Promise<void> {
    const group = await this.load(id, AccessLevel.ADMIN);
    const event = await this.events.trigger('model.group.remove', group);
    if (event.defaultPrevented) throw new ConflictError('Deleting this group was refused by the server.');
    await this.users.removeGroupFromAll(group._id);
    await this.repo.delete(group._id);
    await this.events.trigger('model.group.remove.after', group);
  }

  search(text: string | undefined, page: Paging) {
    const user = RequestContext.user();
    let visible = this.access.filterFor(user, AccessLevel.READ);
    if (visible && user?.groups?.length) visible = { $or: [visible, { _id: { $in: user.groups } }] };
    return this.repo.search(visible, text, page);
  }

  async members(id: Types.ObjectId, page: Paging) {
    await this.load(id, AccessLevel.READ);
    return this.users.membersOf(id, page);
  }

  /**
   * Adds a user to a group (moderators and admins of the group may), optionally with a moderator
   * (WRITE) or admin (ADMIN) role; only group admins may grant roles.
   */
  async addMember(id: Types.ObjectId, userId: Types.ObjectId, level: AccessLevel = AccessLevel.READ): Promise<GroupDoc> {
    if (!isAccessLevel(level)) throw new ValidationError('level must be 0 (member), 1 (moderator) or 2 (admin).', 'level');
    const current = (await this.repo.findById(id))?.access.users.find((e) => sameId(e.id, userId))?.level ?? AccessLevel.READ;
    // granting or changing a role (moderator, admin) is for group admins; moderators only add members
    const group = await this.load(id, level > AccessLevel.READ || current > AccessLevel.READ ? AccessLevel.ADMIN : AccessLevel.WRITE);
    const member = await this.users.findById(userId);
    if (!member) throw new NotFoundError(`User not found: ${userId}`);
    await this.users.addGroup(member._id, group._id);
    return this.setRole(group, member._id, level);
  }

  /** Removes a member (group moderators and admins may; anyone may leave). */
  async removeMember(id: Types.ObjectId, userId: Types.ObjectId): Promise<GroupDoc> {
    const user = RequestContext.user();
    const role = (await this.repo.findById(id))?.access.users.find((e) => sameId(e.id, userId))?.level ?? AccessLevel.READ;
    const needed = sameId(user?._id, userId) ? AccessLevel.READ : role > AccessLevel.READ ? AccessLevel.ADMIN : AccessLevel.WRITE;
    const group = await this.load(id, needed);
    await this.users.removeGroup(userId, group._id);
    return this.setRole(group, userId, AccessLevel.READ);
  }

  @OnEvent('model.user.remove.after')
  async onUserRemoved(event: AppEvent<UserDoc>): Promise<void> {
    await this.repo.removeUserFromAll(event.info._id);
  }

  private async setRole(group: GroupDoc, userId: Types.ObjectId, level: AccessLevel): Promise<GroupDoc> {
    const users = group.access.users.filter((e) => !sameId(e.id, userId));
    if (level > AccessLevel.READ) users.push({ id: userId, level });
    if (users.length === group.access.users.length && level <= AccessLevel.READ) return group;
    return this.save(group, { access: { ...group.access, users }, updated: new Date() });
  }

  private async save(previous: GroupDoc, set: Partial<GroupDoc>): Promise<GroupDoc> {
    const doc = { ...previous, ...set };
    const event = await this.events.trigger('model.group.save', { doc, previous });
    if (event.defaultPrevented) throw new ConflictError('This change was refused by the server.');
    let saved: GroupDoc | null;
    try {
      saved = await this.repo.update(previous._id, { $set: set });
    } catch (err) {
      if (isDuplicateKeyError(err)) throw new ConflictError('A group with that name already exists.', 'name');
      throw err;
    }
    if (!saved) throw new NotFoundError(`Group not found: ${previous._id}`);
    await this.events.trigger('model.group.save.after', { doc: saved, previous });
    return saved;
  }
}

function cleanName(name: unknown): string {
  if (typeof name !== 'string' || !name.trim()) throw new ValidationError('Group name must not be empty.', 'name');
  if (name.trim().length > 200) throw new ValidationError('Group name must be at most 200 characters.', 'name');
  return name.trim();
}

import { Injectable } from '@nestjs/common';
import { Types } from 'mongoose';
import { ValidationError } from '../../common/errors';
import { parseJsonParam } from '../../common/params';
import { idString } from '../../common/serialize';
import { AccessList, isAccessLevel } from '../access/access-level';
import { GroupsRepository } from '../users/groups.repository';
import { UsersRepository } from '../users/users.repository';

/** Reads and shows ACLs in Girder's JSON shape, checking that every user and group exists. */
@Injectable()
export class AccessParam {
  constructor(
    private readonly users: UsersRepository,
    private readonly groups: GroupsRepository,
  ) {}

  async parse(value: unknown): Promise<AccessList> {
    const raw = parseJsonParam<unknown>(value, 'access');
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ValidationError('access must be a JSON object with users and groups lists.', 'access');
    const out: AccessList = { users: [], groups: [] };
    for (const kind of ['users', 'groups'] as const) {
      const list = (raw as Record<string, unknown>)[kind] ?? [];
      if (!Array.isArray(list)) throw new ValidationError(`access.${kind} must be a list.`, 'access');
      for (const entry of list) {
        const id = (entry as { id?: unknown })?.id;
        const level = (entry as { level?: unknown })?.level;
        if (typeof id !== 'string' || !/^[0-9a-f]{24}$/i.test(id)) throw new ValidationError(`access.${kind} has an invalid id.`, 'access');
        if (!isAccessLevel(level)) throw new ValidationError(`access.${kind} levels must be 0, 1 or 2.`, 'access');
        const oid = new Types.ObjectId(id);
        const exists = kind === 'users' ? await this.users.findById(oid) : await this.groups.findById(oid);
        if (!exists) throw new ValidationError(`access.${kind} names an unknown ${kind === 'users' ? 'user' : 'group'}: ${id}`, 'access');
        const existing = out[kind].find((e) => e.id.equals(oid));
        if (existing) existing.level = Math.max(existing.level, level);
        else out[kind].push({ id: oid, level });
      }
    }
    return out;
  }

  /** The ACL with names, as Girder's `GET …/access` answers. */
  async show(access: AccessList) {
    const users = [];
    for (const e of access.users) {
      const u = await this.users.findById(e.id);
      users.push({ id: idString(e.id), level: e.level, login: u?.login ?? null, name: u ? `${u.firstName} ${u.lastName}` : null, flags: [] });
    }
    const groupDocs = await this.groups.findByIds(access.groups.map((g) => g.id));
    const groups = access.groups.map((e) => ({
      id: idString(e.id),
      level: e.level,
      name: groupDocs.find((g) => g._id.equals(e.id))?.name ?? null,
      flags: [],
    }));
    return { users, groups };
  }
}

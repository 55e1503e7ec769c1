import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AccessService } from '../access/access.service';
import { AppConfig } from '../config/app-config';
import type { FileDoc } from '../tree/schemas/file.schema';
import type { ItemDoc } from '../tree/schemas/item.schema';
import { GroupsRepository } from '../users/groups.repository';
import type { UserDoc } from '../users/user.schema';
import { Acl, inherit, NameAcl } from './hatrac-acl';
import { HatracDirectory } from './hatrac-directory';
import { conflict, HatracError, notFound } from './hatrac-errors';
import { HatracTree } from './hatrac-tree';
import { ROOT } from './hatrac-url';
import type { HatracNameDoc, HatracVersionInfo } from './hatrac.schema';

export const PREFIX = '/hatrac';

/** Who is asking: the user (null when anonymous) and the roles ACLs match against. */
export interface Caller {
  user: UserDoc | null;
  roles: ReadonlySet<string>;
}

export interface ResolvedName {
  doc: HatracNameDoc;
  acl: NameAcl;
}

export type VersionFile = FileDoc & { hatrac: HatracVersionInfo };

export interface ResolvedObject extends ResolvedName {
  item: ItemDoc;
}

/** Finding names, versions and their ACLs, and deciding with AccessService. */
@Injectable()
export class HatracResolver {
  constructor(
    private readonly directory: HatracDirectory,
    private readonly tree: HatracTree,
    private readonly groups: GroupsRepository,
    private readonly access: AccessService,
    private readonly config: AppConfig,
  ) {}

  async caller(user: UserDoc | null): Promise<Caller> {
    if (!user) return { user, roles: new Set(['*']) };
    const groups = user.groups?.length ? await this.groups.findByIds(user.groups) : [];
    return { user, roles: new Set([user.login, ...groups.map((g) => `g:${g.name}`), '*']) };
  }

  /** Passes when one of the caller's roles is in one of `lists` (401 anonymous, 403 otherwise). */
  require(caller: Caller, lists: (readonly string[] | undefined)[], what: string): void {
    this.access.requireRole(caller.user, caller.roles, lists, what);
  }

  allows(caller: Caller, lists: (readonly string[] | undefined)[]): boolean {
    return this.access.hasRole(caller.user, caller.roles, lists);
  }

  /** The service-wide firewall, checked before anything else. */
  firewall(caller: Caller, kind: keyof AppConfig['hatrac']['firewall']): void {
    this.require(caller, [this.config.hatrac.firewall[kind]], `${kind.replace('_', ' ')} here (service firewall)`);
  }

  /** A live name with its ACLs; 404 when it, or an ancestor, is missing or deleted. */
  async name(name: string): Promise<ResolvedName> {
    const { doc, ancestors } = await this.directory.withAncestors(name);
    if (!doc || doc.deleted || ancestors.some((a) => !a || a.deleted)) throw notFound(`Name ${name}`);
    return { doc, acl: this.aclOf(doc, ancestors as HatracNameDoc[]) };
  }

  /** The name if live, else null; also reports a deleted name (never reusable). */
  async lookup(name: string): Promise<{ live: ResolvedName | null; deleted: boolean }> {
    const { doc, ancestors } = await this.directory.withAncestors(name);
    if (!doc) return { live: null, deleted: false };
    if (doc.deleted) return { live: null, deleted: true };
    if (ancestors.some((a) => !a || a.deleted)) return { live: null, deleted: true };
    return { live: { doc, acl: this.aclOf(doc, ancestors as HatracNameDoc[]) }, deleted: false };
  }

  aclOf(doc: HatracNameDoc, ancestors: HatracNameDoc[]): NameAcl {
    const own = (d: HatracNameDoc): Acl => (d._id === ROOT ? this.tree.rootAcl(d.acl) : d.acl);
    return { own: own(doc), inherited: inherit(ancestors.map(own)) };
  }

  async object(name: string): Promise<ResolvedObject> {
    return this.objectOf(await this.name(name));
  }

  /** The object a name resolved to (404 when it is a namespace), with its item. */
  async objectOf(resolved: ResolvedName): Promise<ResolvedObject> {
    if (resolved.doc.kind !== 'object') throw notFound(`Object ${resolved.doc._id}`);
    const item = await this.tree.itemOf(resolved.doc);
    if (!item) throw notFound(`Object ${resolved.doc._id}`);
    return { ...resolved, item };
  }

  versions(object: ResolvedObject): Promise<VersionFile[]> {
    return this.tree.versions(object.item);
  }

  async version(object: ResolvedObject, version: string): Promise<VersionFile> {
    const found = (await this.versions(object)).find((v) => v.hatrac.version === version);
    if (!found) throw notFound(`Version ${version} of ${object.doc._id}`);
    return found;
  }

  /** The current (newest live) version; 409 when the object has none. */
  async current(object: ResolvedObject): Promise<VersionFile> {
    const [newest] = await this.versions(object);
    if (!newest) throw conflict(`Object ${object.doc._id} has no content.`);
    return newest;
  }

  /** Follows rename forwarders to the version that holds the bytes; 409 when the target is gone. */
  async follow(object: ResolvedObject, file: VersionFile): Promise<{ object: ResolvedObject; file: VersionFile }> {
    let current = { object, file };
    for (let hops = 0; current.file.hatrac.renameTo; hops++) {
      if (hops > 64) throw conflict('Rename chain too long.');
      const [name, version] = current.file.hatrac.renameTo;
      try {
        const target = await this.object(name);
        current = { object: target, file: await this.version(target, version) };
      } catch (err) {
        if (err instanceof HatracError && err.status === 404) throw conflict(`The renamed content of ${object.doc._id} no longer exists at ${name}.`);
        throw err;
      }
    }
    return current;
  }
}

export function urlOf(name: string, version?: string): string {
  const path = name === ROOT ? '/' : name;
  return `${PREFIX}${path}${version ? `:${version}` : ''}`;
}

/** 128 random bits in base32 without padding: 26 characters of A–Z and 2–7 (Hatrac's version ids). */
export function newVersionId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = randomBytes(16);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

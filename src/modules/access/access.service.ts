import { Injectable } from '@nestjs/common';
import type { Types } from 'mongoose';
import { AccessDeniedError, AuthenticationError } from '../../common/errors';
import type { UserDoc } from '../users/user.schema';
import { AccessControlled, AccessLevel, LEVEL_NAMES } from './access-level';

/**
 * Every access decision of the platform (DESIGN §3): REST, WebDAV, Hatrac and the web UI ask here.
 * Rules, as Girder: `public` grants READ to everyone; site admins have ADMIN everywhere; otherwise
 * the highest of the user's own entry and the entries of the groups the user belongs to.
 */
@Injectable()
export class AccessService {
  /** The level `user` has on an access-controlled document. */
  levelOf(doc: AccessControlled, user: UserDoc | null): AccessLevel {
    if (user?.admin) return AccessLevel.ADMIN;
    let level = doc.public ? AccessLevel.READ : AccessLevel.NONE;
    if (!user) return level;
    for (const entry of doc.access?.users ?? []) {
      if (sameId(entry.id, user._id)) level = Math.max(level, entry.level);
    }
    const groups = user.groups ?? [];
    for (const entry of doc.access?.groups ?? []) {
      if (groups.some((g) => sameId(g, entry.id))) level = Math.max(level, entry.level);
    }
    return level;
  }

  has(doc: AccessControlled, user: UserDoc | null, level: AccessLevel): boolean {
    return this.levelOf(doc, user) >= level;
  }

  /** Throws 401 for an anonymous caller and 403 for a known one lacking `level`. */
  require(doc: AccessControlled, user: UserDoc | null, level: AccessLevel, what: string): void {
    if (this.has(doc, user, level)) return;
    if (!user) throw new AuthenticationError(`You must be logged in to access this ${what}.`);
    throw new AccessDeniedError(`${LEVEL_NAMES[level]} access denied for ${what}.`);
  }

  /**
   * Role-based ACLs (Hatrac's): passes when one of the caller's `roles` is in any of `lists`, or
   * the caller is a site admin. Throws 401 for an anonymous caller and 403 for a known one.
   */
  requireRole(user: UserDoc | null, roles: ReadonlySet<string>, lists: Iterable<readonly string[] | undefined>, what: string): void {
    if (this.hasRole(user, roles, lists)) return;
    if (!user) throw new AuthenticationError(`You must be logged in to ${what}.`);
    throw new AccessDeniedError(`You may not ${what}.`);
  }

  hasRole(user: UserDoc | null, roles: ReadonlySet<string>, lists: Iterable<readonly string[] | undefined>): boolean {
    if (user?.admin) return true;
    for (const list of lists) if (list?.some((role) => roles.has(role))) return true;
    return false;
  }

  /**
   * A MongoDB filter matching the documents on which `user` has at least `level`, so listings are
   * filtered by the database, not in memory. `null` means "no restriction" (site admins). `prefix`
   * addresses the ACL of a joined document (items are filtered by their folder's ACL).
   */
  filterFor(user: UserDoc | null, level: AccessLevel, prefix = ''): Record<string, unknown> | null {
    if (user?.admin) return null;
    const clauses: Record<string, unknown>[] = [];
    if (level <= AccessLevel.READ) clauses.push({ [`${prefix}public`]: true });
    if (user) {
      clauses.push({ [`${prefix}access.users`]: { $elemMatch: { id: user._id, level: { $gte: level } } } });
      if (user.groups?.length) {
        clauses.push({ [`${prefix}access.groups`]: { $elemMatch: { id: { $in: user.groups }, level: { $gte: level } } } });
      }
    }
    return clauses.length ? { $or: clauses } : { _id: { $exists: false } };
  }

  /** Site admin, or the user themselves. */
  requireSelfOrAdmin(target: { _id: Types.ObjectId }, user: UserDoc | null, what = 'user'): void {
    if (!user) throw new AuthenticationError();
    if (user.admin || sameId(user._id, target._id)) return;
    throw new AccessDeniedError(`Only the ${what} or a site administrator may do this.`);
  }

  requireAdmin(user: UserDoc | null): void {
    if (!user) throw new AuthenticationError();
    if (!user.admin) throw new AccessDeniedError('Administrator access required.');
  }
}

export function sameId(a: Types.ObjectId | string | null | undefined, b: Types.ObjectId | string | null | undefined): boolean {
  return a != null && b != null && String(a) === String(b);
}

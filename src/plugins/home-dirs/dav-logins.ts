import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { Types } from 'mongoose';
import { RecentEntries } from '../../common/recent-entries';
import { CredentialCache } from '../../modules/auth/credential-cache';
import type { UserDoc } from '../../modules/users/user.schema';
import { UsersRepository } from '../../modules/users/users.repository';

interface Entry {
  login: string;
  userId: Types.ObjectId;
  user: UserDoc;
  /** When this entry stops being trusted without a full login again (ms since the epoch). */
  until: number;
  /** The CredentialCache generation the user document was read under. */
  generation: number;
}

/**
 * WebDAV logins (login + WebDAV password) verified recently, so that the requests a WebDAV client
 * sends one after another cost no database round trip to authenticate (five before: the user by
 * login, two login-throttle counters, the WebDAV password record). Only WebDAV-password logins
 * are kept, never `token:`/`key:` ones (those go through AuthService every time).
 *
 * Invalidation follows the CredentialCache (modules/auth/credential-cache.ts) and reuses its hooks:
 * - every write to the `user` collection in this process (user changed, disabled, deleted, login
 *   or groups changed) makes the CredentialCache forget, which bumps its `generation()`; an entry
 *   read under another generation is not trusted as it is: its user is read again by id (one query)
 *   and the entry is dropped unless the user is still enabled under the same login. (The generation
 *   moves for any user or token: then a request costs that one query. Size changes do not move it:
 *   copies handed out take the newest size from the CredentialCache.)
 * - setting or removing a WebDAV password in this process calls `forgetUser`, which also bumps
 *   this cache's own generation, so a lookup that was reading the user meanwhile stores nothing;
 * - a failed WebDAV login for a login drops its entries (its next request meets the throttle again);
 * - writes this process does not see (another instance, a manual edit) and a lockout counted by
 *   another instance take effect when the entry's TTL (`CredentialCache.TTL_MS`) runs out. An entry
 *   proves this exact secret was right within the TTL, so it gives a password guesser nothing.
 * Entries are keyed by the SHA-256 of login and password, never the password; at most
 * `CredentialCache.MAX_ENTRIES` are kept.
 */
@Injectable()
export class DavLoginCache {
  private readonly entries = new RecentEntries<Entry>(CredentialCache.MAX_ENTRIES);

  constructor(
    private readonly credentials: CredentialCache,
    private readonly users: UsersRepository,
  ) {}

  /** The current generations; pass them to `set` for what a full login answered after this call. */
  generation(): { own: number; credentials: number } {
    return { own: this.entries.generation(), credentials: this.credentials.generation() };
  }

  /** A copy of the enabled user this login and password verified as within the TTL, or null (then log in fully). */
  async get(login: string, password: string, now = Date.now()): Promise<UserDoc | null> {
    const key = keyOf(login, password);
    const entry = this.entries.get(key, now);
    if (!entry) return null;
    if (entry.generation !== this.credentials.generation()) {
      // some user or token changed in this process since: this user is read again
      const before = this.generation();
      const user = await this.users.findById(entry.userId);
      if (this.entries.get(key, now) !== entry || before.own !== this.entries.generation()) return null;
      if (!user || user.status !== 'enabled' || user.login !== entry.login) {
        this.entries.delete(key);
        return null;
      }
      entry.user = copy(user);
      entry.generation = before.credentials;
    }
    return this.credentials.withNewestSize(copy(entry.user));
  }

  /** Stores a login whose WebDAV password verified, for an enabled user, unless something was forgotten since `generation`. */
  set(login: string, password: string, user: UserDoc, generation: { own: number; credentials: number }, now = Date.now()): void {
    if (user.status !== 'enabled' || user.login !== login) return;
    const entry: Entry = { login, userId: user._id, user: copy(user), until: now + CredentialCache.TTL_MS, generation: generation.credentials };
    this.entries.store(keyOf(login, password), entry, generation.own);
  }

  /** A user's WebDAV password was set or removed (or the user went). */
  forgetUser(userId: Types.ObjectId): void {
    const id = String(userId);
    this.forgetWhere((e) => String(e.userId) === id);
  }

  /** A login failed for this login name. */
  forgetLogin(login: string): void {
    const lower = login.trim().toLowerCase();
    this.forgetWhere((e) => e.login.toLowerCase() === lower);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private forgetWhere(match: (entry: Entry) => boolean): void {
    this.entries.forgetWhere(match);
  }
}

function keyOf(login: string, password: string): string {
  return createHash('sha256').update(`${login}\0${password}`).digest('hex');
}

// a caller changing its request's user must not change the cache
function copy(user: UserDoc): UserDoc {
  return { ...user, groups: [...(user.groups ?? [])] };
}

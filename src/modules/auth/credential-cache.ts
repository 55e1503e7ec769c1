import { Injectable } from '@nestjs/common';
import type { Types } from 'mongoose';
import { RecentEntries } from '../../common/recent-entries';
import type { UserDoc } from '../users/user.schema';
import type { TokenDoc } from './token.schema';

interface Entry {
  token: TokenDoc;
  user: UserDoc;
  /** When this entry stops being trusted without asking the database again (ms since the epoch). */
  until: number;
  /** Ids as strings, for invalidation. */
  tokenId: string;
  userId: string;
  apiKeyId: string | null;
  groups: string[];
}

/**
 * Tokens verified recently, with their (enabled) user, so that a request with a token it has just
 * used costs no database round trip to authenticate (two before: the token by hash, then its user).
 *
 * Invalidation, so that the cache never makes a credential outlive its revocation in this process:
 * - every write to the `token` collection goes through TokensRepository and every write to the
 *   `user` collection through UsersRepository; each of their writes (token deleted, user updated,
 *   disabled, deleted, group membership changed) calls `forget*` after the database has answered,
 *   so the next request asks the database again;
 * - a change of a user's `size` (every write in the user's tree makes one) is no reason to
 *   authenticate again: UsersRepository reports the size the database answered with its
 *   `sizeVersion` (`noteSize`), and copies handed out carry the newest size seen for their user,
 *   whatever order the answers of concurrent changes arrive in;
 * - a lookup that was reading the database while such a write completed must not store what it
 *   read (it may predate the write): `set` takes the `generation()` read before the lookup started,
 *   and every `forget*` bumps the generation, so such an entry is dropped instead of stored;
 * - `expires` is checked on every hit, as on every database lookup; only enabled users are stored;
 * - writes this process does not see (another server instance on the same MongoDB, a manual edit of
 *   the database) are picked up when the entry's TTL (`TTL_MS`, 5 s) runs out: that is the bound
 *   on how long a token revoked elsewhere keeps working here.
 * Entries hold the SHA-256 of the secret, never the secret; at most `MAX_ENTRIES` are kept.
 */
@Injectable()
export class CredentialCache {
  static readonly TTL_MS = 5_000;
  static readonly MAX_ENTRIES = 10_000;

  private readonly entries = new RecentEntries<Entry>(CredentialCache.MAX_ENTRIES);
  /** The newest size seen per user (by `sizeVersion`), for users with entries here or in DavLoginCache. */
  private readonly sizes = new Map<string, { size: number; version: number }>();

  /** A copy of the cached token and user for a token hash, or null (unknown, stale or expired). */
  get(hash: string, now = Date.now()): { token: TokenDoc; user: UserDoc } | null {
    const entry = this.entries.get(hash, now);
    if (!entry) return null;
    if (entry.token.expires.getTime() <= now) {
      this.entries.delete(hash);
      return null;
    }
    // copies: a caller changing its request's user or token must not change the cache
    return {
      token: { ...entry.token, scope: [...entry.token.scope] },
      user: this.withNewestSize({ ...entry.user, groups: [...(entry.user.groups ?? [])] }),
    };
  }

  /** A user's size as the database answered a change of it (`sizeVersion` after the change). */
  noteSize(userId: Types.ObjectId, size: number, version: number): void {
    const id = String(userId);
    const known = this.sizes.get(id);
    if (known && known.version >= version) return;
    if (!known && this.sizes.size >= 2 * CredentialCache.MAX_ENTRIES) this.sizes.clear(); // entries then show the size they were read with
    this.sizes.set(id, { size, version });
  }

  /** `user` (a copy the caller owns) with the newest size seen for it. */
  withNewestSize(user: UserDoc): UserDoc {
    const known = this.sizes.get(String(user._id));
    if (known && known.version > (user.sizeVersion ?? 0)) {
      user.size = known.size;
      user.sizeVersion = known.version;
    }
    return user;
  }

  /** The current generation; pass it to `set` for what the database answered after this call. */
  generation(): number {
    return this.entries.generation();
  }

  /** Stores a verified token and its enabled user, unless something was forgotten since `generation`. */
  set(hash: string, token: TokenDoc, user: UserDoc, generation: number, now = Date.now()): void {
    if (user.status !== 'enabled') return;
    const entry: Entry = {
      token: { ...token, scope: [...token.scope] },
      user: { ...user, groups: [...(user.groups ?? [])] },
      until: now + CredentialCache.TTL_MS,
      tokenId: String(token._id),
      userId: String(user._id),
      apiKeyId: token.apiKeyId ? String(token.apiKeyId) : null,
      groups: (user.groups ?? []).map(String),
    };
    if (this.entries.store(hash, entry, generation)) this.noteSize(user._id, user.size, user.sizeVersion ?? 0);
  }

  /** A token was deleted. */
  forgetToken(tokenId: Types.ObjectId): void {
    const id = String(tokenId);
    this.forgetWhere((e) => e.tokenId === id);
  }

  /** Tokens of a user were deleted (all but `except`, which stays valid). */
  forgetTokensOfUser(userId: Types.ObjectId, except?: Types.ObjectId): void {
    const id = String(userId);
    const kept = except ? String(except) : null;
    // the token's user is the entry's user (the lookup loads the user the token names)
    this.forgetWhere((e) => e.userId === id && e.tokenId !== kept);
  }

  /** Tokens made from an API key were deleted. */
  forgetTokensOfApiKey(apiKeyId: Types.ObjectId): void {
    const id = String(apiKeyId);
    this.forgetWhere((e) => e.apiKeyId === id);
  }

  /** A user was changed or deleted. */
  forgetUser(userId: Types.ObjectId): void {
    const id = String(userId);
    this.sizes.delete(id);
    this.forgetWhere((e) => e.userId === id);
  }

  /** Users in a group changed (the group was deleted). */
  forgetMembersOf(groupId: Types.ObjectId): void {
    const id = String(groupId);
    this.forgetWhere((e) => e.groups.includes(id));
  }

  clear(): void {
    this.entries.clear();
    this.sizes.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private forgetWhere(match: (entry: Entry) => boolean): void {
    this.entries.forgetWhere(match);
  }
}

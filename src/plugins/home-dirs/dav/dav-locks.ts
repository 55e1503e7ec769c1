import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { randomUUID } from 'node:crypto';
import { Model, Schema, Types } from 'mongoose';
import { driverCollection } from '../../../common/driver-collection';
import { isDuplicateKeyError } from '../../../common/errors';

/**
 * A WebDAV write lock (collection `dav_lock`). Held in the database, so locks survive a restart
 * and hold across instances; enforced by lock token (RFC 4918), not by user.
 */
export interface DavLockDoc {
  _id: string; // the lock token, `opaquelocktoken:<uuid>`
  /** Decoded path of the lock root, without a trailing slash, e.g. `/homes/alice/report.txt`. */
  path: string;
  depth: 0 | 'infinity';
  scope: 'exclusive' | 'shared';
  /** The client's `<D:owner>` content, as XML, returned unchanged. */
  owner: string;
  userId: Types.ObjectId;
  timeoutSeconds: number;
  expires: Date;
  created: Date;
}

export const DAV_LOCK_MODEL = 'dav_lock';
export const DavLockSchema = new Schema<DavLockDoc>(
  {
    _id: { type: String, required: true },
    path: { type: String, required: true },
    depth: { type: Schema.Types.Mixed, required: true },
    scope: { type: String, enum: ['exclusive', 'shared'], required: true },
    owner: { type: String, default: '' },
    userId: { type: Schema.Types.ObjectId, required: true },
    timeoutSeconds: { type: Number, required: true },
    expires: { type: Date, required: true },
    created: { type: Date, required: true },
  },
  { collection: 'dav_lock', versionKey: false },
);
DavLockSchema.index({ path: 1 });
DavLockSchema.index({ expires: 1 }, { expireAfterSeconds: 0 });

export const MAX_LOCK_SECONDS = 3600;

/** The ancestors of a path, root first, and the path itself: `/a/b` → `/`, `/a`, `/a/b`. */
export function pathAndAncestors(p: string): string[] {
  const parts = p.split('/').filter(Boolean);
  const out = ['/'];
  for (let i = 1; i <= parts.length; i++) out.push(`/${parts.slice(0, i).join('/')}`);
  return out;
}

/** Whether a lock's scope includes `p`: it is rooted there, or at an ancestor with depth infinity. */
export function covers(lock: DavLockDoc, p: string): boolean {
  return lock.path === p || (lock.depth === 'infinity' && p.startsWith(lock.path === '/' ? '/' : `${lock.path}/`));
}

/** Whether a lock is rooted strictly below `p`. */
export function isBelow(lock: DavLockDoc, p: string): boolean {
  return lock.path !== p && lock.path.startsWith(p === '/' ? '/' : `${p}/`);
}

/** Every query on `dav_lock`. Expiry is checked on every read (a TTL index only tidies up). */
@Injectable()
export class DavLocks {
  /** Per request: paths whose lock check found no lock rooted at them or below (`noteNoneAt`). */
  private readonly lockFree = new WeakMap<object, Set<string>>();

  constructor(@InjectModel(DAV_LOCK_MODEL) private readonly model: Model<DavLockDoc>) {}

  /** Locks whose scope includes `p`: on it, or depth-infinity on an ancestor. */
  async covering(p: string): Promise<DavLockDoc[]> {
    return (await this.onPathOrAbove(p)).filter((l) => l.path === p || l.depth === 'infinity');
  }

  /** Every lock rooted at `p` or an ancestor of it, whatever its depth (one query for `covering` of `p` and of its parent). */
  onPathOrAbove(p: string): Promise<DavLockDoc[]> {
    return this.model.find({ path: { $in: pathAndAncestors(p) }, expires: { $gt: new Date() } }).lean<DavLockDoc[]>().exec();
  }

  /**
   * In one query, every lock a write may need the token of: rooted at one of `paths` or at an
   * ancestor of one (whatever its depth), or strictly below one of `subtrees`.
   */
  around(paths: string[], subtrees: string[]): Promise<DavLockDoc[]> {
    const clauses: Record<string, unknown>[] = [{ path: { $in: [...new Set(paths.flatMap(pathAndAncestors))] } }];
    for (const p of subtrees) clauses.push({ path: new RegExp(`^${escapeRegExp(p === '/' ? '/' : `${p}/`)}`) });
    // every WebDAV write asks: through the driver (the same query and lean documents, nothing to cast)
    const direct = driverCollection(this.model);
    if (direct) return direct.find({ $or: clauses, expires: { $gt: new Date() } }).toArray() as unknown as Promise<DavLockDoc[]>;
    return this.model.find({ $or: clauses, expires: { $gt: new Date() } }).lean<DavLockDoc[]>().exec();
  }

  /** Locks rooted strictly below `p` (a DELETE or MOVE of `p` needs their tokens too). */
  below(p: string): Promise<DavLockDoc[]> {
    const prefix = p === '/' ? '/' : `${p}/`;
    return this.model.find({ path: new RegExp(`^${escapeRegExp(prefix)}`), expires: { $gt: new Date() } }).lean<DavLockDoc[]>().exec();
  }

  /** Locks rooted at `p` exactly (shown in PROPFIND's lockdiscovery). */
  at(paths: string[]): Promise<DavLockDoc[]> {
    return this.model.find({ path: { $in: paths }, expires: { $gt: new Date() } }).lean<DavLockDoc[]>().exec();
  }

  find(token: string): Promise<DavLockDoc | null> {
    return this.model.findOne({ _id: token, expires: { $gt: new Date() } }).lean<DavLockDoc>().exec();
  }

  async create(input: Omit<DavLockDoc, '_id' | 'expires' | 'created'>): Promise<DavLockDoc> {
    const now = new Date();
    for (;;) {
      try {
        const doc = { ...input, _id: `opaquelocktoken:${randomUUID()}`, created: now, expires: new Date(now.getTime() + input.timeoutSeconds * 1000) };
        return (await this.model.create(doc)).toObject() as DavLockDoc;
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
      }
    }
  }

  refresh(token: string, timeoutSeconds: number): Promise<DavLockDoc | null> {
    return this.model
      .findOneAndUpdate({ _id: token, expires: { $gt: new Date() } }, { $set: { timeoutSeconds, expires: new Date(Date.now() + timeoutSeconds * 1000) } }, { new: true })
      .lean<DavLockDoc>()
      .exec();
  }

  async remove(token: string): Promise<boolean> {
    return (await this.model.deleteOne({ _id: token }).exec()).deletedCount === 1;
  }

  /** `request`'s lock check found no lock rooted at `p` or below it. */
  noteNoneAt(request: object, p: string): void {
    let paths = this.lockFree.get(request);
    if (!paths) this.lockFree.set(request, (paths = new Set()));
    paths.add(p);
  }

  /**
   * Drops the locks of a path and everything below it (the resource is gone). Nothing to drop when
   * the lock check of `request` (the DELETE or MOVE itself) found none there: the write needed the
   * token of every such lock, so a lock made there since raced with this request.
   */
  async removeTree(p: string, request?: object): Promise<void> {
    if (request && this.lockFree.get(request)?.has(p)) return;
    const prefix = p === '/' ? '/' : `${p}/`;
    await this.model.deleteMany({ $or: [{ path: p }, { path: new RegExp(`^${escapeRegExp(prefix)}`) }] }).exec();
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

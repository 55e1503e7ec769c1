import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { randomUUID } from 'node:crypto';
import { Model, Schema, Types } from 'mongoose';
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

/** Every query on `dav_lock`. Expiry is checked on every read (a TTL index only tidies up). */
@Injectable()
export class DavLocks {
  constructor(@InjectModel(DAV_LOCK_MODEL) private readonly model: Model<DavLockDoc>) {}

  /** Locks whose scope includes `p`: on it, or depth-infinity on an ancestor. */
  async covering(p: string): Promise<DavLockDoc[]> {
    return (await this.onPathOrAbove(p)).filter((l) => l.path === p || l.depth === 'infinity');
  }

  /** Every lock rooted at `p` or an ancestor of it, whatever its depth (one query for `covering` of `p` and of its parent). */
  onPathOrAbove(p: string): Promise<DavLockDoc[]> {
    return this.model.find({ path: { $in: pathAndAncestors(p) }, expires: { $gt: new Date() } }).lean<DavLockDoc[]>().exec();
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

  /** Drops the locks of a path and everything below it (the resource is gone). */
  async removeTree(p: string): Promise<void> {
    const prefix = p === '/' ? '/' : `${p}/`;
    await this.model.deleteMany({ $or: [{ path: p }, { path: new RegExp(`^${escapeRegExp(prefix)}`) }] }).exec();
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

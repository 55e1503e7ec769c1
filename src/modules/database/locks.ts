import { Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { isDuplicateKeyError } from '../../common/errors';

interface LockDoc {
  _id: string;
  owner: string;
  expires: Date;
}

const LEASE_MS = 60_000;
const WAIT_MS = 30_000;

/**
 * Short mutual exclusion shared by every instance on one database (collection `lock`): the holder
 * inserts a document under the unique `_id`; a lease lets a crashed holder's lock be taken over.
 * Used where two steps must not interleave, e.g. "is this blob still referenced?" and "delete it".
 */
@Injectable()
export class DbLocks {
  /** Locks held by the current async call chain: taking one again there runs at once (re-entrant). */
  private readonly held = new AsyncLocalStorage<Set<string>>();

  constructor(@InjectConnection() private readonly connection: Connection) {}

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const mine = this.held.getStore();
    if (mine?.has(key)) return fn();
    const locks = this.connection.collection<LockDoc>('lock');
    const owner = randomUUID();
    const deadline = Date.now() + WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await locks.insertOne({ _id: key, owner, expires: new Date(Date.now() + LEASE_MS) });
        break;
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        await locks.deleteOne({ _id: key, expires: { $lt: new Date() } }); // a crashed holder's lease ran out
        if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${key}`);
        await new Promise((r) => setTimeout(r, Math.min(5 * 2 ** attempt, 100)));
      }
    }
    try {
      return await this.held.run(new Set([...(mine ?? []), key]), fn);
    } finally {
      await locks.deleteOne({ _id: key, owner });
    }
  }
}

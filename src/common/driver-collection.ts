import type { Collection } from 'mongodb';
import type { Model } from 'mongoose';

const cache = new WeakMap<Model<any>, Collection>();

/**
 * The MongoDB driver's collection behind a mongoose model, for the hot read paths (authentication,
 * a folder's children, path lookups): the same query and the same lean documents as
 * `model.find(...).lean()`, without mongoose's per-query work (filter casting, option merging, a
 * captured stack per `exec`), which cost about as much CPU as the driver call itself. Callers pass
 * filters that are already typed (ObjectIds, not strings): nothing is cast. No schema of this
 * project has query middleware, so none is skipped. Undefined until the connection is open
 * (callers then fall back to mongoose, which buffers).
 */
export function driverCollection<T>(model: Model<T>): Collection | undefined {
  let collection = cache.get(model);
  if (!collection) {
    const db = model.db?.db;
    if (!db) return undefined;
    collection = db.collection(model.collection.collectionName);
    cache.set(model, collection);
  }
  return collection;
}

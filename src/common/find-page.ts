import type { Filter, Document, FindOptions } from 'mongodb';
import type { FilterQuery, Model } from 'mongoose';
import { driverCollection } from './driver-collection';
import type { Paging } from './params';

/**
 * One page of a listing and the total for `Girder-Total-Count`: the shape every listing shares.
 * `countFilter` differs from `filter` only for keyset paging (the total counts the whole listing).
 */
export async function findPage<T>(model: Model<T>, filter: FilterQuery<T>, page: Paging, countFilter: FilterQuery<T> = filter): Promise<{ docs: T[]; total: number }> {
  const query = model.find(filter).sort(page.sort).skip(page.offset);
  if (page.limit) query.limit(page.limit);
  const [docs, total] = await Promise.all([query.lean<T[]>().exec(), model.countDocuments(countFilter).exec()]);
  return { docs, total };
}

/**
 * `findPage` through the driver (see `driverCollection`), for the hot listings (a folder's items and
 * child folders): the same two queries, in parallel, with filters that need no casting.
 */
export async function findPageDirect<T>(model: Model<T>, filter: FilterQuery<T>, page: Paging, countFilter: FilterQuery<T> = filter): Promise<{ docs: T[]; total: number }> {
  const collection = driverCollection(model);
  if (!collection) return findPage(model, filter, page, countFilter);
  const options: FindOptions = { sort: page.sort, skip: page.offset };
  if (page.limit) options.limit = page.limit;
  const [docs, total] = await Promise.all([
    collection.find(filter as Filter<Document>, options).toArray() as Promise<T[]>,
    collection.countDocuments(countFilter as Filter<Document>),
  ]);
  return { docs, total };
}

import type { FilterQuery, Model } from 'mongoose';
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

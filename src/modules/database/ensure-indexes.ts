import type { Connection } from 'mongoose';

/**
 * Builds every index the schemas declare, one model after another. Run once at start-up, before
 * the server listens; any failure is an error, so the server never runs on a missing unique index.
 */
export async function ensureIndexes(connection: Connection): Promise<void> {
  for (const model of Object.values(connection.models)) {
    try {
      await model.createIndexes();
    } catch (err) {
      throw new Error(`could not create the indexes of collection ${model.collection.name}: ${(err as Error).message}`);
    }
  }
}

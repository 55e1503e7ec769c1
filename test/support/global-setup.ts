import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startDatabase } from '../../src/modules/database/database-process';
import { testCacheDir } from './paths';

/**
 * One database server for the whole run (each suite takes a fresh database in it): the embedded
 * server of DESIGN §9, or the server named by MONGO_URI when it is set.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.MONGO_URI) {
    process.env.TEST_MONGO_URI = process.env.MONGO_URI;
    return;
  }
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strata-test-db-'));
  const handle = await startDatabase({
    dataDir,
    cacheDir: testCacheDir(),
    javaOptions: ['-Xmx512m', '-XX:+UseSerialGC'],
    log: (line) => process.stderr.write(`[test db] ${line}\n`),
  });
  process.env.TEST_MONGO_URI = handle.uri;
  process.env.TEST_DB_DATA_DIR = dataDir;
  (globalThis as { __testDatabase?: typeof handle }).__testDatabase = handle;
}

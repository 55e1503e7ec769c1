import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Db, MongoClient } from 'mongodb';
import { loadConfig } from '../../src/modules/config/load-config';
import { BUILT_IN_PLUGIN_NAMES, DEFAULT_PLUGIN_NAMES } from '../../src/plugins/registry';
import { RunningServer, startServer } from '../../src/server';

export const ADMIN_PASSWORD = 'admin-secret-1';

export interface TestServer {
  server: RunningServer;
  url: string;
  api: string;
  /** The server's database, for checks the API cannot make. */
  db: Db;
  dataDir: string;
  /** Stops the server and drops its database (unless `keepDatabase`, for a shared one). */
  close(opts?: { keepDatabase?: boolean }): Promise<void>;
}

/**
 * A real server on a free port, with a fresh database in the run's database server and a fresh
 * data directory. `env` overrides configuration keys, as the environment would.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const uri = process.env.TEST_MONGO_URI;
  if (!uri) throw new Error('TEST_MONGO_URI is not set: run the tests through jest (its global setup starts the database)');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strata-test-'));
  const dbName = `t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const config = loadConfig(
    {
      PORT: '0',
      DATA_DIR: dataDir,
      MONGO_URI: uri,
      MONGO_DB: dbName,
      ADMIN_PASSWORD,
      BCRYPT_ROUNDS: '6',
      LOG_LEVEL: 'warn',
      ...env,
    },
    BUILT_IN_PLUGIN_NAMES,
    DEFAULT_PLUGIN_NAMES,
  );
  const server = await startServer(config);
  const client = await MongoClient.connect(uri);
  const db = client.db(server.databaseName);
  const handle: TestServer = {
    server,
    url: server.url,
    api: `${server.url}/api/v1`,
    db,
    dataDir,
    close: async (opts = {}) => {
      await handle.server.close(); // the server in use now (a test may have restarted it)
      if (!opts.keepDatabase) await db.dropDatabase().catch(() => {});
      await client.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}

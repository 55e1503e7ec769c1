import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { MongoClient } from 'mongodb';
import { ensureEmbeddedServerBuilt } from './embedded-build';

export type DatabaseEngine = 'external' | 'mongod' | 'embedded';

/** A database the server uses: either one it was pointed at, or a child process it started. */
export interface DatabaseHandle {
  engine: DatabaseEngine;
  uri: string;
  /** Where the data lives, for the start-up line (a URI for an external server). */
  dataPath: string;
  /** Stops the child process (SIGTERM, then SIGKILL after a timeout); a no-op for external. */
  stop(): Promise<void>;
}

export interface StartDatabaseOptions {
  mongoUri?: string;
  dataDir: string;
  cacheDir: string;
  javaOptions: string[];
  /** Java log level for the embedded server: error, warn, info or debug. */
  javaLogLevel?: string;
  log: (line: string) => void;
  /** Where the database's own output goes once it is running (default: `log`). */
  warn?: (line: string) => void;
}

export class DatabaseStartError extends Error {}

/** Name of the H2 file of the embedded server, inside `<DATA_DIR>/db`. */
export const EMBEDDED_FILE = 'strata.mv.db';
const STOP_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 120_000;

/**
 * The chain of DESIGN §9: `MONGO_URI` when given; otherwise a `mongod` on PATH, otherwise the
 * embedded mongo-java-server. A data directory already holding embedded data keeps using the
 * embedded server even when a mongod appears later, so data never silently "disappears".
 */
export async function startDatabase(opts: StartDatabaseOptions): Promise<DatabaseHandle> {
  if (opts.mongoUri) {
    return { engine: 'external', uri: opts.mongoUri, dataPath: redactUri(opts.mongoUri), stop: async () => {} };
  }
  const dbDir = path.join(path.resolve(opts.dataDir), 'db');
  mkdirSync(dbDir, { recursive: true });
  const mongod = findOnPath('mongod');
  if (mongod && !existsSync(path.join(dbDir, EMBEDDED_FILE))) return startMongod(mongod, dbDir, opts);
  return startEmbedded(dbDir, opts);
}

async function startEmbedded(dbDir: string, opts: StartDatabaseOptions): Promise<DatabaseHandle> {
  const build = await ensureEmbeddedServerBuilt(opts.cacheDir, opts.log);
  const file = path.join(dbDir, EMBEDDED_FILE);
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const args = [
    ...opts.javaOptions,
    `-Dorg.slf4j.simpleLogger.defaultLogLevel=${opts.javaLogLevel ?? 'warn'}`,
    // a client that disconnects is logged as an ERROR with a stack trace by the library: not news
    '-Dorg.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire.MongoExceptionHandler=off',
    '-cp',
    build.classpath,
    'dev.strata.embeddeddb.Launcher',
    '--file',
    file,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
  ];
  const child = spawn(java, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const ready = await waitForLine(child, opts.warn ?? opts.log, (line) => {
    if (line.startsWith('READY ')) return { uri: line.slice(6).trim() };
    if (line.startsWith('LOCKED ')) {
      throw new DatabaseStartError(
        `the database in ${dbDir} is in use by another server; stop it, or point this one at it with MONGO_URI`,
      );
    }
    return undefined;
  });
  return { engine: 'embedded', uri: ready.uri, dataPath: file, stop: () => stopChild(child) };
}

async function startMongod(mongod: string, dbDir: string, opts: StartDatabaseOptions): Promise<DatabaseHandle> {
  const dbPath = path.join(dbDir, 'mongod');
  mkdirSync(dbPath, { recursive: true });
  const port = await freePort();
  // mongod does not watch its stdin, so a small watchdog (this same Node binary) ends it when we die.
  const built = path.join(__dirname, 'watchdog.js');
  const watchdog = existsSync(built) ? built : path.resolve(__dirname, '../../../dist/modules/database/watchdog.js');
  const child = spawn(process.execPath, [watchdog, mongod, '--dbpath', dbPath, '--bind_ip', '127.0.0.1', '--port', String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const uri = `mongodb://127.0.0.1:${port}`;
  await waitForLine(child, opts.warn ?? opts.log, (line) => {
    if (/Waiting for connections|waiting for connections/.test(line)) return true;
    if (/DBPathInUse|Unable to lock the lock file/.test(line)) {
      throw new DatabaseStartError(`the database in ${dbPath} is in use by another mongod; stop it, or use MONGO_URI`);
    }
    return undefined;
  });
  return { engine: 'mongod', uri, dataPath: dbPath, stop: () => stopChild(child) };
}

function waitForLine<T>(
  child: ChildProcess,
  log: (line: string) => void,
  match: (line: string) => T | undefined,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const recent: string[] = [];
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      finish(() => reject(new DatabaseStartError(`the database did not start within ${READY_TIMEOUT_MS / 1000} s:\n${recent.join('\n')}`)));
      child.kill('SIGKILL');
    }, READY_TIMEOUT_MS);
    const onLine = (line: string) => {
      recent.push(line);
      if (recent.length > 30) recent.shift();
      if (settled) {
        log(`database: ${line}`);
        return;
      }
      try {
        const result = match(line);
        if (result !== undefined) finish(() => resolve(result));
      } catch (err) {
        finish(() => reject(err));
        child.kill('SIGKILL');
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.on('error', (err) =>
      finish(() => reject(new DatabaseStartError(`could not start the database (${err.message}); install Java 17+ or set MONGO_URI`))),
    );
    child.on('exit', (code, signal) =>
      finish(() => reject(new DatabaseStartError(`the database exited before it was ready (${signal ?? `code ${code}`}):\n${recent.join('\n')}`))),
    );
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function redactUri(uri: string): string {
  return uri.replace(/\/\/([^@/]*)@/, '//***@');
}

/** True once a MongoDB server answers `ping` at the URI. */
export async function pingDatabase(uri: string): Promise<void> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
  } finally {
    await client.close();
  }
}

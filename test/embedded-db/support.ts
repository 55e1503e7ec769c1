/**
 * Helpers for the embedded-database suites: each suite runs its own embedded server (they restart
 * it and kill it), compares indexed collections with unindexed ones, and generates reproducible
 * random data.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BSON, Collection, Document, MongoClient } from 'mongodb';
import { DatabaseHandle, startDatabase } from '../../src/modules/database/database-process';
import { testCacheDir } from '../support/paths';

/** The JVM options the suites run the embedded server with (the recommended ones, docs/performance.md). */
export const JAVA_OPTIONS = ['-Xmx512m', '-XX:+UseSerialGC'];

/** An embedded server with its data in a private directory, which can be restarted and killed. */
export class EmbeddedServer {
  readonly dataDir: string;
  handle: DatabaseHandle | undefined;
  client: MongoClient | undefined;
  private readonly lines: string[] = [];

  constructor(prefix = 'strata-embedded-') {
    this.dataDir = mkdtempSync(path.join(tmpdir(), prefix));
  }

  get uri(): string {
    if (!this.handle) throw new Error('the server is not running');
    return this.handle.uri;
  }

  /** Starts the server (building it first if its sources changed) and connects a client. */
  async start(): Promise<MongoClient> {
    if (process.env.MONGO_URI) throw new Error('these suites test the embedded server; unset MONGO_URI');
    this.handle = await startDatabase({
      dataDir: this.dataDir,
      cacheDir: testCacheDir(),
      javaOptions: JAVA_OPTIONS,
      javaLogLevel: 'warn',
      log: (line) => this.lines.push(line),
    });
    if (this.handle.engine !== 'embedded') throw new Error(`expected the embedded server, got ${this.handle.engine}`);
    this.client = await MongoClient.connect(this.handle.uri, { maxPoolSize: 20 });
    return this.client;
  }

  /** Clean stop: the driver disconnects, the server commits and closes its store. */
  async stop(): Promise<void> {
    await this.client?.close().catch(() => undefined);
    this.client = undefined;
    await this.handle?.stop();
    this.handle = undefined;
  }

  async restart(): Promise<MongoClient> {
    await this.stop();
    return this.start();
  }

  /** The pid of the Java process serving this data directory (found by its command line). */
  javaPid(): number {
    const pids = pidsMatching(path.join(this.dataDir, 'db'));
    if (pids.length !== 1) throw new Error(`expected one Java process for ${this.dataDir}, found ${pids.join(', ') || 'none'}`);
    return pids[0];
  }

  /** SIGKILL of the Java process, as a power cut would end it; then the handle is forgotten. */
  async kill(): Promise<void> {
    const pid = this.javaPid();
    await this.client?.close(true).catch(() => undefined);
    this.client = undefined;
    process.kill(pid, 'SIGKILL');
    const end = Date.now() + 10_000;
    while (pidsMatching(path.join(this.dataDir, 'db')).length && Date.now() < end) await sleep(50);
    await this.handle?.stop();
    this.handle = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** What the server printed after it started (warnings, errors). */
  output(): string {
    return this.lines.join('\n');
  }
}

export function pidsMatching(needle: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', needle], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((pid) => pid !== process.pid);
  } catch {
    return [];
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the server's H2 file has not changed for a while: H2 commits in the background
 * every 200 ms, so acknowledged writes are then on disk and survive a SIGKILL.
 */
export async function waitForStoreFlush(dataDir: string, quietMs = 1000, maxMs = 15_000): Promise<void> {
  const file = path.join(dataDir, 'db', 'strata.mv.db');
  const stamp = () => {
    const s = statSync(file);
    return `${s.mtimeMs}:${s.size}`;
  };
  let last = stamp();
  let since = Date.now();
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    await sleep(100);
    const current = stamp();
    if (current !== last) {
      last = current;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return;
    }
  }
}

/** Exact text of documents (types included: 5 and 5.0 differ), for comparisons that show a readable diff. */
export function canonical(value: unknown): string {
  return BSON.EJSON.stringify(value as Document, { relaxed: false });
}

/** A small seeded random generator (mulberry32), so a failing run can be replayed with its seed. */
export class Random {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(values: readonly T[]): T {
    return values[this.int(values.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  subset<T>(values: readonly T[], max: number): T[] {
    const n = this.int(max + 1);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(this.pick(values));
    return out;
  }
}

/** The seed of a suite: SEED from the environment to replay a failure, otherwise a new one (printed on failure). */
export function suiteSeed(): number {
  return process.env.SEED ? Number(process.env.SEED) : Math.floor(Math.random() * 2 ** 31);
}

/** Number of queries each ordered index served, from `$indexStats` (the library reports 0 for its own). */
export async function indexUsage<T extends Document>(collection: Collection<T>): Promise<Record<string, number>> {
  const stats = await collection.aggregate([{ $indexStats: {} }]).toArray();
  const usage: Record<string, number> = {};
  for (const s of stats) usage[s.name as string] = Number((s.accesses as { ops: unknown }).ops);
  return usage;
}

/**
 * The same query in a form no index can serve (a double negation: `$nor` of `$nor`), so the
 * server scans. Comparing a query with its scan twin checks an index against the documents.
 */
export function scanOf(query: Document): Document {
  return { $nor: [{ $nor: [query] }] };
}

/** A Java process of the embedded server started directly (not through `startDatabase`), with its output. */
export interface LaunchedServer {
  /** The URI it prints once it accepts clients. */
  ready: Promise<string>;
  exited: Promise<void>;
  output(): string;
  /** Clean stop: closes its standard input. */
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/**
 * Starts the launcher of the cached build on a data directory: `--stock` for the unmodified
 * library (a store written before the extension existed, or by a build whose _id index was the
 * library's own), `properties` for `-D` options such as `strata.rebuildIndexes=true`. It logs at
 * info level, so `output()` shows when it opens databases and builds indexes.
 */
export async function launchServer(dataDir: string, { stock = false, properties = [] as string[] } = {}): Promise<LaunchedServer> {
  const { ensureEmbeddedServerBuilt } = await import('../../src/modules/database/embedded-build');
  const build = await ensureEmbeddedServerBuilt(testCacheDir(), () => undefined);
  const file = path.join(dataDir, 'db', 'strata.mv.db');
  const { spawn } = await import('node:child_process');
  const args = [
    ...JAVA_OPTIONS,
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=info',
    ...properties.map((p) => `-D${p}`),
    '-cp',
    build.classpath,
    'dev.strata.embeddeddb.Launcher',
    '--file',
    file,
    ...(stock ? ['--stock'] : []),
  ];
  const child = spawn('java', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /READY (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code, signal) => reject(new Error(`server exited (${code ?? signal}): ${out.slice(-3000)}`)));
  });
  ready.catch(() => undefined);
  child.stderr!.on('data', (d) => (out += d));
  return {
    ready,
    exited,
    output: () => out,
    stop: async () => {
      child.stdin!.end();
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Runs stock mongo-java-server (the same launcher with `--stock`) on a data directory, for a store
 * written before the extension existed; `use` gets its URI.
 */
export async function withStockServer(dataDir: string, use: (uri: string) => Promise<void>): Promise<void> {
  const server = await launchServer(dataDir, { stock: true });
  try {
    await use(await server.ready);
  } finally {
    await server.stop();
  }
}

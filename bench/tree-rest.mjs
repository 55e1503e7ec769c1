#!/usr/bin/env node
// REST tree benchmark (issue 12, "Benchmark"): the data tree through the REST API against the same
// operations issued directly with the `mongodb` driver, in the same run, on the same database.
//
//   node bench/tree-rest.mjs [--items N] [--sizes 1000,10000,100000] [--runs 20] [--concurrency 8]
//                            [--budget SECONDS] [--db-pid PID]
//
// 1. starts a database (MONGO_URI when set, otherwise the chain of DESIGN §9 through
//    dist/modules/database/database-process.js) and the server (`node dist/main.js`) as a child;
// 2. flatness: grows the server's item collection to each of --sizes items (folders of 50 under one
//    collection: folders through REST, items written with the driver as the server writes them, and
//    the same items into the raw peer collection `bench_raw_item`) and
//    times listing a 50-item folder with its total count and a path lookup (again at the end, with
//    the big folder in the collection);
// 3. creates --items items in one folder through `POST /item` (and the same documents with
//    `insertOne` into `bench_raw_item`), then times pages of 50 at offsets 0, N/2 and N-50 by
//    offset and by keyset cursor (`after`), REST against raw (the raw queries are the server's:
//    find sorted by `lowerName` alone, as names are unique in a folder, and count, in parallel);
// 4. prints query plans where the database can explain them.
// It prints tables and ratios and asserts nothing (what was measured is printed even when a later
// step fails). Progress and server warnings go to stderr.
//
// --runs: timed runs per cell (median, p95); --budget: seconds after which a cell stops sampling
// (after at least 3 runs); --db-pid: the process of a database given by MONGO_URI, to watch its
// memory and CPU. Environment: MONGO_URI, EMBEDDED_DB_JAVA_OPTS (default -Xmx512m
// -XX:+UseSerialGC), XDG_CACHE_HOME (the embedded server's build cache: $XDG_CACHE_HOME/strata),
// BENCH_SERVER_MAIN (another build of the server's entry point instead of dist/main.js).

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { serverNodeFlags } from './lib/server-flags.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(repoRoot, 'package.json'));
const { MongoClient, ObjectId } = require('mongodb');

// ---------------------------------------------------------------------------------------------
// options

function parseArgs(argv) {
  const opts = { items: 100_000, sizes: [1_000, 10_000, 100_000], runs: 20, concurrency: 8, budget: 20, dbPid: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--items': opts.items = Number(value()); break;
      case '--sizes': {
        const v = value();
        opts.sizes = v === 'none' || v === '' ? [] : v.split(',').map((s) => Number(s.trim()));
        break;
      }
      case '--runs': opts.runs = Number(value()); break;
      case '--concurrency': opts.concurrency = Number(value()); break;
      case '--budget': opts.budget = Number(value()); break;
      case '--db-pid': opts.dbPid = Number(value()); break;
      case '-h': case '--help':
        {
          const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1);
          const header = lines.slice(0, lines.findIndex((l) => !l.startsWith('//')));
          process.stdout.write(`${header.map((l) => l.replace(/^\/\/ ?/, '')).join('\n')}\n`);
        }
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${argv[i]} (try --help)`);
    }
  }
  const bad = (n, min) => !Number.isInteger(n) || n < min;
  if (bad(opts.items, 100)) throw new Error('--items must be an integer ≥ 100');
  if (opts.sizes.some((s) => bad(s, 50))) throw new Error('--sizes must be integers ≥ 50');
  if (bad(opts.runs, 3)) throw new Error('--runs must be an integer ≥ 3');
  if (bad(opts.concurrency, 1)) throw new Error('--concurrency must be an integer ≥ 1');
  if (!(opts.budget > 0)) throw new Error('--budget must be a positive number of seconds');
  opts.sizes = [...new Set(opts.sizes)].sort((a, b) => a - b);
  return opts;
}

// ---------------------------------------------------------------------------------------------
// small helpers

const progress = (line) => process.stderr.write(`[bench] ${line}\n`);
const out = (line = '') => process.stdout.write(`${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function p95(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)];
}
function ms(x) {
  if (!Number.isFinite(x)) return '–';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '–');
const mib = (kib) => (kib == null ? '–' : `${(kib / 1024).toFixed(0)} MiB`);
const int = (n) => Math.round(n).toLocaleString('en-US');

/** A markdown table with padded columns (readable as text, pasteable into a .md file). */
function table(headers, rows, align) {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c)));
  const width = headers.map((_, i) => Math.max(3, ...cells.map((r) => [...r[i]].length)));
  const right = (i) => (align ? align[i] === 'r' : i > 0);
  const pad = (s, i) => (right(i) ? s.padStart(width[i]) : s.padEnd(width[i]));
  const line = (r) => `| ${r.map(pad).join(' | ')} |`;
  out(line(cells[0]));
  out(`|${width.map((w, i) => (right(i) ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`);
  for (const r of cells.slice(1)) out(line(r));
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` in flight; returns per-call latencies. */
async function pool(n, concurrency, fn, onProgress) {
  const lat = new Array(n);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const t0 = performance.now();
      await fn(i);
      lat[i] = performance.now() - t0;
      done++;
      onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return lat;
}

/**
 * Times several variants in interleaved rounds (variant order rotates each round, so drift and
 * other load spread evenly): unrecorded warm-up rounds for `warmupMs` (at least one round; at most
 * a quarter of the budget), then up to `runs` recorded rounds, stopping early (after at least 3)
 * once they took `budgetMs`. Returns {key: [ms, …]}.
 */
async function measure(variants, { runs, warmupMs, budgetMs }) {
  const times = Object.fromEntries(variants.map((v) => [v.key, []]));
  const round = async (r, record) => {
    for (let j = 0; j < variants.length; j++) {
      const v = variants[(j + r) % variants.length];
      const t0 = performance.now();
      await v.fn(r);
      if (record) times[v.key].push(performance.now() - t0);
    }
  };
  let start = performance.now();
  for (let r = 0; r === 0 || performance.now() - start < Math.min(warmupMs, budgetMs / 4); r++) await round(r, false);
  start = performance.now();
  for (let r = 0; r < runs; r++) {
    await round(r, true);
    if (r >= 2 && performance.now() - start > budgetMs) break;
  }
  return times;
}

// ---------------------------------------------------------------------------------------------
// processes and memory

function rssKiB(pid) {
  if (!pid) return undefined;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) of a process in ms, from /proc/<pid>/stat; the benchmark's own from process.cpuUsage(). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
function cpuMs(pid) {
  if (pid === 'self') {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  if (!pid) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK; // utime, stime
  } catch {
    return NaN;
  }
}
const cpuSnapshot = (pids) => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
const cpuDelta = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]));

function pidsMatching(needle) {
  try {
    return execFileSync('pgrep', ['-f', needle], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number).filter((p) => p !== process.pid);
  } catch {
    return [];
  }
}

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** Samples the RSS of the server and the database every 250 ms; `mark()` returns now and the peak since the last mark. */
class MemoryWatch {
  constructor(pids) {
    this.pids = pids; // {server, db}
    this.peak = {};
    this.timer = setInterval(() => this.sample(), 250);
    this.timer.unref();
    this.sample();
  }
  sample() {
    const now = {};
    for (const [k, pid] of Object.entries(this.pids)) {
      now[k] = rssKiB(pid);
      if (now[k] != null) this.peak[k] = Math.max(this.peak[k] ?? 0, now[k]);
    }
    return now;
  }
  mark() {
    const now = this.sample();
    const peak = this.peak;
    this.peak = { ...now };
    return { now, peak };
  }
  stop() {
    clearInterval(this.timer);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

class Api {
  constructor(baseUrl, concurrency) {
    this.base = new URL(baseUrl);
    this.mod = this.base.protocol === 'https:' ? https : http;
    this.agent = new this.mod.Agent({ keepAlive: true, maxSockets: Math.max(concurrency, 4), rejectUnauthorized: false });
    this.token = undefined;
  }

  /** One request; JSON answer. Retries once when a kept-alive socket was closed under us. */
  async request(method, pathAndQuery, { headers = {}, ok = [200] } = {}) {
    for (let attempt = 0; ; attempt++) {
      if (serverGone) throw new Error(serverGone);
      try {
        const res = await this.once(method, pathAndQuery, headers);
        if (!ok.includes(res.status)) {
          throw new Error(`${method} ${pathAndQuery} answered ${res.status}: ${res.text.slice(0, 500)}`);
        }
        return res;
      } catch (err) {
        if (attempt === 0 && err.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) continue;
        throw err;
      }
    }
  }

  once(method, pathAndQuery, headers) {
    return new Promise((resolve, reject) => {
      const h = { accept: 'application/json', ...headers };
      if (this.token) h['girder-token'] = this.token;
      const req = this.mod.request(new URL(`/api/v1${pathAndQuery}`, this.base), { method, headers: h, agent: this.agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode, headers: res.headers, body, text });
        });
      });
      req.on('error', (err) => {
        err.reusedSocket = req.reusedSocket;
        reject(err);
      });
      req.end();
    });
  }

  get(p, opts) {
    return this.request('GET', p, opts);
  }
  post(p, opts) {
    return this.request('POST', p, opts);
  }
  close() {
    this.agent.destroy();
  }
}

const q = (params) => new URLSearchParams(params).toString();

// ---------------------------------------------------------------------------------------------
// start-up and shut-down

const cleanups = [];
let serverGone; // set when the server process ends
let cleaningUp;
async function cleanup() {
  cleaningUp ??= (async () => {
    while (cleanups.length) {
      const fn = cleanups.pop();
      try {
        await fn();
      } catch (err) {
        progress(`clean-up: ${err.message}`);
      }
    }
  })();
  return cleaningUp;
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    progress(`${sig}: stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Builds dist/ when it is missing or older than a source file (an interrupted build leaves holes). */
function ensureBuilt() {
  const src = path.join(repoRoot, 'src');
  const stale = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'embedded-server') walk(full);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') && !e.name.endsWith('.d.ts')) {
        const js = path.join(repoRoot, 'dist', path.relative(src, full)).replace(/\.ts$/, '.js');
        if (!existsSync(js) || statSync(js).mtimeMs < statSync(full).mtimeMs) stale.push(path.relative(repoRoot, full));
      }
    }
  };
  walk(src);
  if (!stale.length) return;
  progress(`dist/ is missing or stale (${stale.length} files, e.g. ${stale[0]}): building (npx tsc -b tsconfig.build.json)`);
  execFileSync('npx', ['tsc', '-b', 'tsconfig.build.json'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
}

let ignoredIndexes = 0;
async function startDb() {
  const cacheDir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'strata');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'strata-bench-db-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const javaOptions = (process.env.EMBEDDED_DB_JAVA_OPTS ?? '-Xmx512m -XX:+UseSerialGC').split(/\s+/).filter(Boolean);
  const { default: dbmod } = await import(pathToFileURL(path.join(repoRoot, 'dist', 'modules', 'database', 'database-process.js')).href);
  const t0 = performance.now();
  const handle = await dbmod.startDatabase({
    mongoUri: process.env.MONGO_URI || undefined,
    dataDir,
    cacheDir,
    javaOptions,
    javaLogLevel: 'warn',
    log: (line) => progress(`db: ${line}`),
    // the embedded server logs a stack trace for each unknown command (explain) and a warning for
    // each index the stock library ignores: keep the first line of each, drop the rest
    warn: (full) => {
      const line = full.replace(/^database: /, '');
      if (/^\s+at |^\s*\.\.\. \d+ more|^\S+Exception: /.test(line)) return;
      if (/secondary index .* is not yet implemented/.test(line)) {
        if (!ignoredIndexes++) progress(`db: ${line.replace(/^.* - /, '')} (and similar for each non-unique index)`);
        return;
      }
      progress(`db: ${line}`);
    },
  });
  cleanups.push(() => handle.stop());
  progress(`database (${handle.engine}) ready in ${((performance.now() - t0) / 1000).toFixed(1)} s at ${handle.uri}`);
  const pid = handle.engine === 'external' ? undefined : pidsMatching(dataDir)[0];
  return { handle, dataDir, pid, javaOptions };
}

async function startServer(mongoUri, dbName) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'strata-bench-data-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const env = { ...process.env, MONGO_URI: mongoUri, MONGO_DB: dbName, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_LOGIN: 'admin', ADMIN_PASSWORD: 'bench-admin-1', LOG_LEVEL: 'warn' };
  delete env.CONFIG_FILE;
  delete env.TLS_CERT;
  delete env.TLS_KEY;
  const main = process.env.BENCH_SERVER_MAIN ? path.resolve(process.env.BENCH_SERVER_MAIN) : path.join(repoRoot, 'dist', 'main.js');
  const child = spawn(process.execPath, [...serverNodeFlags(repoRoot), main], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  });
  let seen = '';
  let started = false;
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 120 s:\n${seen}`)), 120_000);
    const onLine = (line) => {
      if (!started) seen += `${line}\n`;
      const m = /running on (https?:\/\/\S+)/.exec(line);
      if (m && !started) {
        started = true;
        clearTimeout(timer);
        resolve(m[1]);
      } else if (started && line.trim() && !/^\s+(REST API|API docs|Initial admin)/.test(line)) {
        progress(`server: ${line}`);
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let buf = '';
      stream.on('data', (d) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`the server exited (${code}) before it was ready:\n${seen}`));
    });
  });
  void exited.then((code) => {
    serverGone = `the server exited unexpectedly (${code === 0 ? 'code 0: someone sent it SIGTERM or SIGINT' : code})`;
    if (!cleaningUp) progress(serverGone);
  });
  return { child, url, pid: child.pid };
}

// ---------------------------------------------------------------------------------------------
// query plans

function findKey(obj, key, depth = 0) {
  if (!obj || typeof obj !== 'object' || depth > 12) return undefined;
  if (key in obj) return obj[key];
  for (const v of Object.values(obj)) {
    const found = findKey(v, key, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

function planChain(plan) {
  const parts = [];
  let node = plan?.queryPlan ?? plan;
  for (let i = 0; node && i < 20; i++) {
    let s = node.stage ?? '?';
    if (node.indexName) s += ` ${node.indexName}`;
    else if (node.keyPattern) s += ` ${JSON.stringify(node.keyPattern)}`;
    parts.push(s);
    node = node.inputStage ?? node.inputStages?.[0];
  }
  return parts.join(' ← ');
}

async function explainAll(db, queries) {
  const rows = [];
  for (const { label, command } of queries) {
    try {
      const res = await db.command({ explain: command, verbosity: 'executionStats' });
      const winning = findKey(res, 'winningPlan');
      const stats = findKey(res, 'executionStats');
      if (winning) {
        rows.push([
          label,
          planChain(winning),
          stats?.totalKeysExamined ?? '–',
          stats?.totalDocsExamined ?? '–',
          stats?.nReturned ?? '–',
          stats?.executionTimeMillis ?? '–',
        ]);
      } else {
        rows.push([label, JSON.stringify(res).slice(0, 200), '–', '–', '–', '–']);
      }
    } catch (err) {
      return { error: err.message.split('\n')[0] };
    }
  }
  return { rows };
}

// ---------------------------------------------------------------------------------------------
// main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const N = opts.items;
  const budgetMs = opts.budget * 1000;
  const width = Math.max(6, String(Math.max(N, ...opts.sizes)).length);
  const itemName = (i) => `item-${String(i).padStart(width, '0')}`; // 1-based
  const started = performance.now();

  ensureBuilt();
  const db0 = await startDb();
  const benchDb = `bench_${Math.random().toString(36).slice(2, 10)}`;
  const uriDb = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(db0.handle.uri)?.[1];
  const dbName = uriDb ? decodeURIComponent(uriDb) : benchDb;
  if (uriDb) progress(`MONGO_URI names database "${dbName}": the benchmark writes into it and leaves the server's collections there`);

  const client = new MongoClient(db0.handle.uri, { maxPoolSize: Math.max(20, opts.concurrency * 2) });
  await client.connect();
  cleanups.push(() => client.close());
  const db = client.db(dbName);
  cleanups.push(async () => {
    if (dbName === benchDb && db0.handle.engine === 'external') await db.dropDatabase();
    else if (db0.handle.engine === 'external') await db.collection('bench_raw_item').drop().catch(() => {});
  });

  const server = await startServer(db0.handle.uri, benchDb);
  progress(`server ready at ${server.url}`);
  const dbPid = opts.dbPid ?? db0.pid;
  const mem = new MemoryWatch({ server: server.pid, db: dbPid });
  cleanups.push(async () => mem.stop());

  // what exactly is measured
  let buildInfo = {};
  try {
    buildInfo = await db.admin().command({ buildInfo: 1 });
  } catch {}
  const dbCmd = dbPid ? cmdline(dbPid) : undefined;
  let dbDescription = { embedded: 'embedded mongo-java-server (H2 backend)', mongod: 'mongod from PATH', external: 'MONGO_URI' }[db0.handle.engine];
  let jvm = '';
  if (dbCmd && /java$/.test(dbCmd[0])) {
    const cpAt = dbCmd.indexOf('-cp');
    jvm = dbCmd.slice(1, cpAt > 0 ? cpAt : undefined).filter((a) => !a.startsWith('-Dorg.slf4j')).join(' ');
    const jar = cpAt > 0 ? dbCmd[cpAt + 1].split(':')[0] : '';
    const build = /embedded-db\/([0-9a-f]{16})\//.exec(jar)?.[1];
    if (db0.handle.engine === 'external') dbDescription = 'mongo-java-server (H2 backend) via MONGO_URI';
    if (build) dbDescription += `, build ${build}`;
  }

  const api = new Api(server.url, opts.concurrency);
  cleanups.push(async () => api.close());
  const login = await api.get('/user/authentication', { headers: { authorization: `Basic ${Buffer.from('admin:bench-admin-1').toString('base64')}` } });
  api.token = login.body?.authToken?.token;
  if (!api.token) throw new Error(`login answered without a token: ${login.text.slice(0, 300)}`);

  out('# REST tree benchmark');
  out();
  out(`- database: ${dbDescription}; server version ${buildInfo.version ?? '?'}${jvm ? `; JVM options: ${jvm}` : ''}`);
  out(`- Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model?.trim() ?? '?'}), load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  out(`- items in the big folder: ${int(N)}; flatness sizes: ${opts.sizes.map(int).join(', ') || 'none'}; ${opts.concurrency} requests in flight for inserts; up to ${opts.runs} timed runs per cell after 0.5–5 s of warm-up (at most ~${opts.budget} s per cell)`);
  out();

  const memRows = [];
  const memMark = (label) => {
    const { now, peak } = mem.mark();
    memRows.push([label, mib(now.server), mib(peak.server), mib(now.db), mib(peak.db)]);
  };
  memMark('after start-up and login');

  const collection = (await api.post(`/collection?${q({ name: 'bench', public: 'false' })}`)).body;
  const collId = collection._id;
  const items = db.collection('item');
  const names = db.collection('name');
  // the raw peer: the same indexes as the server's item collection, and the same documents
  const raw = db.collection('bench_raw_item');
  await raw.createIndex({ folderId: 1, lowerName: 1 }, { unique: true });
  await raw.createIndex({ baseParentId: 1 });
  const adminId = login.body.user?._id ? new ObjectId(login.body.user._id) : null;
  const baseParentId = new ObjectId(collId);
  /** An item document as TreeService.createItem writes it. */
  const itemDoc = (name, folderId) => {
    const now = new Date();
    return {
      _id: new ObjectId(),
      name,
      lowerName: name.toLowerCase(),
      description: '',
      folderId,
      baseParentType: 'collection',
      baseParentId,
      creatorId: adminId,
      meta: {},
      size: 0,
      created: now,
      updated: now,
      copyOfItem: null,
      hatrac: null,
    };
  };
  const folders = db.collection('folder');
  const collections = db.collection('collection');

  // ------------------------------------------------------------------------------------------
  // flatness: grow the item collection to each size, folders of 50

  // the sort the server sends for `sort=lowerName` in one folder: names are unique among a
  // parent's children, so it leaves out the `_id` tie-break (which would keep an index on
  // {folderId, lowerName} from delivering the order); `tieBreak` is the sort with it
  const sort = { lowerName: 1 };
  const tieBreak = { lowerName: 1, _id: 1 };
  const flatRows = [];
  const fillFolders = []; // {id, name, count}
  let itemsInDb = 0;
  // Folders through REST; their items written with the driver, as the server writes them (the
  // name reservation, then the item), because only the queries are measured here and REST inserts
  // are measured below: this keeps a 100k-item database minutes cheaper to build.
  const fill = async (target) => {
    const need = target - itemsInDb;
    if (need <= 0) return;
    const nFolders = Math.ceil(need / 50);
    const base = fillFolders.length;
    const t0 = performance.now();
    await pool(nFolders, opts.concurrency, async (i) => {
      const name = `f-${String(base + i + 1).padStart(6, '0')}`;
      const f = (await api.post(`/folder?${q({ parentType: 'collection', parentId: collId, name })}`)).body;
      fillFolders[base + i] = { id: f._id, name, count: Math.min(50, need - i * 50) };
    });
    const t1 = performance.now();
    let itemDocs = [];
    let nameDocs = [];
    const flush = async () => {
      if (!itemDocs.length) return;
      await names.insertMany(nameDocs, { ordered: false });
      await items.insertMany(itemDocs, { ordered: false });
      await raw.insertMany(itemDocs, { ordered: false }); // the raw peer holds the same items
      itemDocs = [];
      nameDocs = [];
    };
    for (let i = 0; i < nFolders; i++) {
      const f = fillFolders[base + i];
      const folderId = new ObjectId(f.id);
      for (let k = 1; k <= f.count; k++) {
        const doc = itemDoc(itemName(k), folderId);
        nameDocs.push({ _id: `folder:${f.id}:${doc.lowerName}`, kind: 'item', nodeId: doc._id, created: doc.created });
        itemDocs.push(doc);
        if (itemDocs.length >= 1000) await flush();
      }
    }
    await flush();
    itemsInDb += need;
    progress(`  ${int(nFolders)} folders through REST in ${((t1 - t0) / 1000).toFixed(1)} s, ${int(need)} items with insertMany in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  };

  const measureFlat = async (label, sizeLabel) => {
    const full = fillFolders.filter((f) => f.count === 50);
    const k = Math.min(5, full.length);
    const sample = Array.from({ length: k }, (_, i) => full[Math.floor(((i + 0.5) * full.length) / k)]);
    const pick = (round) => sample[((round % k) + k) % k];
    const lowerColl = 'bench';
    const variants = [
      {
        key: 'restList',
        fn: async (r) => {
          const f = pick(r);
          const res = await api.get(`/item?${q({ folderId: f.id, limit: 50, offset: 0, sort: 'lowerName' })}`);
          if (res.body.length !== 50 || res.headers['girder-total-count'] !== '50') throw new Error(`listing ${f.name}: ${res.body.length} items, total ${res.headers['girder-total-count']}`);
        },
      },
      {
        key: 'rawList',
        fn: async (r) => {
          const fid = new ObjectId(pick(r).id);
          const [docs, total] = await Promise.all([items.find({ folderId: fid }).sort(sort).limit(50).toArray(), items.countDocuments({ folderId: fid })]);
          if (docs.length !== 50 || total !== 50) throw new Error(`raw listing: ${docs.length} items, total ${total}`);
        },
      },
      {
        key: 'restLookup',
        fn: async (r) => {
          const f = pick(r);
          const name = itemName(1 + ((r * 17 + 3) % 50 + 50) % 50);
          const res = await api.get(`/resource/lookup?${q({ path: `/collection/bench/${f.name}/${name}` })}`);
          if (res.body?.name !== name) throw new Error(`lookup answered ${res.text.slice(0, 200)}`);
        },
      },
      {
        key: 'rawLookup',
        fn: async (r) => {
          const f = pick(r);
          const name = itemName(1 + ((r * 17 + 3) % 50 + 50) % 50);
          const c = await collections.findOne({ lowerName: lowerColl });
          const fo = await folders.findOne({ parentId: c._id, parentCollection: 'collection', lowerName: f.name });
          const it = await items.findOne({ folderId: fo._id, lowerName: name });
          if (!it) throw new Error('raw lookup found nothing');
        },
      },
    ];
    progress(`  timing listing and lookup at ${sizeLabel} items`);
    // Warm-up: queries right after start-up or a bulk load run ~3× slower for a few hundred
    // requests (the JITs of the server, the database and this client): the first cell warms up longer.
    const t = await measure(variants, { runs: opts.runs, budgetMs, warmupMs: flatRows.length ? 1000 : 5000 });
    flatRows.push([
      label,
      `${ms(median(t.restList))} / ${ms(p95(t.restList))}`,
      `${ms(median(t.rawList))} / ${ms(p95(t.rawList))}`,
      `${ms(median(t.restLookup))} / ${ms(p95(t.restLookup))}`,
      `${ms(median(t.rawLookup))} / ${ms(p95(t.rawLookup))}`,
      t.restList.length,
    ]);
  };

  // Everything measured so far is printed even when a later step fails (the report says where the
  // run stopped): a database that gives up after an hour must not take the figures with it.
  let failure;
  let big;
  let bigId;
  const restLat = [];
  const rawLat = [];
  let restMs = 0;
  let rawMs = 0;
  const chunkRows = [];
  const restCpu = { server: 0, db: 0, client: 0 };
  const rawCpu = { server: 0, db: 0, client: 0 };
  let itemsAtPages = 0;
  const pageRows = [];
  try {
    for (const size of opts.sizes) {
      progress(`flatness: growing the item collection to ${int(size)} items (folders of 50)`);
      await fill(size);
      await measureFlat(int(itemsInDb), int(itemsInDb));
    }
    if (opts.sizes.length) memMark(`after filling ${int(itemsInDb)} items in folders of 50`);

    // ------------------------------------------------------------------------------------------
    // the big folder: N items through REST and N raw inserts, interleaved in chunks

    big = (await api.post(`/folder?${q({ parentType: 'collection', parentId: collId, name: 'big' })}`)).body;
    bigId = new ObjectId(big._id);
    const chunk = Math.max(1000, Math.ceil(N / 10));
    const cpuPids = { server: server.pid, db: dbPid, client: 'self' };
    const addCpu = (acc, d) => Object.keys(acc).forEach((k) => (acc[k] += d[k]));
    progress(`inserting ${int(N)} items into one folder, REST and raw alternating in chunks of ${int(chunk)}`);
    for (let from = 1; from <= N; from += chunk) {
      const n = Math.min(chunk, N - from + 1);
      let cpu0 = cpuSnapshot(cpuPids);
      let t0 = performance.now();
      restLat.push(...(await pool(n, opts.concurrency, (i) => api.post(`/item?${q({ folderId: big._id, name: itemName(from + i) })}`))));
      const restChunkMs = performance.now() - t0;
      restMs += restChunkMs;
      let cpu1 = cpuSnapshot(cpuPids);
      addCpu(restCpu, cpuDelta(cpu0, cpu1));
      cpu0 = cpu1;
      t0 = performance.now();
      rawLat.push(
        ...(await pool(n, opts.concurrency, (i) => raw.insertOne(itemDoc(itemName(from + i), bigId)))),
      );
      const rawChunkMs = performance.now() - t0;
      rawMs += rawChunkMs;
      addCpu(rawCpu, cpuDelta(cpu0, cpuSnapshot(cpuPids)));
      chunkRows.push([`${int(from)}–${int(from + n - 1)}`, int((n / restChunkMs) * 1000), int((n / rawChunkMs) * 1000), mib(rssKiB(server.pid)), mib(rssKiB(dbPid))]);
      progress(`  ${int(from + n - 1)} / ${int(N)}: REST ${int((restLat.length / restMs) * 1000)} items/s, raw ${int((rawLat.length / rawMs) * 1000)} items/s`);
    }
    itemsInDb += N;
    itemsAtPages = itemsInDb;
    memMark(`after ${int(N)} REST + ${int(N)} raw inserts`);

    // ------------------------------------------------------------------------------------------
    // pages of the big folder

    const offsets = [...new Set([0, Math.floor(N / 2), N - 50])];
    const checkPage = (names, k, what) => {
      if (names.length !== 50 || names[0] !== itemName(k + 1) || names[49] !== itemName(k + 50)) {
        progress(`WARNING: ${what} at ${k} returned ${names.length} items ${names[0]} … ${names.at(-1)}`);
      }
    };
    for (const k of offsets) {
      for (const mode of ['offset', 'keyset']) {
        const useAfter = mode === 'keyset' && k > 0;
        const after = itemName(k); // the last name of the previous page
        const restPath = `/item?${q({ folderId: big._id, limit: 50, ...(useAfter ? { after } : { offset: k }), sort: 'lowerName' })}`;
        const rawFilter = useAfter ? { folderId: bigId, lowerName: { $gt: after } } : { folderId: bigId };
        const rawFind = () => raw.find(rawFilter).sort(sort).skip(useAfter ? 0 : k).limit(50).toArray();
        const rawCount = () => raw.countDocuments({ folderId: bigId });
        const variants = [
          {
            key: 'rest',
            fn: async () => {
              const res = await api.get(restPath);
              if (res.headers['girder-total-count'] !== String(N)) progress(`WARNING: Girder-Total-Count ${res.headers['girder-total-count']}, expected ${N}`);
              checkPage(res.body.map((i) => i.name), k, `REST ${mode} page`);
            },
          },
          {
            key: 'raw',
            fn: async () => {
              const [docs, total] = await Promise.all([rawFind(), rawCount()]);
              if (total !== N) progress(`WARNING: raw count ${total}, expected ${N}`);
              checkPage(docs.map((d) => d.name), k, `raw ${mode} page`);
            },
          },
          { key: 'find', fn: rawFind },
          { key: 'count', fn: rawCount },
        ];
        progress(`pages: ${mode} at ${int(k)}`);
        const t = await measure(variants, { runs: opts.runs, budgetMs, warmupMs: pageRows.length ? 500 : 2000 });
        // the same page with the `_id` tie-break (as the server sent it before it dropped it): the
        // same order, but a sort the index cannot deliver, so the whole folder is read and sorted.
        // Seconds in a big folder: timed once, after the others, for the offset pages only.
        if (mode === 'offset') {
          const t0 = performance.now();
          await raw.find(rawFilter).sort(tieBreak).skip(k).limit(50).toArray();
          t.findTie = [performance.now() - t0];
        }
        const rest = median(t.rest);
        const rawM = median(t.raw);
        const target = 1.5 * rawM + 2;
        pageRows.push([
          useAfter ? `after ${itemName(k)}` : `offset ${int(k)}${mode === 'keyset' ? ' (first page: no cursor)' : ''}`,
          ms(rest),
          ms(p95(t.rest)),
          ms(rawM),
          ms(p95(t.raw)),
          ms(median(t.find)),
          ms(median(t.count)),
          ms(median(t.findTie ?? [])),
          ratio(rest, rawM),
          `${ms(target)} ${rest <= target ? 'met' : 'missed'}`,
          t.rest.length,
        ]);
      }
    }
    memMark('after the page queries');

    // one more flatness row, with the big folder in the collection
    if (opts.sizes.length) {
      progress('flatness: again, with the big folder in the item collection');
      await measureFlat(`${int(itemsInDb)} (${int(N)} of them in one folder)`, int(itemsInDb));
    }
  } catch (err) {
    failure = err;
    progress(`stopped early: ${String(err.message).split('\n')[0]} (printing what was measured)`);
    try {
      memMark('when the run stopped');
    } catch {}
  }

  // ------------------------------------------------------------------------------------------
  // report

  if (failure) {
    out(`**The run stopped early** (${String(failure.message).split('\n')[0]}); what was measured before is below.`);
    out();
  }
  if (restLat.length && rawLat.length) {
    // rates over what completed (everything, unless the run stopped early)
    const nRest = restLat.length;
    const nRaw = rawLat.length;
    const restRate = (nRest / restMs) * 1000;
    const rawRate = (nRaw / rawMs) * 1000;
    out(`## Inserts: ${int(nRest)} items into one folder, ${opts.concurrency} in flight`);
    out();
    table(
      ['path', 'items/s', 'latency median ms', 'p95 ms', 'time s', 'CPU ms/item: server', 'database', 'benchmark client'],
      [
        ['REST `POST /item`', int(restRate), ms(median(restLat)), ms(p95(restLat)), (restMs / 1000).toFixed(1), ms(restCpu.server / nRest), ms(restCpu.db / nRest), ms(restCpu.client / nRest)],
        ['raw `insertOne`', int(rawRate), ms(median(rawLat)), ms(p95(rawLat)), (rawMs / 1000).toFixed(1), '–', ms(rawCpu.db / nRaw), ms(rawCpu.client / nRaw)],
      ],
    );
    out();
    out(`REST ÷ raw rate: ${(restRate / rawRate).toFixed(2)} (target ≥ 0.50: ${restRate >= rawRate / 2 ? 'met' : 'missed'})`);
    out();
  }
  if (chunkRows.length > 1) {
    out('By chunk (REST and raw alternate; RSS at the end of each chunk):');
    out();
    table(['items', 'REST items/s', 'raw items/s', 'server RSS', 'database RSS'], chunkRows);
    out();
  }

  if (pageRows.length) {
    out(`## Pages of 50 sorted by name, in a folder of ${int(N)} items (${int(itemsAtPages)} in the item collection and as many in its raw peer; median of up to ${opts.runs} runs)`);
    out();
    out('REST: `GET /item?folderId&limit=50&sort=lowerName` with `offset` or `after` (counts the folder too, for `Girder-Total-Count`).');
    out('raw: the driver\'s `find(...).sort({lowerName:1}).skip(k).limit(50)` and `countDocuments({folderId})` in parallel, as the server does');
    out('(names are unique in a folder, so the server sorts by `lowerName` alone, without an `_id` tie-break, and the index delivers the order);');
    out('"find" and "count" are the two alone; "find + _id tie-break" is the find sorted by `{lowerName: 1, _id: 1}` (the same order, sorted in memory; one run).');
    out('Target: REST ≤ 1.5 × raw + 2 ms.');
    out();
    table(['page', 'REST ms', 'REST p95', 'raw ms', 'raw p95', 'find ms', 'count ms', 'find + _id tie-break ms', 'REST ÷ raw', 'target ms', 'runs'], pageRows);
    out();
  }

  if (flatRows.length) {
    out('## Flatness: a 50-item folder and a path lookup as the item collection grows');
    out();
    out('REST list: `GET /item?folderId&limit=50&sort=lowerName` (with its total count); REST lookup: `GET /resource/lookup?path=/collection/bench/<folder>/<item>`;');
    out('raw: the same queries with the driver on the server\'s own collections (find+count; three `findOne`). Cells: median / p95 ms.');
    out('Folders of 50 items: folders created through REST, their items written with the driver as the server writes them (name reservation + item),');
    out('and the same items into `bench_raw_item`, so that the raw peer of the page queries holds as many documents as the server\'s item collection.');
    out();
    table(['items in the database', 'REST list', 'raw list', 'REST lookup', 'raw lookup', 'runs'], flatRows);
    out();
  }

  out('## Memory (RSS)');
  out();
  table(['when', 'server now', 'server peak', 'database now', 'database peak'], memRows);
  if (!dbPid) out('\n(the database runs elsewhere: give --db-pid to watch its memory)');
  out();

  out('## Query plans');
  out();
  const k = Math.floor(N / 2);
  const plans = !bigId ? { error: 'not measured: the run stopped before the big folder was made' } : failure ? { error: 'not asked: the run stopped early' } : await explainAll(db, [
    { label: 'REST page at offset N/2 (item)', command: { find: 'item', filter: { folderId: bigId }, sort, skip: k, limit: 50 } },
    { label: 'keyset page after N/2 (item)', command: { find: 'item', filter: { folderId: bigId, lowerName: { $gt: itemName(k) } }, sort, limit: 50 } },
    { label: 'count of the folder (item)', command: { aggregate: 'item', pipeline: [{ $match: { folderId: bigId } }, { $group: { _id: 1, n: { $sum: 1 } } }], cursor: {} } },
    { label: 'lookup of an item by name (item)', command: { find: 'item', filter: { folderId: bigId, lowerName: itemName(k) }, limit: 1 } },
    { label: 'raw page at offset N/2 (bench_raw_item)', command: { find: 'bench_raw_item', filter: { folderId: bigId }, sort, skip: k, limit: 50 } },
    { label: 'page at offset N/2 with the _id tie-break (item)', command: { find: 'item', filter: { folderId: bigId }, sort: tieBreak, skip: k, limit: 50 } },
  ]);
  if (plans.error && (!bigId || failure)) out(`No query plans (${plans.error}).`);
  else if (plans.error) out(`The database cannot explain queries (${db0.handle.engine === 'embedded' || /java/.test(dbCmd?.[0] ?? '') ? 'mongo-java-server has no explain' : 'explain failed'}: ${plans.error}).`);
  else table(['query', 'winning plan', 'keys examined', 'docs examined', 'returned', 'ms'], plans.rows);
  out();
  out(`(whole run: ${((performance.now() - started) / 1000).toFixed(0)} s; load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  if (failure) throw failure;
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  process.stderr.write(`bench failed: ${err.stack ?? err}\n${serverGone && !String(err.message).includes(serverGone) ? `(${serverGone})\n` : ''}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);

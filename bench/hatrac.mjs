#!/usr/bin/env node
// Hatrac benchmark (issue 14, "Benchmark"): objects PUT and GET through `/hatrac` against plain
// file uploads and downloads of the same sizes through the same server's Girder REST API
// (`/api/v1/file`), in the same run, with the same client code.
//
//   node bench/hatrac.mjs [--small 1000] [--big-mib 1024] [--big-chunk-mib 64] [--concurrency 8]
//                         [--rounds 2] [--md5] [--cpu-prof DIR]
//
// The server is `node dist/main.js` (built first when dist/ is stale) with a temp DATA_DIR on a
// free port, on its own embedded database unless MONGO_URI is set (then a fresh database name,
// dropped at the end when MONGO_URI names none). A user is made through POST /api/v1/user; the
// admin grants it `create` on the Hatrac root; both paths authenticate with its token
// (`Girder-Token`). The server runs with HATRAC_MAX_PAYLOAD_BYTES raised to the big object's size
// so that it can take it in one PUT (the default, 128 MiB, answers 413: clients then use a
// chunked upload job, measured too).
//
// Each round (--rounds, default 2; the order of the two paths alternates between rounds):
//   small  --small objects of 4 KiB (distinct random bytes, fresh names) with --concurrency
//          requests in flight on one keep-alive agent per path (maxSockets = concurrency):
//            Hatrac  PUT /hatrac/bench/r<R>/small/o-<i> (Content-Type, Content-Length; Content-MD5
//                    with --md5), then GET of each;
//            REST    POST /api/v1/file?parentType=folder&parentId=…&name=o-<i>&size=4096 with the
//                    bytes as the body (the upload's only chunk), then GET /api/v1/file/<id>/download;
//   big    one --big-mib MiB object per path and mode, streamed from a generator (never held in
//          memory): "one request" (Hatrac PUT; REST POST /file with the whole body) and, unless
//          --big-chunk-mib 0, "chunked" (Hatrac: POST ;upload, PUT …;upload/<job>/<n>, POST to
//          finalize; REST: POST /file, then POST /file/chunk?uploadId&offset), chunks sent one
//          after the other; then GET of every big object; then they are deleted (untimed).
// Before each timed phase and transfer the benchmark waits until the server and its database use
// less than 10 % of a core (at most 10 s), so that work one phase left behind (the database
// writing its store, garbage collection) is not billed to the next.
// Every GET's bytes are hashed (SHA-256) and compared with what was PUT, and every PUT's answer
// is checked (status, the version URL or the file's size): a broken answer stops the run.
// Prints markdown tables to stdout: ops/s (small), MiB/s (big), Hatrac ÷ REST, latencies, server
// CPU per request (Node, and the embedded database, from /proc), the server's RSS (sampled every
// 250 ms: peak overall, min/max during every big transfer). Asserts nothing; when a step fails,
// what was measured before is printed, then the error (exit 1). Progress goes to stderr.
// --md5: Hatrac PUTs of small objects carry Content-MD5 (as DERIVA's client sends it; the server
// then hashes too, REST does not). --cpu-prof DIR: runs the server under `node --cpu-prof` and
// prints its hottest functions and packages (the profile covers the whole run).
// Environment: MONGO_URI, CACHE_DIR / XDG_CACHE_HOME, BENCH_SERVER_MAIN (another build of the
// server's entry point instead of dist/main.js).

import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { summarizeProfile } from './lib/cpu-profile.mjs';
import { serverNodeFlags } from './lib/server-flags.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SMALL = 4096;
const MiB = 1024 * 1024;
const LOGIN = 'benchhatrac';
const ACCOUNT_PASSWORD = 'bench-account-1';
const ADMIN_PASSWORD = 'bench-admin-1';
const PATHS = ['hatrac', 'rest'];
const LABELS = { hatrac: 'Hatrac', rest: 'REST' };
const HATRAC_DEFAULT_MAX = 134_217_728;

// ---------------------------------------------------------------------------------------------
// options

function parseArgs(argv) {
  const opts = { small: 1000, bigMib: 1024, bigChunkMib: 64, concurrency: 8, rounds: 2, md5: false, cpuProf: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--small': opts.small = Number(value()); break;
      case '--big-mib': opts.bigMib = Number(value()); break;
      case '--big-chunk-mib': opts.bigChunkMib = Number(value()); break;
      case '--concurrency': opts.concurrency = Number(value()); break;
      case '--rounds': opts.rounds = Number(value()); break;
      case '--md5': opts.md5 = true; break;
      case '--cpu-prof': opts.cpuProf = path.resolve(value()); break;
      case '-h': case '--help': {
        const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1);
        const header = lines.slice(0, lines.findIndex((l) => !l.startsWith('//')));
        process.stdout.write(`${header.map((l) => l.replace(/^\/\/ ?/, '')).join('\n')}\n`);
        process.exit(0);
        break;
      }
      default:
        throw new Error(`unknown option ${argv[i]} (try --help)`);
    }
  }
  const bad = (n, min) => !Number.isInteger(n) || n < min;
  if (bad(opts.small, 0)) throw new Error('--small must be an integer ≥ 0 (0 skips the small objects)');
  if (bad(opts.bigMib, 0)) throw new Error('--big-mib must be an integer ≥ 0 (0 skips the big object)');
  if (bad(opts.bigChunkMib, 0)) throw new Error('--big-chunk-mib must be an integer ≥ 0 (0 skips the chunked uploads)');
  if (bad(opts.concurrency, 1)) throw new Error('--concurrency must be an integer ≥ 1');
  if (bad(opts.rounds, 1)) throw new Error('--rounds must be an integer ≥ 1');
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
function num(x, digits) {
  if (!Number.isFinite(x)) return '–';
  if (digits !== undefined) return x.toFixed(digits);
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}
const ratioOf = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
const ratio = (a, b) => (Number.isFinite(ratioOf(a, b)) ? `${ratioOf(a, b).toFixed(2)}×` : '–');
const mibOf = (kib) => (kib == null || !Number.isFinite(kib) ? '–' : `${(kib / 1024).toFixed(0)} MiB`);
const int = (n) => Math.round(n).toLocaleString('en-US');
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
const loadavg = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

/** A markdown table with padded columns (readable as text, pasteable into a .md file). */
function table(headers, rows, align) {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c)));
  const width = headers.map((_, i) => Math.max(3, ...cells.map((r) => [...r[i]].length)));
  const right = (i) => (align ? align[i] === 'r' : i > 0);
  const padCell = (s, i) => (right(i) ? s.padStart(width[i]) : s.padEnd(width[i]));
  const line = (r) => `| ${r.map(padCell).join(' | ')} |`;
  out(line(cells[0]));
  out(`|${width.map((w, i) => (right(i) ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`);
  for (const r of cells.slice(1)) out(line(r));
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` in flight; returns per-call latencies. Stops at the first error. */
async function pool(n, concurrency, fn) {
  const lat = new Array(n);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < n && !failed) {
      const i = next++;
      const t0 = performance.now();
      try {
        await fn(i);
      } catch (err) {
        failed = true;
        throw err;
      }
      lat[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return lat;
}

// ---------------------------------------------------------------------------------------------
// processes: memory and CPU

function rssKiB(pid) {
  if (!pid) return undefined;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system, ms) of one process, from /proc/<pid>/stat. */
function cpuMs(pid) {
  if (!pid) return NaN;
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** CPU of the server (Node) and of its database process, ms. */
class CpuMeter {
  constructor(pids) {
    this.pids = pids; // {server, db}
  }
  snap() {
    return { server: cpuMs(this.pids.server), db: this.pids.db ? cpuMs(this.pids.db) : NaN };
  }
  since(s0) {
    const s1 = this.snap();
    return { server: s1.server - s0.server, db: s1.db - s0.db };
  }
}

/**
 * Waits until the server and its database are quiet (less than 10 % of a core over 250 ms, at most
 * 10 s): what one phase left behind (the database writing its store, garbage collection) is not
 * billed to the next one. Returns the ms waited.
 */
async function settle(cpu) {
  const t0 = performance.now();
  let prev = cpu.snap();
  for (;;) {
    await sleep(250);
    const now = cpu.snap();
    const used = now.server - prev.server + (Number.isFinite(now.db) ? now.db - prev.db : 0);
    prev = now;
    if (used < 25 || performance.now() - t0 > 10_000) return performance.now() - t0;
  }
}

/**
 * Samples the RSS of the server (and its database) every 250 ms: peaks per mark, and windows
 * (min/max of the server's RSS while one transfer runs, split at half of its bytes).
 */
class MemoryWatch {
  constructor(pids) {
    this.pids = pids;
    this.peak = {};
    this.sincePeak = {};
    this.window = null;
    this.timer = setInterval(() => this.sample(), 250);
    this.timer.unref();
    this.sample();
  }
  sample() {
    const now = {};
    for (const [k, pid] of Object.entries(this.pids)) {
      now[k] = rssKiB(pid);
      if (now[k] != null) {
        this.peak[k] = Math.max(this.peak[k] ?? 0, now[k]);
        this.sincePeak[k] = Math.max(this.sincePeak[k] ?? 0, now[k]);
      }
    }
    const w = this.window;
    if (w && now.server != null) {
      const half = w.bytes() < w.size / 2 ? 'first' : 'second';
      w.min = Math.min(w.min, now.server);
      w.max = Math.max(w.max, now.server);
      w[half] = Math.max(w[half] ?? 0, now.server);
      w.samples++;
    }
    return now;
  }
  mark() {
    const now = this.sample();
    const peak = this.sincePeak;
    this.sincePeak = { ...now };
    return { now, peak };
  }
  open(size, bytes) {
    this.window = { size, bytes, min: Infinity, max: 0, samples: 0 };
    this.sample();
  }
  close() {
    this.sample();
    const w = this.window;
    this.window = null;
    return w;
  }
  stop() {
    clearInterval(this.timer);
  }
}

// ---------------------------------------------------------------------------------------------
// clean-up and the server process

const cleanups = [];
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
const children = new Set();
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err;
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    progress(`${sig}: stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Builds dist/ when it is missing or older than a source file; a failing build with a dist/ present only warns. */
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
  try {
    execFileSync('npx', ['tsc', '-b', 'tsconfig.build.json'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    if (!existsSync(path.join(repoRoot, 'dist', 'main.js'))) throw err;
    progress('WARNING: the build failed; measuring the dist/ that is there');
  }
}

/** The commit of the checkout `main` was built in (the directory above its dist/), and whether its src/ has changes. */
function gitDescribe(main) {
  const root = path.dirname(path.dirname(main));
  try {
    const top = execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (path.resolve(top) !== path.resolve(root)) return 'not a git checkout';
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `commit ${head}${dirty ? ' + uncommitted changes in src/' : ''}`;
  } catch {
    return 'not a git checkout';
  }
}

function pidsUnder(pid) {
  const found = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}
function readCmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Starts `node dist/main.js` on a free port with a temp DATA_DIR; resolves once it says where it runs. */
async function startServer(opts, bigBytes) {
  if (!process.env.BENCH_SERVER_MAIN) ensureBuilt();
  const main = process.env.BENCH_SERVER_MAIN ? path.resolve(process.env.BENCH_SERVER_MAIN) : path.join(repoRoot, 'dist', 'main.js');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'strata-bench-hatrac-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const dbName = `bench_hatrac_${Math.random().toString(36).slice(2, 10)}`;
  const maxPayload = Math.max(HATRAC_DEFAULT_MAX, bigBytes);
  const env = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    MONGO_DB: dbName,
    ADMIN_LOGIN: 'admin',
    ADMIN_PASSWORD,
    LOG_LEVEL: 'warn',
    REGISTRATION: 'open',
    HATRAC_MAX_PAYLOAD_BYTES: String(maxPayload),
  };
  for (const k of ['CONFIG_FILE', 'TLS_CERT', 'TLS_KEY', 'NODE_OPTIONS', 'HATRAC_READ_ONLY', 'HATRAC_ROOT_OWNERS']) delete env[k];
  for (const k of Object.keys(env)) if (k.startsWith('HATRAC_FIREWALL_')) delete env[k];
  const nodeArgs = serverNodeFlags(repoRoot);
  if (opts.cpuProf) {
    mkdirSync(opts.cpuProf, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`);
  }
  const child = spawn(process.execPath, [...nodeArgs, main], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const tail = [];
  let gone;
  let started = false;
  let stopping = false;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  void exited.then((code) => {
    gone = `the server exited (${code})`;
    children.delete(child);
    if (started && !cleaningUp && !stopping) progress(`${gone} unexpectedly`);
  });
  let resolveUrl;
  const urlSeen = new Promise((r) => (resolveUrl = r));
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        tail.push(line);
        if (tail.length > 200) tail.shift();
        const m = /running on (https?:\/\/\S+)/.exec(line);
        if (m && !started) {
          started = true;
          resolveUrl(m[1]);
        } else if (started && line.trim() && !/^\s+(REST API|API docs|Initial admin)/.test(line)) {
          progress(`server: ${line}`);
        }
      }
    });
  }
  const stop = async () => {
    stopping = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    await exited;
    clearTimeout(timer);
  };
  cleanups.push(stop);
  if (process.env.MONGO_URI && !/^mongodb(?:\+srv)?:\/\/[^/]+\/[^?]+/.test(process.env.MONGO_URI)) {
    // our database on someone else's MongoDB: dropped after the server stopped (clean-ups run last first)
    cleanups.splice(cleanups.length - 1, 0, async () => {
      const require = createRequire(path.join(repoRoot, 'package.json'));
      const { MongoClient } = require('mongodb');
      const client = new MongoClient(process.env.MONGO_URI);
      try {
        await client.connect();
        await client.db(dbName).dropDatabase();
      } finally {
        await client.close();
      }
    });
  }
  const t0 = performance.now();
  const base = await Promise.race([
    urlSeen,
    exited.then((code) => {
      throw new Error(`the server exited (${code}) before it was ready:\n${tail.join('\n')}`);
    }),
    sleep(180_000).then(() => {
      if (!started) throw new Error(`the server did not start within 180 s:\n${tail.join('\n')}`);
    }),
  ]);
  const url = base.replace(/\/+$/, '');
  progress(`server ready at ${url} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  let dbPid;
  if (!process.env.MONGO_URI) {
    // the embedded database runs as a child of the server with the data directory in its command line
    for (let i = 0; i < 20 && !dbPid; i++) {
      dbPid = pidsUnder(child.pid).find((p) => readCmdline(p).includes(dataDir));
      if (!dbPid) await sleep(100);
    }
  }
  return {
    url,
    pid: child.pid,
    dbPid,
    stop,
    gone: () => gone,
    output: () => tail.join('\n'),
    maxPayload,
    description: `Strata \`${process.env.BENCH_SERVER_MAIN ? main : path.relative(repoRoot, main)}\` (${gitDescribe(main)}), Node ${process.version}, ${process.env.MONGO_URI ? 'database from MONGO_URI' : 'embedded database (a separate Java process)'}, HATRAC_MAX_PAYLOAD_BYTES=${maxPayload}${opts.cpuProf ? ', under --cpu-prof' : ''}`,
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP: one client for both paths

/** Content generated block by block (1 MiB): a random pattern stamped with a tag and the block's number. */
class Generated {
  constructor(tag, size, pattern) {
    this.tag = tag;
    this.size = size;
    this.pattern = pattern;
  }
  /** The bytes [start, start + length) in blocks of at most 1 MiB; `start` is a multiple of 1 MiB. */
  *blocks(start, length) {
    for (let at = start; at < start + length; at += MiB) {
      const n = Math.min(MiB, start + length - at);
      const block = Buffer.allocUnsafe(n);
      this.pattern.copy(block, 0, 0, n);
      if (n >= 8) {
        block.writeUInt32BE(this.tag, 0);
        block.writeUInt32BE(at / MiB, 4);
      }
      yield block;
    }
  }
}

class Client {
  constructor(base, concurrency) {
    this.base = base;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    this.token = undefined;
    this.serverGone = () => undefined;
  }

  /**
   * One request. `body`: a Buffer (resent once when a kept-alive socket was closed under us) or
   * {source: Generated, start, length, hash?, onProgress?} streamed with backpressure. The answer
   * is collected, or (`stream`) hashed and counted as it arrives.
   */
  async call(method, p, { headers = {}, body, ok = [200], stream } = {}) {
    for (let attempt = 0; ; attempt++) {
      const gone = this.serverGone();
      if (gone) throw new Error(gone);
      try {
        const res = await this.once(method, p, headers, body, stream);
        if (!ok.includes(res.status)) {
          throw new Error(`${method} ${p} answered ${res.status} (expected ${ok.join('/')}): ${res.body ? res.body.toString('utf8').slice(0, 400) : ''}`);
        }
        return res;
      } catch (err) {
        const retriable = attempt === 0 && err.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE') && (body === undefined || Buffer.isBuffer(body));
        if (!retriable) throw err;
      }
    }
  }

  once(method, p, extraHeaders, body, stream) {
    return new Promise((resolve, reject) => {
      const headers = { ...extraHeaders };
      if (this.token) headers['girder-token'] = this.token;
      if (Buffer.isBuffer(body)) headers['content-length'] = body.length;
      else if (body) headers['content-length'] = body.length;
      else if (method === 'PUT' || method === 'POST') headers['content-length'] = 0;
      const req = http.request(`${this.base}${p}`, { method, headers, agent: this.agent }, (res) => {
        const collect = !stream || res.statusCode >= 300;
        const chunks = collect ? [] : null;
        const hash = collect ? null : createHash('sha256');
        let length = 0;
        res.on('data', (c) => {
          length += c.length;
          if (chunks) chunks.push(c);
          else {
            hash.update(c);
            stream.onProgress?.(length);
          }
        });
        res.on('error', reject);
        res.on('end', () => {
          const buf = chunks ? Buffer.concat(chunks) : null;
          let json;
          if (buf && /json/.test(res.headers['content-type'] ?? '')) {
            try {
              json = JSON.parse(buf.toString('utf8'));
            } catch {
              json = undefined;
            }
          }
          resolve({ status: res.statusCode, headers: res.headers, body: buf, json, length, sha256: hash ? hash.digest('hex') : buf && sha256(buf) });
        });
      });
      req.on('error', (err) => {
        err.reusedSocket = req.reusedSocket;
        reject(err);
      });
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        // stream the generated bytes, honouring backpressure; nothing is kept once written
        const it = body.source.blocks(body.start, body.length);
        let sent = 0;
        const pump = () => {
          for (;;) {
            const { value, done } = it.next();
            if (done) {
              req.end();
              return;
            }
            body.hash?.update(value);
            sent += value.length;
            body.onProgress?.(sent);
            if (!req.write(value)) {
              req.once('drain', pump);
              return;
            }
          }
        };
        pump();
      }
    });
  }

  close() {
    this.agent.destroy();
  }
}

const q = (params) => new URLSearchParams(params).toString();
const basic = (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

// ---------------------------------------------------------------------------------------------
// the two paths: the same operations, each its own way

/** Hatrac: objects under /hatrac/bench/…; `ns` is a namespace path without the prefix. */
function hatracPath(client, opts) {
  return {
    key: 'hatrac',
    client,
    async makeContainer(ns) {
      await client.call('PUT', `/hatrac${ns}?parents=true`, { headers: { 'content-type': 'application/x-hatrac-namespace' }, ok: [201] });
      return ns;
    },
    async putSmall(ns, name, buf) {
      const headers = { 'content-type': 'application/octet-stream' };
      if (opts.md5) headers['content-md5'] = createHash('md5').update(buf).digest('base64');
      const res = await client.call('PUT', `/hatrac${ns}/${name}`, { headers, body: buf, ok: [201] });
      const loc = res.headers.location ?? '';
      if (!loc.startsWith(`/hatrac${ns}/${name}:`)) throw new Error(`Hatrac PUT ${ns}/${name} answered Location ${loc}`);
      return { ref: `/hatrac${ns}/${name}` };
    },
    getPath: (ref) => ref,
    async putBig(ns, name, source, hash, onProgress) {
      const res = await client.call('PUT', `/hatrac${ns}/${name}`, {
        headers: { 'content-type': 'application/octet-stream' },
        body: { source, start: 0, length: source.size, hash, onProgress },
        ok: [201],
      });
      if (!(res.headers.location ?? '').startsWith(`/hatrac${ns}/${name}:`)) throw new Error(`Hatrac PUT ${ns}/${name} answered Location ${res.headers.location}`);
      return { ref: `/hatrac${ns}/${name}`, requests: 1 };
    },
    async putChunked(ns, name, source, chunk, hash, onProgress) {
      const spec = Buffer.from(JSON.stringify({ 'chunk-length': chunk, 'content-length': source.size, 'content-type': 'application/octet-stream' }));
      const made = await client.call('POST', `/hatrac${ns}/${name};upload`, { headers: { 'content-type': 'application/json' }, body: spec, ok: [201] });
      const job = made.headers.location;
      if (!job?.startsWith(`/hatrac${ns}/${name};upload/`)) throw new Error(`Hatrac upload job answered Location ${job}`);
      let requests = 1;
      for (let i = 0, at = 0; at < source.size; i++, at += chunk) {
        const length = Math.min(chunk, source.size - at);
        await client.call('PUT', `${job}/${i}`, { body: { source, start: at, length, hash, onProgress: (b) => onProgress(at + b) }, ok: [204] });
        requests++;
      }
      const done = await client.call('POST', job, { ok: [201] });
      if (!(done.headers.location ?? '').startsWith(`/hatrac${ns}/${name}:`)) throw new Error(`Hatrac finalize of ${job} answered Location ${done.headers.location}`);
      return { ref: `/hatrac${ns}/${name}`, requests: requests + 1 };
    },
    async remove(ref) {
      await client.call('DELETE', ref, { ok: [204] });
    },
  };
}

/** REST: files in folders under the user's folder `bench`; refs are file ids. */
function restPath(client, root) {
  const folders = new Map([['/bench', root]]); // path → id; the user's folder `bench` is /bench
  const folderFor = async (p) => {
    if (folders.has(p)) return folders.get(p);
    const parent = await folderFor(p.slice(0, p.lastIndexOf('/')));
    const name = p.slice(p.lastIndexOf('/') + 1);
    const res = await client.call('POST', `/api/v1/folder?${q({ parentType: 'folder', parentId: parent, name, reuseExisting: 'true' })}`);
    folders.set(p, res.json._id);
    return res.json._id;
  };
  const checkFile = (res, name, size) => {
    if (res.json?._modelType !== 'file' || res.json.size !== size || res.json.name !== name) throw new Error(`REST upload of ${name} answered ${res.body?.toString('utf8').slice(0, 300)}`);
    return res.json;
  };
  return {
    key: 'rest',
    client,
    makeContainer: (ns) => folderFor(ns),
    async putSmall(folderId, name, buf) {
      const res = await client.call('POST', `/api/v1/file?${q({ parentType: 'folder', parentId: folderId, name, size: buf.length })}`, {
        headers: { 'content-type': 'application/octet-stream' },
        body: buf,
      });
      const file = checkFile(res, name, buf.length);
      return { ref: file._id, itemId: file.itemId };
    },
    getPath: (ref) => `/api/v1/file/${ref}/download`,
    async putBig(folderId, name, source, hash, onProgress) {
      const res = await client.call('POST', `/api/v1/file?${q({ parentType: 'folder', parentId: folderId, name, size: source.size })}`, {
        headers: { 'content-type': 'application/octet-stream' },
        body: { source, start: 0, length: source.size, hash, onProgress },
      });
      const file = checkFile(res, name, source.size);
      return { ref: file._id, itemId: file.itemId, requests: 1 };
    },
    async putChunked(folderId, name, source, chunk, hash, onProgress) {
      const started = await client.call('POST', `/api/v1/file?${q({ parentType: 'folder', parentId: folderId, name, size: source.size })}`);
      const uploadId = started.json?._id;
      if (started.json?._modelType !== 'upload' || !uploadId) throw new Error(`REST upload start answered ${started.body?.toString('utf8').slice(0, 300)}`);
      let res;
      let requests = 1;
      for (let at = 0; at < source.size; at += chunk) {
        const length = Math.min(chunk, source.size - at);
        res = await client.call('POST', `/api/v1/file/chunk?${q({ uploadId, offset: at })}`, {
          headers: { 'content-type': 'application/octet-stream' },
          body: { source, start: at, length, hash, onProgress: (b) => onProgress(at + b) },
        });
        requests++;
      }
      const file = checkFile(res, name, source.size);
      return { ref: file._id, itemId: file.itemId, requests };
    },
    async remove(ref, itemId) {
      await client.call('DELETE', `/api/v1/item/${itemId}`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CPU profile summary (as bench/webdav.mjs)

// ---------------------------------------------------------------------------------------------
// main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const startedAt = new Date();
  const loadStart = loadavg();
  const bigBytes = opts.bigMib * MiB;
  const chunkBytes = opts.bigChunkMib * MiB;
  const C = opts.concurrency;
  const N = opts.small;

  const server = await startServer(opts, bigBytes);
  const cpu = new CpuMeter({ server: server.pid, db: server.dbPid });
  const mem = new MemoryWatch({ server: server.pid, db: server.dbPid });
  cleanups.push(async () => mem.stop());
  const memRows = [];
  const memMark = (when) => {
    const { now, peak } = mem.mark();
    memRows.push([when, mibOf(now.server), mibOf(peak.server), mibOf(now.db), mibOf(peak.db)]);
  };

  // the user, its token, create rights on the Hatrac root (granted by the admin), its REST folder
  const admin = new Client(server.url, 2);
  cleanups.push(async () => admin.close());
  admin.serverGone = server.gone;
  const adminLogin = await admin.call('GET', '/api/v1/user/authentication', { headers: { authorization: basic('admin', ADMIN_PASSWORD) } });
  admin.token = adminLogin.json?.authToken?.token;
  if (!admin.token) throw new Error(`admin login answered without a token: ${adminLogin.body?.toString('utf8').slice(0, 300)}`);
  const made = await admin.call('POST', `/api/v1/user?${q({ login: LOGIN, email: `${LOGIN}@example.org`, firstName: 'Bench', lastName: 'Hatrac', password: ACCOUNT_PASSWORD })}`);
  const userId = made.json?._id;
  const userLogin = await admin.call('GET', '/api/v1/user/authentication', { headers: { authorization: basic(LOGIN, ACCOUNT_PASSWORD) } });
  const token = userLogin.json?.authToken?.token;
  if (!userId || !token) throw new Error(`making the user answered ${made.body?.toString('utf8').slice(0, 300)} / ${userLogin.body?.toString('utf8').slice(0, 300)}`);
  await admin.call('PUT', `/hatrac/;acl/create/${LOGIN}`, { ok: [204] });

  const clientFor = () => {
    const c = new Client(server.url, C);
    c.token = token;
    c.serverGone = server.gone;
    cleanups.push(async () => c.close());
    return c;
  };
  const hatrac = hatracPath(clientFor(), opts);
  const restClient = clientFor();
  const benchFolder = (await restClient.call('POST', `/api/v1/folder?${q({ parentType: 'user', parentId: userId, name: 'bench' })}`)).json._id;
  const rest = restPath(restClient, benchFolder);
  await hatrac.makeContainer('/bench');
  // (REST: the user's folder `bench` plays the namespace /bench)
  const paths = { hatrac, rest };
  memMark('after start-up and set-up');

  // per path and operation: count, ms, latencies, server CPU
  const cells = {};
  const add = (key, op, { n, ms, lat = [], cpuD = { server: NaN, db: NaN }, bytes = 0, requests = 0 }) => {
    const c = (cells[`${key}:${op}`] ??= { n: 0, ms: 0, lat: [], server: 0, db: 0, bytes: 0, requests: 0, rounds: [] });
    c.n += n;
    c.ms += ms;
    c.lat.push(...lat);
    c.server += cpuD.server;
    c.db += cpuD.db;
    c.bytes += bytes;
    c.requests += requests;
    c.rounds.push(n && !bytes ? (n / ms) * 1000 : bytes / MiB / (ms / 1000));
  };
  const cell = (key, op) => cells[`${key}:${op}`];
  const rate = (key, op) => {
    const c = cell(key, op);
    return c ? (c.n / c.ms) * 1000 : NaN;
  };
  const mibs = (key, op) => {
    const c = cell(key, op);
    return c ? c.bytes / MiB / (c.ms / 1000) : NaN;
  };
  const transfers = []; // one row per big transfer
  const orderOf = (r) => (r % 2 === 0 ? PATHS : [...PATHS].reverse());

  let settled = 0; // ms spent waiting for a quiet server before timed phases
  let failure;
  let peakRss;
  let peakDb;
  try {
    // ------------------------------------------------------------------------------------------
    // warm-up: both paths, every kind of request, untimed

    progress('warm-up');
    for (const key of PATHS) {
      const p = paths[key];
      const where = await p.makeContainer('/bench/warm');
      const W = Math.min(80, Math.max(8, N));
      const bufs = Array.from({ length: W }, () => randomBytes(SMALL));
      const refs = [];
      await pool(W, C, async (i) => (refs[i] = await p.putSmall(where, `w-${i}`, bufs[i])));
      await pool(W, C, async (i) => {
        const res = await p.client.call('GET', p.getPath(refs[i].ref));
        if (res.sha256 !== sha256(bufs[i])) throw new Error(`${LABELS[key]}: warm-up GET answered other bytes`);
      });
    }
    memMark('after the warm-up');

    for (let r = 0; r < opts.rounds; r++) {
      const round = r + 1;
      const order = orderOf(r);
      progress(`round ${round}: ${order.map((k) => LABELS[k]).join(' first, then ')}`);

      // ----------------------------------------------------------------------------------------
      // small objects

      if (N > 0) {
        const data = {};
        const refs = {};
        const where = {};
        for (const key of order) {
          data[key] = Array.from({ length: N }, () => randomBytes(SMALL));
          refs[key] = new Array(N);
          where[key] = await paths[key].makeContainer(`/bench/r${round}/small`);
        }
        const names = Array.from({ length: N }, (_, i) => `o-${String(i).padStart(6, '0')}`);
        for (const op of ['PUT', 'GET']) {
          for (const key of order) {
            const p = paths[key];
            settled += await settle(cpu);
            const c0 = cpu.snap();
            const t0 = performance.now();
            const lat = await pool(N, C, async (i) => {
              if (op === 'PUT') refs[key][i] = await p.putSmall(where[key], names[i], data[key][i]);
              else {
                const res = await p.client.call('GET', p.getPath(refs[key][i].ref));
                if (res.length !== SMALL || res.sha256 !== sha256(data[key][i])) throw new Error(`${LABELS[key]}: GET of ${names[i]} answered ${res.length} bytes${res.length === SMALL ? ' with other content' : ''}`);
              }
            });
            const ms = performance.now() - t0;
            add(key, op, { n: N, ms, lat, cpuD: cpu.since(c0) });
            progress(`  small ${op} ${LABELS[key]}: ${num((N / ms) * 1000)}/s (load ${loadavg()})`);
          }
        }
        memMark(`round ${round}: after ${int(N)} small PUT + GET per path`);
      }

      // ----------------------------------------------------------------------------------------
      // the big object: up in one request, up in chunks, down

      if (bigBytes > 0) {
        const pattern = randomBytes(MiB);
        const modes = chunkBytes > 0 ? ['one request', 'chunked'] : ['one request'];
        const stored = [];
        const where = {};
        for (const key of order) where[key] = await paths[key].makeContainer(`/bench/r${round}/big`);
        const transfer = async (key, label, fn, size) => {
          let bytes = 0;
          const onProgress = (b) => (bytes = b);
          settled += await settle(cpu);
          mem.open(size, () => bytes);
          const c0 = cpu.snap();
          const t0 = performance.now();
          let result;
          try {
            result = await fn(onProgress);
          } finally {
            const w = mem.close();
            const ms = performance.now() - t0;
            const cpuD = cpu.since(c0);
            if (result) {
              add(key, label, { n: 1, ms, lat: [ms], cpuD, bytes: size, requests: result.requests ?? 1 });
              transfers.push({ round, key, label, ms, w, cpuD, requests: result.requests ?? 1, size });
              progress(`  ${label} ${LABELS[key]}: ${num(size / MiB / (ms / 1000), 1)} MiB/s, server RSS ${mibOf(w.min)}–${mibOf(w.max)} (load ${loadavg()})`);
            }
          }
          return result;
        };
        for (const mode of modes) {
          for (const key of order) {
            const p = paths[key];
            const tag = (round << 8) | (modes.indexOf(mode) << 1) | PATHS.indexOf(key);
            const source = new Generated(tag, bigBytes, pattern);
            const hash = createHash('sha256');
            const name = mode === 'chunked' ? 'big-chunked.bin' : 'big.bin';
            const label = mode === 'chunked' ? `big PUT chunked (${opts.bigChunkMib} MiB chunks)` : 'big PUT, one request';
            const result = await transfer(key, label, (onProgress) => (mode === 'chunked' ? p.putChunked(where[key], name, source, chunkBytes, hash, onProgress) : p.putBig(where[key], name, source, hash, onProgress)), bigBytes);
            stored.push({ key, mode, ref: result.ref, itemId: result.itemId, sha256: hash.digest('hex') });
          }
        }
        for (const mode of modes) {
          for (const key of order) {
            const p = paths[key];
            const s = stored.find((x) => x.key === key && x.mode === mode);
            await transfer(key, 'big GET', async (onProgress) => {
              const res = await p.client.call('GET', p.getPath(s.ref), { stream: { onProgress } });
              if (res.length !== bigBytes) throw new Error(`${LABELS[key]}: GET of the big object (${mode}) answered ${res.length} bytes, expected ${bigBytes}`);
              if (res.sha256 !== s.sha256) throw new Error(`${LABELS[key]}: GET of the big object (${mode}) answered other bytes than were PUT`);
              return { requests: 1 };
            }, bigBytes);
          }
        }
        for (const s of stored) await paths[s.key].remove(s.ref, s.itemId);
        memMark(`round ${round}: after the big transfers`);
      }
    }
  } catch (err) {
    failure = err;
    progress(`stopped early: ${String(err.message).split('\n')[0]} (printing what was measured)`);
    try {
      memMark('when the run stopped');
    } catch {}
  }
  peakRss = mem.peak.server;
  peakDb = mem.peak.db;

  // stop the server now when profiling: the profile is written as it exits
  let profile = null;
  if (opts.cpuProf) {
    progress('stopping the server to write its CPU profile');
    await server.stop();
    profile = summarizeProfile(opts.cpuProf);
  }

  // ------------------------------------------------------------------------------------------
  // report

  out('# Hatrac benchmark');
  out();
  if (failure) {
    out(`**The run stopped early** (${String(failure.message).split('\n')[0]}); what was measured before is below.`);
    out();
  }
  out(`- ${startedAt.toISOString().replace(/\.\d+Z$/, 'Z')}; ${opts.rounds} round${opts.rounds > 1 ? 's' : ''}, the order of the two paths alternating; ${int(N)} small objects of 4 KiB per path and round, ${C} in flight (one keep-alive agent per path, maxSockets ${C})${opts.md5 ? ', Hatrac PUTs with Content-MD5' : ''}; ${bigBytes ? `big object ${int(opts.bigMib)} MiB${chunkBytes ? `, also in ${opts.bigChunkMib} MiB chunks` : ''}` : 'no big object'}; every GET's bytes checked (SHA-256); before each timed phase and transfer the server and its database were let settle (< 10 % of a core, at most 10 s: ${num(settled / 1000, 1)} s in all)`);
  out(`- client: Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model?.trim() ?? '?'}); load average at start ${loadStart}, at the end ${loadavg()}`);
  out(`- server: ${server.description}`);
  out();

  if (N > 0 && (cell('hatrac', 'PUT') || cell('rest', 'PUT'))) {
    out('## Small objects (4 KiB): operations per second');
    out();
    const split = Boolean(server.dbPid);
    const cpuOf = (key, op) => {
      const c = cell(key, op);
      if (!c) return '–';
      return split ? `${num(c.server / c.n)} + ${num(c.db / c.n)}` : num(c.server / c.n);
    };
    const rows = ['PUT', 'GET'].map((op) => [
      op === 'PUT' ? 'PUT 4 KiB (new object / file)' : 'GET 4 KiB',
      num(rate('hatrac', op)),
      num(rate('rest', op)),
      ratio(rate('hatrac', op), rate('rest', op)),
      ...PATHS.map((k) => (cell(k, op) ? `${num(median(cell(k, op).lat))} / ${num(p95(cell(k, op).lat))}` : '–')),
      ...PATHS.map((k) => cpuOf(k, op)),
    ]);
    table(['operation', 'Hatrac ops/s', 'REST ops/s', 'Hatrac ÷ REST', 'Hatrac ms median / p95', 'REST ms median / p95', `Hatrac CPU ms/request${split ? ' (Node + database)' : ''}`, `REST CPU ms/request${split ? ' (Node + database)' : ''}`], rows);
    out();
    out('By round (ops/s; the first path of each round named first):');
    out();
    table(
      ['round', 'order', 'PUT Hatrac', 'PUT REST', 'GET Hatrac', 'GET REST'],
      Array.from({ length: Math.max(...PATHS.map((k) => cell(k, 'PUT')?.rounds.length ?? 0)) }, (_, r) => [
        r + 1,
        orderOf(r).map((k) => LABELS[k]).join(', '),
        ...['PUT', 'GET'].flatMap((op) => PATHS.map((k) => num(cell(k, op)?.rounds[r]))),
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r'],
    );
    out();
  }

  if (transfers.length) {
    out(`## One ${int(opts.bigMib)} MiB object: MiB/s over all rounds`);
    out();
    const labels = [...new Set(transfers.map((t) => t.label))];
    table(
      ['transfer', 'Hatrac MiB/s', 'REST MiB/s', 'Hatrac ÷ REST', 'server CPU s/GiB, Hatrac (Node + database)', 'REST'],
      labels.map((l) => [
        l.replace(/^big /, ''),
        num(mibs('hatrac', l), 1),
        num(mibs('rest', l), 1),
        ratio(mibs('hatrac', l), mibs('rest', l)),
        ...PATHS.map((k) => {
          const c = cell(k, l);
          if (!c) return '–';
          const gib = c.bytes / 1024 / MiB;
          return `${num(c.server / 1000 / gib, 2)} + ${num(c.db / 1000 / gib, 2)}`;
        }),
      ]),
    );
    out();
    out('Every transfer, with the server\'s RSS sampled every 250 ms while it ran (min–max; the max in the first and in the second half of its bytes):');
    out();
    table(
      ['round', 'transfer', 'path', 'requests', 's', 'MiB/s', 'server RSS min–max', 'max 1st half / 2nd half', 'samples', 'server CPU s (Node + database)'],
      transfers.map((t) => [
        t.round,
        t.label.replace(/^big /, ''),
        LABELS[t.key],
        t.requests,
        num(t.ms / 1000, 1),
        num(t.size / MiB / (t.ms / 1000), 1),
        `${mibOf(t.w.min)} – ${mibOf(t.w.max)}`,
        `${mibOf(t.w.first)} / ${mibOf(t.w.second)}`,
        t.w.samples,
        `${num(t.cpuD.server / 1000, 2)} + ${num(t.cpuD.db / 1000, 2)}`,
      ]),
      ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    );
    out();
  }

  out('## Server memory (RSS)');
  out();
  table(['when', 'server now', 'server peak', 'database now', 'database peak'], memRows);
  out();
  out(`Peak RSS of the server over the run: ${mibOf(peakRss)}${peakDb ? ` (its embedded database, a separate Java process: ${mibOf(peakDb)})` : ''}.`);
  out();

  if (profile) {
    const pct = (us) => `${((us / 1000 / profile.busyMs) * 100).toFixed(1)} %`;
    out(`## CPU profile of the server (${path.relative(process.cwd(), profile.file) || profile.file}; ${int(profile.busyMs)} ms busy, idle left out)`);
    out();
    out('By package or file, self time and time on the stack:');
    out();
    const totals = new Map(profile.areaTotal);
    table(['where', 'self', 'on stack'], profile.areaSelf.map(([a, us]) => [a, pct(us), totals.has(a) ? pct(totals.get(a)) : '–']));
    out();
    out('Hottest functions (self time):');
    out();
    table(['function', 'self'], profile.fnSelf.map(([f, us]) => [f, pct(us)]));
    out();
  }
  out(`(whole run: ${((performance.now() - started) / 1000).toFixed(0)} s)`);
  if (failure) throw failure;
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);

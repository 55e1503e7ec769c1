#!/usr/bin/env node
// WebDAV benchmark (issue 13, "Benchmark"): our `/homes/<login>` (webdav-server behind the gateway,
// in two-way sync with the tree) against Apache httpd mod_dav and WsgiDAV, in the same run, with
// the same client code.
//
//   node bench/webdav.mjs [--files 2000] [--folders 20] [--big-mib 512] [--big-rounds 2] [--huge-gib 2]
//                         [--concurrency 8] [--only ours,apache,wsgidav] [--propfind-rounds 5]
//                         [--cpu-prof DIR]
//
// Peers, set up by the benchmark itself (Debian, root; reused on later runs):
//   apache   Debian `apache2` (apt-get install when missing), a private instance: its own config
//            file, ServerRoot, PidFile and DAV root in a temp dir, a free loopback port, mod_dav +
//            mod_dav_fs + mod_auth_basic with an `htpasswd` file (MD5). The system apache2 service
//            is never touched.
//   wsgidav  WsgiDAV + cheroot (+ lxml) from PyPI, pinned, in the venv $CACHE_DIR/bench-venv
//            (CACHE_DIR defaults to ~/.cache/strata), Basic auth, no directory browser,
//            request_queue_size 64 (cheroot's default accept queue of 5 stalls 8 new connections).
//   ours     `node dist/main.js` (built first when dist/ is stale) with a temp DATA_DIR on a free
//            port (its own embedded database unless MONGO_URI is set); a user made through
//            POST /api/v1/user, a WebDAV password through PUT /api/v1/homedirpass/set.
//
// Workload, each phase run on every server in interleaved rounds (the order of the servers
// rotates each round, so load from elsewhere spreads evenly), --concurrency requests in flight on
// one keep-alive agent per server (maxSockets = concurrency):
//   MKCOL the folders; PUT --files files of 4 KiB spread over --folders folders; PROPFIND Depth 1
//   on every folder (--propfind-rounds rounds of 4 passes); GET every file; MOVE every file into
//   the next folder under a new name; DELETE every file; then one --big-mib file PUT and GET
//   (streamed; --big-rounds rounds); then, on our server only, a --huge-gib file up and down
//   while its RSS is sampled.
// Every answer is checked (status, GET body length and bytes, PROPFIND entry count, names and
// sizes), and on our server the tree is checked through REST after each writing phase
// (GET /resource/lookup?path=/user/<login>/Home/..., folder and item listings): a server that
// answers wrongly, or our server with its tree out of sync, stops the benchmark.
//
// Prints markdown tables (ops/s, MiB/s, ours ÷ Apache, ours ÷ WsgiDAV, latencies, server CPU per
// operation, our RSS) to stdout; progress goes to stderr.
// --cpu-prof DIR: runs our server under `node --cpu-prof` (profile written into DIR when it stops)
// and prints its hottest functions and packages. Environment: MONGO_URI (our server's database),
// CACHE_DIR / XDG_CACHE_HOME, BENCH_SERVER_MAIN (another build of our entry point).

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { summarizeProfile } from './lib/cpu-profile.mjs';
import { serverNodeFlags } from './lib/server-flags.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SERVER_KEYS = ['ours', 'apache', 'wsgidav'];
const LABELS = { ours: 'ours', apache: 'Apache', wsgidav: 'WsgiDAV' };
const WSGIDAV_PACKAGES = ['wsgidav==4.4.0', 'cheroot==11.1.2', 'lxml==6.1.3'];
const SMALL = 4096;
const LOGIN = 'benchdav';
const DAV_PASSWORD = 'bench-dav-pass-1';
const ACCOUNT_PASSWORD = 'bench-account-1';
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// options

function parseArgs(argv) {
  const opts = { files: 2000, folders: 20, bigMib: 512, bigRounds: 2, hugeGib: 2, concurrency: 8, only: SERVER_KEYS, propfindRounds: 5, cpuProf: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--files': opts.files = Number(value()); break;
      case '--folders': opts.folders = Number(value()); break;
      case '--big-mib': opts.bigMib = Number(value()); break;
      case '--big-rounds': opts.bigRounds = Number(value()); break;
      case '--huge-gib': opts.hugeGib = Number(value()); break;
      case '--concurrency': opts.concurrency = Number(value()); break;
      case '--propfind-rounds': opts.propfindRounds = Number(value()); break;
      case '--only': opts.only = value().split(',').map((s) => s.trim().toLowerCase()).filter(Boolean); break;
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
  if (bad(opts.folders, 1)) throw new Error('--folders must be an integer ≥ 1');
  if (bad(opts.files, opts.folders)) throw new Error('--files must be an integer ≥ --folders');
  if (!(opts.bigMib >= 0)) throw new Error('--big-mib must be ≥ 0 (0 skips the big file)');
  if (bad(opts.bigRounds, 1)) throw new Error('--big-rounds must be an integer ≥ 1');
  if (!(opts.hugeGib >= 0)) throw new Error('--huge-gib must be ≥ 0 (0 skips the RSS-flatness run)');
  if (bad(opts.concurrency, 1)) throw new Error('--concurrency must be an integer ≥ 1');
  if (bad(opts.propfindRounds, 1)) throw new Error('--propfind-rounds must be an integer ≥ 1');
  const unknown = opts.only.filter((k) => !SERVER_KEYS.includes(k));
  if (unknown.length || !opts.only.length) throw new Error(`--only takes a list of ${SERVER_KEYS.join(', ')}`);
  opts.only = SERVER_KEYS.filter((k) => opts.only.includes(k));
  return opts;
}

// ---------------------------------------------------------------------------------------------
// small helpers

const progress = (line) => process.stderr.write(`[bench] ${line}\n`);
const out = (line = '') => process.stdout.write(`${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

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
const pad = (i, w) => String(i).padStart(w, '0');

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

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function cacheDir() {
  return process.env.CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'strata');
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

/** CPU time (user + system, ms) of a process and all its live descendants (Apache's workers, our database); `selfOnly`: the process alone. */
function treeCpuMs(pid, selfOnly = false) {
  if (!pid) return NaN;
  const stats = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(name), { ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]) });
    } catch {
      // gone meanwhile
    }
  }
  if (!stats.has(pid)) return NaN;
  if (selfOnly) return (stats.get(pid).cpu * 1000) / CLK_TCK;
  const children = new Map();
  for (const [p, s] of stats) {
    if (!children.has(s.ppid)) children.set(s.ppid, []);
    children.get(s.ppid).push(p);
  }
  let ticks = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    ticks += stats.get(p)?.cpu ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return (ticks * 1000) / CLK_TCK;
}

/** Samples RSS of our server (and its database) every 100 ms: peaks per mark, and a timeline while recording. */
class MemoryWatch {
  constructor(pids) {
    this.pids = pids; // {server, db}
    this.peak = {};
    this.sincePeak = {};
    this.timeline = null;
    this.progressBytes = () => undefined;
    this.timer = setInterval(() => this.sample(), 100);
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
    if (this.timeline && now.server != null) this.timeline.push({ t: performance.now(), bytes: this.progressBytes(), rss: now.server });
    return now;
  }
  /** Now, and the peak since the last mark. */
  mark() {
    const now = this.sample();
    const peak = this.sincePeak;
    this.sincePeak = { ...now };
    return { now, peak };
  }
  record(progressBytes) {
    this.timeline = [];
    this.progressBytes = progressBytes;
    this.sample();
  }
  stopRecording() {
    this.sample();
    const t = this.timeline;
    this.timeline = null;
    return t;
  }
  stop() {
    clearInterval(this.timer);
  }
}

// ---------------------------------------------------------------------------------------------
// clean-up

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
// last resort when this process dies without its clean-up (an uncaught error): stop the servers it started
const children = new Set();
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err; // a closed pipe (`| head`) is not a reason to stop measuring
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    progress(`${sig}: stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

function tempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Spawns a long-running child whose output is kept (last lines) for error messages; registers its
 * stop (SIGTERM, then SIGKILL after `killAfterMs`) as a clean-up. Only this child is signalled.
 */
function spawnChild(name, cmd, args, options = {}, { onLine, killAfterMs = 15_000 } = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const tail = [];
  let gone;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  void exited.then((code) => {
    gone = `${name} exited (${code})`;
  });
  child.once('error', (err) => {
    gone = `${name} could not start: ${err.message}`;
  });
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
        onLine?.(line);
      }
    });
  }
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await exited;
    clearTimeout(timer);
  };
  cleanups.push(stop);
  children.add(child);
  void exited.then(() => children.delete(child));
  return { child, pid: child.pid, exited, stop, output: () => tail.join('\n'), gone: () => gone };
}

/** Waits until `url` answers an authenticated OPTIONS with anything below 500. */
async function waitReady(name, url, authorization, proc, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (proc.gone()) throw new Error(`${proc.gone()} before it was ready:\n${proc.output()}`);
    const status = await new Promise((resolve) => {
      const req = http.request(url, { method: 'OPTIONS', headers: { authorization }, agent: false, timeout: 2000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', () => resolve(0));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (status && status < 500) return;
    if (Date.now() > end) throw new Error(`${name} did not answer ${url} within ${timeoutMs / 1000} s:\n${proc.output()}`);
    await sleep(200);
  }
}

let aptUpdated = false;
function aptInstall(packages) {
  if (!isRoot) throw new Error(`missing ${packages.join(', ')}: install them (apt-get install -y ${packages.join(' ')}) or run as root`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    progress('apt-get update');
    execFileSync('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    aptUpdated = true;
  }
  progress(`apt-get install -y ${packages.join(' ')}`);
  execFileSync('apt-get', ['install', '-y', '-qq', ...packages], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

// ---------------------------------------------------------------------------------------------
// the three servers

const basic = (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const APACHE_BIN = '/usr/sbin/apache2';
const APACHE_MODULES = '/usr/lib/apache2/modules';

async function startApache(work) {
  const need = [APACHE_BIN, `${APACHE_MODULES}/mod_dav_fs.so`, '/usr/bin/htpasswd'];
  if (need.some((f) => !existsSync(f))) aptInstall(['apache2']); // apache2-utils (htpasswd) comes with it
  const dir = path.join(work, 'apache');
  const davRoot = path.join(dir, 'dav');
  const lockDir = path.join(dir, 'lock');
  for (const d of [dir, davRoot, lockDir, path.join(dir, 'run'), path.join(dir, 'logs')]) mkdirSync(d, { recursive: true });
  const port = await freePort();
  // as root, Apache's workers run as www-data: they need to reach and write the DAV root and lock DB
  let userLines = '';
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'www-data'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'www-data'], { encoding: 'utf8' }).trim());
    for (const d of [davRoot, lockDir, path.join(dir, 'run')]) chownSync(d, uid, gid);
    userLines = 'User www-data\nGroup www-data\n';
  }
  const htpasswd = path.join(dir, 'htpasswd');
  execFileSync('htpasswd', ['-b', '-c', '-m', htpasswd, LOGIN, DAV_PASSWORD], { stdio: ['ignore', 'ignore', 'pipe'] });
  chmodSync(htpasswd, 0o644);
  const mod = (name, file) => `LoadModule ${name}_module ${APACHE_MODULES}/mod_${file ?? name}.so`;
  const conf = path.join(dir, 'httpd.conf');
  writeFileSync(
    conf,
    [
      `ServerRoot "${dir}"`,
      `Listen 127.0.0.1:${port}`,
      'ServerName 127.0.0.1',
      `PidFile "${dir}/run/apache2.pid"`,
      `DefaultRuntimeDir "${dir}/run"`,
      `ErrorLog "${dir}/logs/error.log"`,
      'LogLevel warn',
      userLines,
      mod('mpm_event'),
      mod('authn_core'),
      mod('authn_file'),
      mod('authz_core'),
      mod('authz_user'),
      mod('auth_basic'),
      mod('mime'),
      mod('dav'),
      mod('dav_fs'),
      existsSync('/etc/mime.types') ? 'TypesConfig /etc/mime.types' : '',
      // the same keep-alive terms as the other servers: no per-connection request cap
      'KeepAlive On',
      'MaxKeepAliveRequests 0',
      'KeepAliveTimeout 60',
      'LimitRequestBody 0',
      'TraceEnable Off',
      `DavLockDB "${lockDir}/DavLock"`,
      `DocumentRoot "${davRoot}"`,
      `<Directory "${davRoot}">`,
      '  Dav On',
      '  Options None',
      '  AllowOverride None',
      '  AuthType Basic',
      '  AuthName "bench"',
      `  AuthUserFile "${htpasswd}"`,
      '  Require valid-user',
      '</Directory>',
      '',
    ].join('\n'),
  );
  const version = (spawnSync(APACHE_BIN, ['-v'], { encoding: 'utf8' }).stdout.match(/Server version:\s*(.*)/)?.[1] ?? '?').trim();
  const proc = spawnChild('apache2', APACHE_BIN, ['-f', conf, '-DFOREGROUND'], { cwd: dir });
  const url = `http://127.0.0.1:${port}`;
  const authorization = basic(LOGIN, DAV_PASSWORD);
  try {
    await waitReady('apache2', `${url}/`, authorization, proc);
  } catch (err) {
    const log = existsSync(`${dir}/logs/error.log`) ? readFileSync(`${dir}/logs/error.log`, 'utf8').slice(-3000) : '';
    throw new Error(`${err.message}\n${log}`);
  }
  return {
    key: 'apache',
    url,
    prefix: '/',
    authorization,
    pid: proc.pid,
    proc,
    description: `${version}, mpm_event, mod_dav + mod_dav_fs, Basic auth (htpasswd MD5), sendfile off (default)`,
  };
}

async function startWsgidav(work) {
  const venv = path.join(cacheDir(), 'bench-venv');
  const py = path.join(venv, 'bin', 'python');
  if (!existsSync(py)) {
    progress(`creating the Python venv ${venv}`);
    mkdirSync(path.dirname(venv), { recursive: true });
    const made = spawnSync('python3', ['-m', 'venv', venv], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (made.status !== 0) {
      rmSync(venv, { recursive: true, force: true });
      aptInstall(['python3-venv']);
      execFileSync('python3', ['-m', 'venv', venv], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
  }
  const marker = path.join(venv, '.installed');
  if ((existsSync(marker) ? readFileSync(marker, 'utf8').trim() : '') !== WSGIDAV_PACKAGES.join(' ')) {
    progress(`installing ${WSGIDAV_PACKAGES.join(' ')} into ${venv}`);
    execFileSync(py, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...WSGIDAV_PACKAGES], { stdio: ['ignore', 'inherit', 'inherit'] });
    writeFileSync(marker, `${WSGIDAV_PACKAGES.join(' ')}\n`);
  }
  const dir = path.join(work, 'wsgidav');
  const root = path.join(dir, 'dav');
  mkdirSync(root, { recursive: true });
  const port = await freePort();
  const config = path.join(dir, 'wsgidav.json');
  writeFileSync(
    config,
    JSON.stringify(
      {
        host: '127.0.0.1',
        port,
        server: 'cheroot',
        server_args: { request_queue_size: 64 },
        provider_mapping: { '/': root },
        http_authenticator: { domain_controller: null, accept_basic: true, accept_digest: false, default_to_digest: false },
        simple_dc: { user_mapping: { '*': { [LOGIN]: { password: DAV_PASSWORD } } } },
        // no directory browser (disabled, it still mounts an anonymous share) and no CORS
        middleware_stack: ['wsgidav.error_printer.ErrorPrinter', 'wsgidav.http_authenticator.HTTPAuthenticator', 'wsgidav.request_resolver.RequestResolver'],
        dir_browser: { enable: false },
        property_manager: null,
        lock_storage: true,
        verbose: 1,
      },
      null,
      2,
    ),
  );
  const versions = spawnSync(
    py,
    ['-c', 'import sys, wsgidav, cheroot, wsgidav.xml_tools as x; print(wsgidav.__version__, cheroot.__version__, "lxml" if x.use_lxml else "no lxml", sys.version.split()[0])'],
    { encoding: 'utf8' },
  ).stdout.trim().split(' ');
  const proc = spawnChild('wsgidav', path.join(venv, 'bin', 'wsgidav'), [`--config=${config}`], { cwd: dir });
  const url = `http://127.0.0.1:${port}`;
  const authorization = basic(LOGIN, DAV_PASSWORD);
  await waitReady('wsgidav', `${url}/`, authorization, proc);
  return {
    key: 'wsgidav',
    url,
    prefix: '/',
    authorization,
    pid: proc.pid,
    proc,
    description: `WsgiDAV ${versions[0]} on cheroot ${versions[1]} (${versions[2]}), Python ${versions[3]}, Basic auth, request_queue_size 64, in-memory locks, no property manager`,
  };
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

async function startOurs(work, opts) {
  if (!process.env.BENCH_SERVER_MAIN) ensureBuilt();
  const main = process.env.BENCH_SERVER_MAIN ? path.resolve(process.env.BENCH_SERVER_MAIN) : path.join(repoRoot, 'dist', 'main.js');
  const dataDir = path.join(work, 'ours');
  mkdirSync(dataDir, { recursive: true });
  const env = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    MONGO_DB: `bench_dav_${Math.random().toString(36).slice(2, 10)}`,
    ADMIN_LOGIN: 'admin',
    ADMIN_PASSWORD: 'bench-admin-1',
    LOG_LEVEL: 'warn',
  };
  for (const k of ['CONFIG_FILE', 'TLS_CERT', 'TLS_KEY', 'PLUGINS', 'NODE_OPTIONS']) delete env[k];
  const nodeArgs = serverNodeFlags(repoRoot);
  if (opts.cpuProf) {
    mkdirSync(opts.cpuProf, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`);
  }
  let started = false;
  let resolveUrl;
  const urlSeen = new Promise((r) => (resolveUrl = r));
  const proc = spawnChild('our server', process.execPath, [...nodeArgs, main], { cwd: repoRoot, env }, {
    killAfterMs: 40_000,
    onLine: (line) => {
      const m = /running on (https?:\/\/\S+)/.exec(line);
      if (m && !started) {
        started = true;
        resolveUrl(m[1]);
      } else if (started && line.trim() && !/^\s+(REST API|API docs|Initial admin)/.test(line)) {
        progress(`ours: ${line}`);
      }
    },
  });
  const t0 = performance.now();
  const base = await Promise.race([
    urlSeen,
    proc.exited.then((code) => {
      throw new Error(`our server exited (${code}) before it was ready:\n${proc.output()}`);
    }),
    sleep(180_000).then(() => {
      if (!started) throw new Error(`our server did not start within 180 s:\n${proc.output()}`);
    }),
  ]);
  const url = base.replace(/\/+$/, '');
  progress(`our server ready at ${url} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // the user and its WebDAV password, through REST
  const rest = new Rest(url);
  cleanups.push(async () => rest.close());
  const q = new URLSearchParams({ login: LOGIN, email: `${LOGIN}@example.org`, firstName: 'Bench', lastName: 'Dav', password: ACCOUNT_PASSWORD });
  const made = await rest.call('POST', `/user?${q}`);
  rest.token = made.body?.authToken?.token;
  if (!rest.token) throw new Error(`POST /user answered without a token: ${made.text.slice(0, 300)}`);
  await rest.call('PUT', '/homedirpass/set', { form: { password: DAV_PASSWORD } });

  let dbPid;
  if (!process.env.MONGO_URI) {
    // the embedded database runs as a child of the server with the data directory in its command line
    for (let i = 0; i < 20 && !dbPid; i++) {
      dbPid = pidsUnder(proc.pid).find((p) => readCmdline(p).includes(dataDir));
      if (!dbPid) await sleep(100);
    }
  }
  return {
    key: 'ours',
    url,
    prefix: `/homes/${LOGIN}/`,
    authorization: basic(LOGIN, DAV_PASSWORD),
    pid: proc.pid,
    dbPid,
    proc,
    rest,
    description: `Strata \`${path.relative(repoRoot, main)}\` (${gitDescribe()}), Node ${process.version}, ${process.env.MONGO_URI ? 'database from MONGO_URI' : 'embedded database (its own Java process, counted in CPU, not in RSS)'}${opts.cpuProf ? ', under --cpu-prof' : ''}`,
  };
}

function pidsUnder(pid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}
function readCmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}
function gitDescribe() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `commit ${head}${dirty ? ' + uncommitted changes in src/' : ''}`;
  } catch {
    return 'not a git checkout';
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP: the same client code for every server

class Rest {
  constructor(base) {
    this.base = base;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.token = undefined;
  }
  call(method, p, { form, ok = [200] } = {}) {
    return new Promise((resolve, reject) => {
      const headers = { accept: 'application/json' };
      if (this.token) headers['girder-token'] = this.token;
      let body;
      if (form) {
        body = Buffer.from(new URLSearchParams(form).toString());
        headers['content-type'] = 'application/x-www-form-urlencoded';
        headers['content-length'] = body.length;
      }
      const req = http.request(`${this.base}/api/v1${p}`, { method, headers, agent: this.agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          if (!ok.includes(res.statusCode)) reject(new Error(`REST ${method} ${p} answered ${res.statusCode}: ${text.slice(0, 300)}`));
          else resolve({ status: res.statusCode, body: json, text });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  close() {
    this.agent.destroy();
  }
}

/**
 * One WebDAV request. `body`: a Buffer (resent once when a kept-alive socket was closed under us)
 * or {size, chunk, onProgress} to stream `size` bytes made of `chunk` repeated. The answer's body
 * is collected (`collect`), or counted and spot-checked against `expectStream` {chunk}.
 */
async function dav(server, method, p, { headers = {}, body, ok, collect = false, expectStream } = {}) {
  for (let attempt = 0; ; attempt++) {
    if (server.proc.gone()) throw new Error(`${LABELS[server.key]}: ${server.proc.gone()}\n${server.proc.output().slice(-2000)}`);
    try {
      const res = await davOnce(server, method, p, headers, body, collect, expectStream);
      if (!ok.includes(res.status)) {
        throw new Error(`${LABELS[server.key]}: ${method} ${p} answered ${res.status} (expected ${ok.join('/')}): ${res.body ? res.body.toString('utf8').slice(0, 400) : ''}`);
      }
      return res;
    } catch (err) {
      const retriable = attempt === 0 && err.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE') && (body === undefined || Buffer.isBuffer(body));
      if (!retriable) throw err;
    }
  }
}

function davOnce(server, method, p, extraHeaders, body, collect, expectStream) {
  return new Promise((resolve, reject) => {
    const headers = { authorization: server.authorization, ...extraHeaders };
    if (Buffer.isBuffer(body)) headers['content-length'] = body.length;
    else if (body) headers['content-length'] = body.size;
    const req = http.request(`${server.url}${p}`, { method, headers, agent: server.agent }, (res) => {
      const chunks = collect || res.statusCode >= 300 ? [] : null;
      let length = 0;
      let mismatch;
      res.on('data', (c) => {
        if (expectStream && !mismatch) {
          // spot check: the first and last byte of every chunk sit where the pattern says
          const n = expectStream.chunk.length;
          if (c[0] !== expectStream.chunk[length % n] || c[c.length - 1] !== expectStream.chunk[(length + c.length - 1) % n]) mismatch = length;
        }
        length += c.length;
        expectStream?.onProgress?.(length);
        if (chunks) chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: chunks ? Buffer.concat(chunks) : null, length, mismatch }));
    });
    req.on('error', (err) => {
      err.reusedSocket = req.reusedSocket;
      reject(err);
    });
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      // stream `size` bytes, honouring backpressure
      let sent = 0;
      const pump = () => {
        while (sent < body.size) {
          const n = Math.min(body.chunk.length, body.size - sent);
          const piece = n === body.chunk.length ? body.chunk : body.chunk.subarray(0, n);
          sent += n;
          body.onProgress?.(sent);
          if (!req.write(piece)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// the workload

const PROPFIND_BODY = Buffer.from(
  '<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/>' +
    '<D:getlastmodified/><D:getetag/><D:getcontenttype/></D:prop></D:propfind>\n',
);

/** Counts `<x:response>` elements and checks that every expected name (and its 4 KiB size) is listed. */
function checkListing(server, p, xml, names) {
  const entries = (xml.match(/<(?:[A-Za-z][\w.-]*:)?response[\s>]/g) ?? []).length;
  if (entries !== names.length + 1) throw new Error(`${LABELS[server.key]}: PROPFIND ${p} listed ${entries} entries, expected ${names.length + 1}`);
  for (const name of names) {
    if (!xml.includes(`${name}<`) && !xml.includes(`${name}/<`)) throw new Error(`${LABELS[server.key]}: PROPFIND ${p} does not list ${name}`);
  }
  const sizes = xml.split(`>${SMALL}<`).length - 1;
  if (sizes < names.length) throw new Error(`${LABELS[server.key]}: PROPFIND ${p} shows ${sizes} sizes of ${SMALL}, expected ${names.length}`);
  return entries;
}

function fileContent(i) {
  return Buffer.alloc(SMALL, `file ${i} of the WebDAV benchmark; `);
}

/** Per server and operation: count, time, latencies, CPU time of the server's process tree, extra units. */
class Stats {
  constructor() {
    this.cells = {};
  }
  add(key, op, { n, ms, lat, cpu, cpuMain = NaN, units = 0 }) {
    const c = (this.cells[`${key}:${op}`] ??= { n: 0, ms: 0, lat: [], cpu: 0, cpuMain: 0, units: 0 });
    c.n += n;
    c.ms += ms;
    c.lat.push(...lat);
    c.cpu += cpu;
    c.cpuMain += cpuMain;
    c.units += units;
  }
  get(key, op) {
    return this.cells[`${key}:${op}`];
  }
  rate(key, op) {
    const c = this.get(key, op);
    return c ? (c.n / c.ms) * 1000 : NaN;
  }
}

/**
 * Runs one phase on every server in `rounds` rounds; the order of the servers rotates each round.
 * `jobs(round)` lists the round's jobs (the same for every server); `run(server, job)` does one.
 */
async function phase(label, servers, stats, concurrency, rounds, jobs, run, unitsOf = () => 0) {
  progress(`${label}: ${rounds} round${rounds > 1 ? 's' : ''}`);
  for (let r = 0; r < rounds; r++) {
    const list = jobs(r);
    if (!list.length) continue;
    for (let j = 0; j < servers.length; j++) {
      const s = servers[(j + r) % servers.length];
      const cpu0 = treeCpuMs(s.pid);
      const main0 = treeCpuMs(s.pid, true);
      const t0 = performance.now();
      let units = 0;
      const lat = await pool(list.length, concurrency, async (k) => {
        const result = await run(s, list[k]);
        units += unitsOf(result); // not `units += unitsOf(await …)`: that reads `units` before the await
      });
      const ms = performance.now() - t0;
      stats.add(s.key, label, { n: list.length, ms, lat, cpu: treeCpuMs(s.pid) - cpu0, cpuMain: treeCpuMs(s.pid, true) - main0, units });
    }
  }
  progress(`  ${servers.map((s) => `${LABELS[s.key]} ${num(stats.rate(s.key, label))}/s`).join(', ')}`);
}

/** Splits [0, n) into `rounds` contiguous chunks. */
function chunks(n, rounds) {
  const size = Math.ceil(n / rounds);
  return Array.from({ length: rounds }, (_, r) => Array.from({ length: Math.max(0, Math.min(n, (r + 1) * size) - r * size) }, (_, k) => r * size + k));
}

// ---------------------------------------------------------------------------------------------
// our tree, through REST

/** Checks through REST that bench/<folder>/ holds exactly `expected` (Map folder → Map item → size). */
async function checkTree(ours, expected, label) {
  const rest = ours.rest;
  const lookup = async (p, ok = [200]) => rest.call('GET', `/resource/lookup?${new URLSearchParams({ path: `/user/${LOGIN}/Home/${p}` })}`, { ok });
  const benchFolder = (await lookup('bench')).body;
  const subfolders = (await rest.call('GET', `/folder?${new URLSearchParams({ parentType: 'folder', parentId: benchFolder._id, limit: '0' })}`)).body;
  const got = new Set(subfolders.map((f) => f.name));
  const want = new Set(expected.keys());
  if (got.size !== want.size || [...want].some((n) => !got.has(n))) {
    throw new Error(`tree check ${label}: bench/ holds folders ${[...got].sort().join(',')}, expected ${[...want].sort().join(',')}`);
  }
  let items = 0;
  let bytes = 0;
  for (const folder of subfolders) {
    const want2 = expected.get(folder.name);
    const list = (await rest.call('GET', `/item?${new URLSearchParams({ folderId: folder._id, limit: '0' })}`)).body;
    if (list.length !== want2.size) throw new Error(`tree check ${label}: bench/${folder.name} holds ${list.length} items, expected ${want2.size}`);
    for (const it of list) {
      if (want2.get(it.name) !== it.size) throw new Error(`tree check ${label}: bench/${folder.name}/${it.name} has size ${it.size}, expected ${want2.get(it.name)}`);
      bytes += it.size;
    }
    items += list.length;
    // and one path lookup per folder, as a client would
    const first = [...want2.keys()][0];
    if (first !== undefined) {
      const node = (await lookup(`bench/${folder.name}/${first}`)).body;
      if (node?.name !== first || node.size !== want2.get(first)) throw new Error(`tree check ${label}: lookup of bench/${folder.name}/${first} answered ${JSON.stringify(node).slice(0, 200)}`);
    }
  }
  progress(`  tree check ${label}: ${expected.size} folders, ${int(items)} items, ${int(bytes)} bytes: in sync`);
  return `${label}: ${expected.size} folders, ${int(items)} items, ${int(bytes)} bytes`;
}

// ---------------------------------------------------------------------------------------------
// CPU profile summary

// ---------------------------------------------------------------------------------------------
// main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const loadStart = os.loadavg();
  const work = tempDir('strata-bench-dav-');
  chmodSync(work, 0o755); // Apache's workers (www-data) reach their DAV root through it

  // ------------------------------------------------------------------------------------------
  // servers

  const servers = [];
  for (const key of opts.only) {
    progress(`starting ${LABELS[key]}`);
    const s = key === 'ours' ? await startOurs(work, opts) : key === 'apache' ? await startApache(work) : await startWsgidav(work);
    s.agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
    cleanups.push(async () => s.agent.destroy());
    servers.push(s);
    progress(`  ${LABELS[key]}: ${s.url}${s.prefix}`);
  }
  const ours = servers.find((s) => s.key === 'ours');
  const mem = ours ? new MemoryWatch({ server: ours.pid, db: ours.dbPid }) : null;
  if (mem) cleanups.push(async () => mem.stop());
  const memRows = [];
  const memMark = (when) => {
    if (!mem) return;
    const { now, peak } = mem.mark();
    memRows.push([when, mibOf(now.server), mibOf(peak.server), mibOf(now.db), mibOf(peak.db)]);
  };
  memMark('after start-up and login');

  const C = opts.concurrency;
  const F = opts.folders;
  const N = opts.files;
  const fw = Math.max(2, String(F - 1).length);
  const iw = Math.max(6, String(N).length);
  const folderName = (k) => `d${pad(k, fw)}`;
  const folderOf = (i) => i % F;
  const fileName = (i) => `f-${pad(i, iw)}.bin`;
  const movedName = (i) => `m-${pad(i, iw)}.bin`;
  const at = (s, rel) => `${s.prefix}${rel}`;
  const stats = new Stats();
  const treeChecks = [];
  const expectTree = (name, sizeOf) => {
    const m = new Map(Array.from({ length: F }, (_, k) => [folderName(k), new Map()]));
    for (let i = 0; i < N; i++) {
      const e = name(i);
      if (e) m.get(e.folder).set(e.name, sizeOf(i));
    }
    return m;
  };

  // ------------------------------------------------------------------------------------------
  // warm-up: every server does every operation a few times (connections, JITs, caches), untimed

  progress('warm-up');
  for (const s of servers) {
    await dav(s, 'MKCOL', at(s, 'warm/'), { ok: [201] });
    const W = 40;
    await pool(W, C, (i) => dav(s, 'PUT', at(s, `warm/w-${i}.bin`), { body: fileContent(i), ok: [200, 201, 204] }));
    for (let k = 0; k < 10; k++) await dav(s, 'PROPFIND', at(s, 'warm/'), { headers: { depth: '1', 'content-type': 'application/xml' }, body: PROPFIND_BODY, ok: [207], collect: true });
    await pool(W, C, (i) => dav(s, 'GET', at(s, `warm/w-${i}.bin`), { ok: [200], collect: true }));
    await pool(W, C, (i) => dav(s, 'MOVE', at(s, `warm/w-${i}.bin`), { headers: { destination: `${s.url}${at(s, `warm/v-${i}.bin`)}`, overwrite: 'F' }, ok: [201, 204] }));
    await pool(W, C, (i) => dav(s, 'DELETE', at(s, `warm/v-${i}.bin`), { ok: [200, 204] }));
    await dav(s, 'DELETE', at(s, 'warm/'), { ok: [200, 204] });
  }
  memMark('after the warm-up');

  // ------------------------------------------------------------------------------------------
  // small files

  for (const s of servers) await dav(s, 'MKCOL', at(s, 'bench/'), { ok: [201] });
  await phase('MKCOL', servers, stats, C, 1, () => Array.from({ length: F }, (_, k) => k), (s, k) => dav(s, 'MKCOL', at(s, `bench/${folderName(k)}/`), { ok: [201] }));

  const rounds = Math.min(5, N);
  const fileRounds = chunks(N, rounds);
  await phase('PUT', servers, stats, C, rounds, (r) => fileRounds[r], (s, i) =>
    dav(s, 'PUT', at(s, `bench/${folderName(folderOf(i))}/${fileName(i)}`), { body: fileContent(i), headers: { 'content-type': 'application/octet-stream' }, ok: [200, 201, 204] }),
  );
  memMark(`after PUT of ${int(N)} files`);
  if (ours) treeChecks.push(await checkTree(ours, expectTree((i) => ({ folder: folderName(folderOf(i)), name: fileName(i) }), () => SMALL), 'after PUT'));

  const namesIn = (k, name) => Array.from({ length: N }, (_, i) => i).filter((i) => folderOf(i) === k).map(name);
  const originalNames = Array.from({ length: F }, (_, k) => namesIn(k, fileName));
  const passes = 4;
  await phase(
    'PROPFIND',
    servers,
    stats,
    C,
    opts.propfindRounds,
    () => Array.from({ length: passes * F }, (_, j) => j % F),
    async (s, k) => {
      const p = at(s, `bench/${folderName(k)}/`);
      const res = await dav(s, 'PROPFIND', p, { headers: { depth: '1', 'content-type': 'application/xml' }, body: PROPFIND_BODY, ok: [207], collect: true });
      return checkListing(s, p, res.body.toString('utf8'), originalNames[k]);
    },
    (entries) => entries,
  );
  memMark(`after ${opts.propfindRounds * passes * F} PROPFINDs`);

  await phase('GET', servers, stats, C, rounds, (r) => fileRounds[r], async (s, i) => {
    const p = at(s, `bench/${folderName(folderOf(i))}/${fileName(i)}`);
    const res = await dav(s, 'GET', p, { ok: [200], collect: true });
    if (res.body.length !== SMALL || !res.body.equals(fileContent(i))) throw new Error(`${LABELS[s.key]}: GET ${p} answered ${res.body.length} bytes${res.body.length === SMALL ? ' with other content' : ''}`);
  });
  memMark(`after GET of ${int(N)} files`);

  // MOVE every file into the next folder, under a new name
  const movedFolder = (i) => (folderOf(i) + 1) % F;
  await phase('MOVE', servers, stats, C, rounds, (r) => fileRounds[r], (s, i) =>
    dav(s, 'MOVE', at(s, `bench/${folderName(folderOf(i))}/${fileName(i)}`), {
      headers: { destination: `${s.url}${at(s, `bench/${folderName(movedFolder(i))}/${movedName(i)}`)}`, overwrite: 'F' },
      ok: [201, 204],
    }),
  );
  memMark(`after MOVE of ${int(N)} files`);
  // every folder now lists exactly the files moved into it (checked on every server, untimed)
  for (const s of servers) {
    for (let k = 0; k < F; k++) {
      const p = at(s, `bench/${folderName(k)}/`);
      const res = await dav(s, 'PROPFIND', p, { headers: { depth: '1', 'content-type': 'application/xml' }, body: PROPFIND_BODY, ok: [207], collect: true });
      const names = Array.from({ length: N }, (_, i) => i).filter((i) => movedFolder(i) === k).map(movedName);
      checkListing(s, p, res.body.toString('utf8'), names);
    }
  }
  if (ours) treeChecks.push(await checkTree(ours, expectTree((i) => ({ folder: folderName(movedFolder(i)), name: movedName(i) }), () => SMALL), 'after MOVE'));

  await phase('DELETE', servers, stats, C, rounds, (r) => fileRounds[r], (s, i) => dav(s, 'DELETE', at(s, `bench/${folderName(movedFolder(i))}/${movedName(i)}`), { ok: [200, 204] }));
  memMark(`after DELETE of ${int(N)} files`);
  for (const s of servers) {
    for (let k = 0; k < F; k++) {
      const p = at(s, `bench/${folderName(k)}/`);
      const res = await dav(s, 'PROPFIND', p, { headers: { depth: '1', 'content-type': 'application/xml' }, body: PROPFIND_BODY, ok: [207], collect: true });
      checkListing(s, p, res.body.toString('utf8'), []);
    }
  }
  if (ours) treeChecks.push(await checkTree(ours, expectTree(() => null, () => 0), 'after DELETE'));

  // ------------------------------------------------------------------------------------------
  // one big file, up and down (streamed; the pattern is spot-checked on the way back)

  const pattern = randomBytes(MiB);
  let bigTimeline = [];
  const transfer = async (s, label, size, name, onProgress) => {
    const p = at(s, `bench/${name}`);
    const cpu0 = treeCpuMs(s.pid);
    const t0 = performance.now();
    let res;
    if (label === 'PUT') res = await dav(s, 'PUT', p, { body: { size, chunk: pattern, onProgress }, headers: { 'content-type': 'application/octet-stream' }, ok: [200, 201, 204] });
    else {
      res = await dav(s, 'GET', p, { ok: [200], expectStream: { chunk: pattern, onProgress } });
      if (res.length !== size) throw new Error(`${LABELS[s.key]}: GET ${p} answered ${res.length} bytes, expected ${size}`);
      if (res.mismatch !== undefined) throw new Error(`${LABELS[s.key]}: GET ${p} answered other bytes than were PUT (near offset ${res.mismatch})`);
    }
    const ms = performance.now() - t0;
    stats.add(s.key, `big ${label}`, { n: 1, ms, lat: [ms], cpu: treeCpuMs(s.pid) - cpu0, units: size });
    return ms;
  };
  if (opts.bigMib > 0) {
    const size = Math.round(opts.bigMib * MiB);
    for (let r = 0; r < opts.bigRounds; r++) {
      for (const label of ['PUT', 'GET']) {
        for (let j = 0; j < servers.length; j++) {
          const s = servers[(j + r) % servers.length];
          progress(`big file, round ${r + 1}: ${label} ${opts.bigMib} MiB on ${LABELS[s.key]}`);
          let bytes = 0;
          if (s === ours) {
            mem.mark();
            mem.record(() => bytes);
          }
          const ms = await transfer(s, label, size, 'big.bin', (b) => (bytes = b));
          if (s === ours) {
            const tl = mem.stopRecording();
            bigTimeline = bigTimeline.concat(tl.map((x) => ({ ...x, label })));
            memMark(`during ${label} of the ${opts.bigMib} MiB file (round ${r + 1})`);
          }
          progress(`  ${(size / MiB / (ms / 1000)).toFixed(1)} MiB/s`);
        }
        if (ours && label === 'PUT') {
          const node = (await ours.rest.call('GET', `/resource/lookup?${new URLSearchParams({ path: `/user/${LOGIN}/Home/bench/big.bin` })}`)).body;
          if (node?.size !== size) throw new Error(`tree check: bench/big.bin has size ${node?.size}, expected ${size}`);
          treeChecks.push(`after the big PUT (round ${r + 1}): bench/big.bin is an item of ${int(size)} bytes`);
        }
      }
      for (const s of servers) await dav(s, 'DELETE', at(s, 'bench/big.bin'), { ok: [200, 204] });
    }
  }

  // ------------------------------------------------------------------------------------------
  // the huge file, our server only: is RSS flat while it goes up and down?

  let huge = null;
  if (ours && opts.hugeGib > 0) {
    const size = Math.round(opts.hugeGib * 1024 * MiB);
    huge = { size, rows: [], dirs: {} };
    const before = mem.mark().now.server;
    huge.before = before;
    for (const label of ['PUT', 'GET']) {
      progress(`huge file: ${label} ${opts.hugeGib} GiB on ours`);
      let bytes = 0;
      mem.mark();
      mem.record(() => bytes);
      const ms = await transfer(ours, label, size, 'huge.bin', (b) => (bytes = b));
      const tl = mem.stopRecording();
      memMark(`during ${label} of the ${opts.hugeGib} GiB file`);
      const firstHalf = tl.filter((x) => x.bytes !== undefined && x.bytes < size / 2).map((x) => x.rss);
      const secondHalf = tl.filter((x) => x.bytes !== undefined && x.bytes >= size / 2).map((x) => x.rss);
      const eighths = Array.from({ length: 9 }, (_, e) => {
        const target = (e / 8) * size;
        const near = tl.reduce((best, x) => (best === null || Math.abs(x.bytes - target) < Math.abs(best.bytes - target) ? x : best), null);
        return near?.rss;
      });
      huge.dirs[label] = {
        ms,
        mibs: size / MiB / (ms / 1000),
        peak: Math.max(...tl.map((x) => x.rss)),
        firstPeak: firstHalf.length ? Math.max(...firstHalf) : NaN,
        secondPeak: secondHalf.length ? Math.max(...secondHalf) : NaN,
        eighths,
        samples: tl.length,
      };
      progress(`  ${huge.dirs[label].mibs.toFixed(1)} MiB/s, RSS peak ${mibOf(huge.dirs[label].peak)}`);
      if (label === 'PUT') {
        const node = (await ours.rest.call('GET', `/resource/lookup?${new URLSearchParams({ path: `/user/${LOGIN}/Home/bench/huge.bin` })}`)).body;
        if (node?.size !== size) throw new Error(`tree check: bench/huge.bin has size ${node?.size}, expected ${size}`);
        treeChecks.push(`after the huge PUT: bench/huge.bin is an item of ${int(size)} bytes`);
      }
    }
    await dav(ours, 'DELETE', at(ours, 'bench/huge.bin'), { ok: [200, 204] });
    huge.after = mem.mark().now.server;
    // flat: in each direction the second half of the transfer peaks no higher than the first half + 16 MiB
    huge.flat = ['PUT', 'GET'].every((l) => huge.dirs[l].secondPeak <= huge.dirs[l].firstPeak + 16 * 1024);
  }

  // tidy up the peers' trees (untimed); our bench folder goes too, and the tree must follow
  for (const s of servers) await dav(s, 'DELETE', at(s, 'bench/'), { ok: [200, 204] });
  if (ours) {
    await ours.rest.call('GET', `/resource/lookup?${new URLSearchParams({ path: `/user/${LOGIN}/Home/bench` })}`, { ok: [404] });
    treeChecks.push('after DELETE of bench/: gone from the tree');
  }
  const peakRss = mem?.peak.server;
  const peakDb = mem?.peak.db;

  // stop our server now when profiling: the profile is written as it exits
  let profile = null;
  if (ours && opts.cpuProf) {
    progress('stopping our server to write its CPU profile');
    await ours.proc.stop();
    profile = summarizeProfile(opts.cpuProf);
  }

  // ------------------------------------------------------------------------------------------
  // report

  const peers = opts.only;
  const rate = (k, op) => stats.rate(k, op);
  const has = (k) => peers.includes(k);
  out('# WebDAV benchmark');
  out();
  out(`- ${int(N)} files × 4 KiB in ${F} folders, ${C} requests in flight per server (one keep-alive agent each, maxSockets ${C}); phases interleaved across servers in rounds, server order rotating; every answer checked`);
  out(`- Node ${process.version} client, ${os.cpus().length} CPUs (${os.cpus()[0]?.model?.trim() ?? '?'}), load average at start ${loadStart.map((l) => l.toFixed(2)).join(' ')}, at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const s of servers) out(`- ${LABELS[s.key]}: ${s.description}`);
  out();

  out('## Small files: operations per second');
  out();
  const ops = ['MKCOL', 'PUT', 'PROPFIND', 'GET', 'MOVE', 'DELETE'];
  const targets = { PUT: 0.7, PROPFIND: 1.0, GET: 0.8, 'big PUT': 0.9, 'big GET': 0.9 };
  const headers = ['operation', ...peers.map((k) => `${LABELS[k]} ops/s`)];
  if (has('ours') && has('apache')) headers.push('ours ÷ Apache');
  if (has('ours') && has('wsgidav')) headers.push('ours ÷ WsgiDAV');
  if (has('ours') && has('apache')) headers.push('target (÷ Apache)');
  const rowFor = (op, label, fmt = (k) => num(rate(k, op))) => {
    const row = [label, ...peers.map(fmt)];
    const our = rate('ours', op);
    if (has('ours') && has('apache')) row.push(ratio(our, rate('apache', op)));
    if (has('ours') && has('wsgidav')) row.push(ratio(our, rate('wsgidav', op)));
    if (has('ours') && has('apache')) {
      const t = targets[op];
      row.push(t === undefined ? '' : `≥ ${t.toFixed(1)}× ${ratioOf(our, rate('apache', op)) >= t ? 'met' : 'missed'}`);
    }
    return row;
  };
  const rows = ops.map((op) => {
    const label = { MKCOL: `MKCOL (${F} folders)`, PUT: 'PUT 4 KiB (new)', PROPFIND: `PROPFIND Depth 1 (folder of ${int(N / F)} files)`, GET: 'GET 4 KiB', MOVE: 'MOVE (into the next folder, renamed)', DELETE: 'DELETE file' }[op];
    return rowFor(op, label);
  });
  rows.splice(3, 0, [
    '  PROPFIND entries/s',
    ...peers.map((k) => {
      const c = stats.get(k, 'PROPFIND');
      return c ? int((c.units / c.ms) * 1000) : '–';
    }),
    ...Array(headers.length - 1 - peers.length).fill(''),
  ]);
  table(headers, rows);
  out();

  const split = has('ours') && ours.dbPid;
  out(`Latency per request, median / p95 ms, and server CPU per request, ms (the server's process tree: Apache's workers${split ? '; ours: Node + its embedded database' : ''}):`);
  out();
  table(
    ['operation', ...peers.flatMap((k) => [`${LABELS[k]} ms`, `${LABELS[k]} CPU ms`])],
    ops.map((op) => [
      op,
      ...peers.flatMap((k) => {
        const c = stats.get(k, op);
        if (!c) return ['–', '–'];
        const cpu = k === 'ours' && split ? `${num(c.cpuMain / c.n)} + ${num((c.cpu - c.cpuMain) / c.n)}` : num(c.cpu / c.n);
        return [`${num(median(c.lat))} / ${num(p95(c.lat))}`, cpu];
      }),
    ]),
  );
  out();

  if (opts.bigMib > 0) {
    out(`## One ${opts.bigMib} MiB file (${opts.bigRounds} round${opts.bigRounds > 1 ? 's' : ''} of PUT then GET, server order rotating; MiB/s over all rounds)`);
    out();
    const bh = ['transfer', ...peers.map((k) => LABELS[k])];
    if (has('ours') && has('apache')) bh.push('ours ÷ Apache');
    if (has('ours') && has('wsgidav')) bh.push('ours ÷ WsgiDAV');
    if (has('ours') && has('apache')) bh.push('target (÷ Apache)');
    const big = (label) => {
      const mibs = (k) => {
        const c = stats.get(k, `big ${label}`);
        return c ? c.units / MiB / (c.ms / 1000) : NaN;
      };
      const row = [`${label}, MiB/s`, ...peers.map((k) => num(mibs(k), 1))];
      if (has('ours') && has('apache')) row.push(ratio(mibs('ours'), mibs('apache')));
      if (has('ours') && has('wsgidav')) row.push(ratio(mibs('ours'), mibs('wsgidav')));
      if (has('ours') && has('apache')) row.push(`≥ 0.9× ${ratioOf(mibs('ours'), mibs('apache')) >= 0.9 ? 'met' : 'missed'}`);
      return row;
    };
    table(bh, [big('PUT'), big('GET'), ['server CPU s per GiB, PUT / GET', ...peers.map((k) => ['PUT', 'GET'].map((l) => num((stats.get(k, `big ${l}`)?.cpu ?? NaN) / ((stats.get(k, `big ${l}`)?.units ?? NaN) / 1024 / MiB) / 1000, 1)).join(' / ')), ...Array(bh.length - 1 - peers.length).fill('')]]);
    out();
    if (ours && bigTimeline.length) {
      const peakOf = (l) => Math.max(...bigTimeline.filter((x) => x.label === l).map((x) => x.rss));
      out(`Our RSS while the ${opts.bigMib} MiB file went up: peak ${mibOf(peakOf('PUT'))}; down: peak ${mibOf(peakOf('GET'))}.`);
      out();
    }
  }

  if (huge) {
    out(`## Our RSS while a ${opts.hugeGib} GiB file goes up and down`);
    out();
    table(
      ['progress', 'PUT: RSS', 'GET: RSS'],
      Array.from({ length: 9 }, (_, e) => [`${(e * 12.5).toFixed(1)} %`, mibOf(huge.dirs.PUT.eighths[e]), mibOf(huge.dirs.GET.eighths[e])]),
    );
    out();
    for (const l of ['PUT', 'GET']) {
      const d = huge.dirs[l];
      out(`- ${l}: ${d.mibs.toFixed(1)} MiB/s; RSS peak ${mibOf(d.peak)} (first half ${mibOf(d.firstPeak)}, second half ${mibOf(d.secondPeak)}; ${d.samples} samples)`);
    }
    out(`- RSS before ${mibOf(huge.before)}, after ${mibOf(huge.after)}: ${huge.flat ? 'flat' : 'NOT flat'} (flat: the second half of each transfer peaks at most 16 MiB above the first half)`);
    out();
  }

  if (ours) {
    out('## Our server\'s memory (RSS, sampled every 100 ms)');
    out();
    table(['when', 'server now', 'server peak', 'database now', 'database peak'], memRows);
    out();
    out(`Peak RSS of our server over the run: ${mibOf(peakRss)}${peakDb ? ` (its embedded database, a separate Java process: ${mibOf(peakDb)})` : ''}.`);
    out();
    out('## Tree checks (REST, on our server)');
    out();
    for (const c of treeChecks) out(`- ${c}: in sync`);
    out();
  }

  if (ours && has('apache')) {
    out('## Targets');
    out();
    const tr = [];
    const t = (label, value, ok) => tr.push([label, value, ok === undefined ? '–' : ok ? 'met' : 'missed']);
    for (const [op, label] of [['PROPFIND', 'PROPFIND ≥ 1.0× Apache'], ['PUT', 'small PUT ≥ 0.7× Apache'], ['GET', 'small GET ≥ 0.8× Apache']]) {
      const r = ratioOf(rate('ours', op), rate('apache', op));
      t(label, ratio(rate('ours', op), rate('apache', op)), Number.isFinite(r) ? r >= targets[op] : undefined);
    }
    for (const l of ['PUT', 'GET']) {
      const a = stats.get('apache', `big ${l}`);
      const o = stats.get('ours', `big ${l}`);
      const r = a && o ? o.units / o.ms / (a.units / a.ms) : NaN;
      t(`big ${l} ≥ 0.9× Apache`, Number.isFinite(r) ? `${r.toFixed(2)}×` : '–', Number.isFinite(r) ? r >= 0.9 : undefined);
    }
    t('peak RSS ≤ 200 MiB', mibOf(peakRss), peakRss !== undefined ? peakRss <= 200 * 1024 : undefined);
    t(`RSS flat while ${opts.hugeGib} GiB goes up and down`, huge ? `${mibOf(huge.dirs.PUT.peak)} / ${mibOf(huge.dirs.GET.peak)} peak` : 'not run', huge ? huge.flat : undefined);
    t('tree kept in sync', `${treeChecks.length} checks`, true);
    table(['target', 'measured', ''], tr);
    out();
  }

  if (profile) {
    const pct = (us) => `${((us / 1000 / profile.busyMs) * 100).toFixed(1)} %`;
    out(`## CPU profile of our server (${path.relative(process.cwd(), profile.file) || profile.file}; ${int(profile.busyMs)} ms busy, idle left out)`);
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

#!/usr/bin/env node
// Benchmark of the embedded database (DESIGN §9, issue 11): stock mongo-java-server (H2 backend)
// beside the Strata extension (src/modules/database/embedded-server), in the same run.
//
//   node bench/embedded-db.mjs [--sizes 1000,10000,100000,1000000] [--jvm "-Xmx512m -XX:+UseSerialGC"]
//                              [--jvm-matrix] [--matrix-rounds 1] [--no-stock] [--stock-up-to N]
//                              [--data DIR] [--reps 20] [--warm 2000]
//
// For each size N it fills a store with N items the way the product stores them (Girder items:
// folderId, name, lowerName, ...; indexes {folderId:1, lowerName:1} unique and {folderId:1}),
// spread over folders of 50 children plus one large folder of min(N/10, 100 000) children, then
// starts each engine on its own copy of the file and measures, as medians over --reps runs on
// different folders:
//   page50     find({folderId}).sort({lowerName:1}).limit(50) on a folder of 50
//   count50    countDocuments({folderId}) on a folder of 50
//   lookup     findOne({folderId, lowerName})
//   bigPage    the first 50 children of the large folder by lowerName
//   bigDeep    50 children from the middle of the large folder (sort + skip)
//   bigKeyset  50 children after a given lowerName (keyset paging)
//   bigCount   countDocuments({folderId}) on the large folder
//   start      time from launching java to its READY line (a clean restart of a filled store)
//   rss        resident memory of the java process after the queries; heap: used after a full GC
// --stock-up-to N runs stock only at sizes up to N: over a store this server wrote, stock first
// rebuilds the library's own _id index (Java serialization at every comparison), which takes most
// of an hour at 1M items on a busy 2-core machine, and its queries are scans of the whole store.
// --jvm-matrix repeats the extended engine at the largest size with several JVM flag sets
// (collectors, heap caps, C1 only, an application class-data-sharing archive for start-up).
// --data DIR keeps the filled stores there and reuses them on the next run.
// The build is the one the server uses (Maven, cached by a hash of the module's sources).
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, promises as fs, rmSync, copyFileSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const { MongoClient, ObjectId } = require('mongodb');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const flag = (name) => args.includes(`--${name}`);
const SIZES = opt('sizes', '1000,10000,100000,1000000').split(',').map((s) => Number(s.trim()));
const JVM = opt('jvm', '-Xmx512m -XX:+UseSerialGC').split(' ').filter(Boolean);
const REPS = Number(opt('reps', 20));
const WARM_ROUNDS = Number(opt('warm', 2000));
const MATRIX_ROUNDS = Number(opt('matrix-rounds', 1));
const WITH_STOCK = !flag('no-stock');
const STOCK_UP_TO = Number(opt('stock-up-to', Infinity));
const MATRIX = flag('jvm-matrix');
const DATA = opt('data', null);
const MATRIX_FLAGS = [
  '-Xmx512m -XX:+UseSerialGC',
  '-Xmx256m -XX:+UseSerialGC',
  '-Xmx512m -XX:+UseParallelGC',
  '-Xmx512m -XX:+UseG1GC',
  '-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1',
  // {cds}: an AppCDS archive of the classes a run loads, made once by a run with -XX:ArchiveClassesAtExit
  '-Xmx512m -XX:+UseSerialGC -XX:SharedArchiveFile={cds}',
];
/** A single stock query slower than this ends that measurement (stock scans the whole store). */
const STOCK_BUDGET_MS = 60_000;

const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const log = (line) => process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------- build (as src/modules/database/embedded-build.ts)

function cacheDir() {
  return process.env.CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'strata');
}

async function listFiles(dir) {
  const out = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (entry.name === 'target') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else out.push(full);
  }
  return out;
}

async function ensureBuilt() {
  const source = path.join(root, 'src/modules/database/embedded-server');
  const files = (await listFiles(source)).filter((f) => f.endsWith('.java') || f.endsWith('pom.xml') || f.includes('/resources/'));
  const hash = createHash('sha256');
  for (const file of files.sort()) {
    hash.update(path.relative(source, file));
    hash.update(readFileSync(file));
  }
  const dir = path.join(cacheDir(), 'embedded-db', hash.digest('hex').slice(0, 16));
  if (!existsSync(path.join(dir, 'BUILT'))) {
    log(`building the embedded server into ${dir}`);
    const staging = `${dir}.building-${process.pid}`;
    const r = spawnSync(process.env.MAVEN_CMD ?? 'mvn', ['-q', '-B', '-f', path.join(source, 'pom.xml'), `-DbuildDir=${staging}`, 'package'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('Maven build failed');
    await fs.writeFile(path.join(staging, 'BUILT'), new Date().toISOString());
    await fs.rename(staging, dir).catch(async (e) => {
      if (!existsSync(path.join(dir, 'BUILT'))) throw e;
      await fs.rm(staging, { recursive: true, force: true });
    });
  }
  return `${path.join(dir, 'strata-embedded-db.jar')}${path.delimiter}${path.join(dir, 'lib', '*')}`;
}

// ---------------------------------------------------------------- server process

function startServer(classpath, file, { stock = false, jvm = JVM } = {}) {
  const t0 = now();
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const child = spawn(
    java,
    [
      ...jvm,
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-Dorg.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire.MongoExceptionHandler=off',
      '-cp',
      classpath,
      'dev.strata.embeddeddb.Launcher',
      '--file',
      file,
      ...(stock ? ['--stock'] : []),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d) => {
      out += d;
      const m = /READY (\S+)/.exec(out);
      if (m) {
        child.stdout.off('data', onData);
        resolve({
          uri: m[1],
          pid: child.pid,
          startMs: now() - t0,
          /** CPU time the JVM used until READY (all threads: start-up, class loading, JIT, opening the store). */
          startCpuMs: serverCpuMs(child.pid),
          alive: () => child.exitCode === null && child.signalCode === null,
          /** The first error the JVM printed (e.g. java.lang.OutOfMemoryError), if any. */
          failure: () => (/\S*(Error|Exception)\b[^\n]*/.exec(out.slice(-20000)) ?? [''])[0].slice(0, 120),
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.stdin.end();
            }),
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => {
      out += d;
      if (out.length > 200_000) out = out.slice(-100_000);
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}):\n${out.slice(-2000)}`)));
  });
}

/**
 * CPU time the server process has used, in ms (all its threads, from /proc/<pid>/task/<tid>/schedstat,
 * nanosecond resolution). Per operation, with the client's own CPU time, it tells what a query costs
 * when the machine is shared: wall-clock times then include waiting for a core.
 */
function serverCpuMs(pid) {
  let ns = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    return NaN;
  }
  return ns / 1e6;
}

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Heap in use after a full GC, in MiB (jcmd), or NaN when jcmd is not available. */
function heapAfterGcMiB(pid) {
  const gc = spawnSync('jcmd', [String(pid), 'GC.run'], { encoding: 'utf8' });
  if (gc.status !== 0) return NaN;
  const info = spawnSync('jcmd', [String(pid), 'GC.heap_info'], { encoding: 'utf8' });
  // sum the generations (Serial, Parallel: PSYoungGen + ParOldGen) or the G1 heap; leave out Metaspace
  let used = 0;
  for (const line of (info.stdout ?? '').split('\n')) {
    const m = /(generation|heap|space|PSYoungGen|ParOldGen).*used (\d+)K/i.exec(line);
    if (m && !/Metaspace|class space/i.test(line) && !/^\s+(eden|from|to|the) space/i.test(line)) used += Number(m[2]);
  }
  return used ? used / 1024 : NaN;
}

// ---------------------------------------------------------------- data

const pad = (i) => String(i).padStart(7, '0');

/** Fills the store with N items; returns the ids the queries need. */
async function fill(uri, n) {
  const client = await MongoClient.connect(uri);
  const items = client.db('bench').collection('item');
  await items.createIndex({ folderId: 1, lowerName: 1 }, { unique: true });
  await items.createIndex({ folderId: 1 });
  const bigSize = Math.min(Math.floor(n / 10), 100_000);
  const bigFolder = new ObjectId();
  const smallFolders = [];
  const creator = new ObjectId();
  const base = new ObjectId();
  let smallLeft = n - bigSize;
  let bigDone = 0;
  let batch = [];
  let inserted = 0;
  const t0 = now();
  const item = (folderId, name) => ({
    name,
    lowerName: name.toLowerCase(),
    description: '',
    folderId,
    creatorId: creator,
    baseParentType: 'collection',
    baseParentId: base,
    created: new Date(),
    updated: new Date(),
    size: name.length * 1000,
    meta: {},
  });
  const flush = async () => {
    if (!batch.length) return;
    await items.insertMany(batch, { ordered: false });
    inserted += batch.length;
    batch = [];
    if (inserted % 50_000 < 1000) log(`  filled ${inserted}/${n} (${((now() - t0) / 1000).toFixed(0)} s)`);
  };
  while (smallLeft > 0 || bigDone < bigSize) {
    // spread the large folder's children over the whole fill, as a folder that grows over time
    const bigShare = bigSize - bigDone > 0 ? Math.ceil(((bigSize - bigDone) * 1000) / (smallLeft + bigSize - bigDone)) : 0;
    for (let i = 0; i < bigShare && bigDone < bigSize; i++, bigDone++) batch.push(item(bigFolder, `Big Item ${pad(bigDone)}`));
    while (batch.length < 1000 && smallLeft > 0) {
      const folderId = new ObjectId();
      smallFolders.push(folderId);
      const children = Math.min(50, smallLeft);
      for (let i = 0; i < children; i++) batch.push(item(folderId, `Item ${pad(i)} of ${folderId.toHexString().slice(-6)}`));
      smallLeft -= children;
      if (batch.length >= 1000) await flush();
    }
    await flush();
  }
  await flush();
  const fillMs = now() - t0;
  await client.close();
  return { n, bigSize, bigFolder: bigFolder.toHexString(), smallFolders: smallFolders.map((f) => f.toHexString()), fillMs };
}

// ---------------------------------------------------------------- measurements

async function measure(server, meta, { reps, budgetMs }) {
  const client = await MongoClient.connect(server.uri, { serverSelectionTimeoutMS: 5000, socketTimeoutMS: 0 });
  const items = client.db('bench').collection('item');
  const bigFolder = new ObjectId(meta.bigFolder);
  const folders = meta.smallFolders.filter((f) => f.length).map((f) => new ObjectId(f));
  const pick = (i) => folders[(i * 7919 + 13) % folders.length];
  const results = { failures: {}, cpu: {}, load: [loadavg()[0]] };
  const time = async (name, fn, n = reps) => {
    if (!server.alive()) {
      results.failures[name] = `server gone (${server.failure() || 'exited'})`;
      return;
    }
    const ts = [];
    try {
      const cpu0 = serverCpuMs(server.pid);
      const client0 = process.cpuUsage();
      for (let i = 0; i < n; i++) {
        const t = now();
        await fn(i);
        ts.push(now() - t);
        if (ts[ts.length - 1] > budgetMs) break;
      }
      results[name] = median(ts);
      // mean CPU time per operation: the server's, and this client's (driver encoding and decoding)
      const client = process.cpuUsage(client0);
      results.cpu[name] = { server: (serverCpuMs(server.pid) - cpu0) / ts.length, client: (client.user + client.system) / 1000 / ts.length };
    } catch (e) {
      await new Promise((r) => setTimeout(r, 1000));
      results.failures[name] = server.alive() ? String(e.message).slice(0, 120) : `server died (${server.failure() || e.message})`;
      log(`  ${name}: ${results.failures[name]}`);
    }
  };
  // warm up the connection pool and the JIT (a server runs warm), on other folders than those
  // measured: a number of rounds, not a time, so that a busy machine warms up as far as an idle
  // one (after 400 rounds the JIT compiler still used about as much CPU per query as the query
  // itself; after 2,000 a tenth of it)
  const warm = budgetMs === Infinity;
  const warmUntil = now() + (warm ? 5000 : 0);
  for (let i = 0; warm && (i < WARM_ROUNDS || now() < warmUntil); i++) {
    const folderId = pick(1_000_003 + i);
    await items.find({ folderId }).sort({ lowerName: 1 }).limit(50).toArray();
    await items.countDocuments({ folderId });
    await items.findOne({ folderId, lowerName: 'none' });
    if (i % 4 === 0) {
      await items.find({ folderId }).sort({ lowerName: 1 }).skip(20).limit(20).toArray();
      await items.find({ folderId, lowerName: { $gt: 'item 0000010' } }).sort({ lowerName: 1 }).limit(20).toArray();
    }
  }
  await time('page50', async (i) => {
    const page = await items.find({ folderId: pick(i + 3 * reps) }).sort({ lowerName: 1 }).limit(50).toArray();
    if (page.length !== 50) throw new Error(`page of ${page.length}`);
  });
  await time('lookup', async (i) => {
    const folderId = pick(i + 2 * reps);
    const name = `item ${pad(i % 50)} of ${folderId.toHexString().slice(-6)}`;
    const doc = await items.findOne({ folderId, lowerName: name });
    if (!doc) throw new Error(`lookup ${name} found nothing`);
  });
  const middle = Math.floor(meta.bigSize / 2);
  if (meta.bigSize >= 50) {
    await time('bigPage', async () => {
      const page = await items.find({ folderId: bigFolder }).sort({ lowerName: 1 }).limit(50).toArray();
      if (page[0].lowerName !== `big item ${pad(0)}`) throw new Error('bigPage order');
    }, Math.min(reps, 5));
    await time('bigDeep', async () => {
      const page = await items.find({ folderId: bigFolder }).sort({ lowerName: 1 }).skip(middle).limit(50).toArray();
      if (page[0].lowerName !== `big item ${pad(middle)}`) throw new Error('bigDeep order');
    }, Math.min(reps, 5));
    await time('bigKeyset', async () => {
      const page = await items.find({ folderId: bigFolder, lowerName: { $gt: `big item ${pad(middle)}` } }).sort({ lowerName: 1 }).limit(50).toArray();
      if (page[0].lowerName !== `big item ${pad(middle + 1)}`) throw new Error('bigKeyset order');
    }, Math.min(reps, 5));
  }
  // memory before the counts: a stock count reads the whole collection into the heap
  if (server.alive()) {
    results.rss = rssMiB(server.pid);
    results.heap = heapAfterGcMiB(server.pid);
  }
  // the forced full GC (and jcmd's attach) cost the next queries a few ms: count other folders first
  for (let i = 0; warm && i < 100; i++) await items.countDocuments({ folderId: pick(2_000_003 + i) });
  await time('count50', async (i) => {
    const n = await items.countDocuments({ folderId: pick(i + reps) });
    if (n !== 50) throw new Error(`count ${n}`);
  });
  if (meta.bigSize >= 50) {
    await time('bigCount', async () => {
      const n = await items.countDocuments({ folderId: bigFolder });
      if (n !== meta.bigSize) throw new Error(`bigCount ${n}`);
    }, Math.min(reps, 5));
  }
  await client.close(true).catch(() => {});
  results.load.push(loadavg()[0]);
  return results;
}

async function runEngine(classpath, file, meta, { stock, jvm }) {
  // measure a clean restart (a first start may still build indexes the file lacks)
  const server = await startServer(classpath, file, { stock, jvm });
  try {
    const results = await measure(server, meta, { reps: stock ? Math.min(REPS, 3) : REPS, budgetMs: stock ? STOCK_BUDGET_MS : Infinity });
    results.start = server.startMs;
    results.cpu.start = { server: server.startCpuMs, client: 0 };
    return results;
  } finally {
    await server.stop();
  }
}

/** A copy of the store prepared for an engine: started once, so that it built whatever indexes it keeps. */
async function prepared(classpath, work, source, n, { stock }) {
  const file = path.join(work, `${stock ? 'stock' : 'extended'}-${n}.mv.db`);
  if (!existsSync(file) || !existsSync(`${file}.ready`)) {
    copyFileSync(source, file);
    const t0 = now();
    const server = await startServer(classpath, file, { stock });
    await server.stop();
    await fs.writeFile(`${file}.ready`, `first start ${(now() - t0).toFixed(0)} ms`);
    log(`  ${stock ? 'stock' : 'extended'}: first start over the filled store took ${((now() - t0) / 1000).toFixed(0)} s`);
  }
  return file;
}

// ---------------------------------------------------------------- report

const fmt = (v, unit = 'ms') => (v === undefined || Number.isNaN(v) ? '–' : unit === 'ms' ? (v >= 100 ? v.toFixed(0) : v.toFixed(2)) : v.toFixed(0));
const ROWS = [
  ['page50', 'page of 50 (folder of 50), ms'],
  ['count50', 'count (folder of 50), ms'],
  ['lookup', 'lookup by (folderId, lowerName), ms'],
  ['bigPage', 'large folder: first page, ms'],
  ['bigDeep', 'large folder: page from the middle (skip), ms'],
  ['bigKeyset', 'large folder: keyset page, ms'],
  ['bigCount', 'large folder: count, ms'],
  ['start', 'start-up, ms'],
  ['rss', 'RSS, MiB'],
  ['heap', 'heap used after GC, MiB'],
];

function table(n, meta, stock, extended) {
  const lines = [];
  lines.push(`\n### ${n.toLocaleString('en')} items (${meta.smallFolders.length} folders of ≤50, one of ${meta.bigSize.toLocaleString('en')}); fill ${(meta.fillMs / 1000).toFixed(0)} s`);
  const load = (r) => (r?.load ? `${r.load.map((l) => l.toFixed(1)).join('–')}` : '–');
  lines.push(`JVM: ${JVM.join(' ')}; 1-min load average during the runs: stock ${load(stock)}, extended ${load(extended)}\n`);
  lines.push(`| measure | stock | extended | stock / extended | extended CPU per op, ms: server + client |`);
  lines.push(`|---|---:|---:|---:|---:|`);
  for (const [key, label] of ROWS) {
    const unit = key === 'rss' || key === 'heap' ? 'MiB' : 'ms';
    const s = stock?.[key];
    const e = extended[key];
    const c = extended.cpu?.[key];
    const cpu = c ? `${c.server.toFixed(2)} + ${c.client.toFixed(2)}` : '';
    if (stock && s === undefined && stock.failures[key]) {
      lines.push(`| ${label} | failed | ${fmt(e, unit)} | | ${cpu} |`);
      continue;
    }
    const ratio = s !== undefined && e && unit === 'ms' ? `${(s / e).toFixed(s / e >= 10 ? 0 : 1)}×` : '';
    lines.push(`| ${label} | ${fmt(s, unit)} | ${fmt(e, unit)} | ${ratio} | ${cpu} |`);
  }
  for (const [engine, r] of [['stock', stock], ['extended', extended]]) {
    for (const [key, why] of Object.entries(r?.failures ?? {})) lines.push(`\n${engine} ${key}: ${why}`);
  }
  return lines.join('\n');
}

async function main() {
  const classpath = await ensureBuilt();
  const work = DATA ?? mkdtempSync(path.join(tmpdir(), 'strata-bench-'));
  mkdirSync(work, { recursive: true });
  const report = [];
  let last;
  for (const n of SIZES) {
    const file = path.join(work, `items-${n}.mv.db`);
    const metaFile = `${file}.json`;
    let meta;
    if (existsSync(file) && existsSync(metaFile)) {
      meta = JSON.parse(readFileSync(metaFile, 'utf8'));
      log(`${n}: reusing ${file}`);
    } else {
      rmSync(file, { force: true });
      log(`${n}: filling ${file}`);
      const server = await startServer(classpath, file);
      try {
        meta = await fill(server.uri, n);
      } finally {
        await server.stop();
      }
      await fs.writeFile(metaFile, JSON.stringify(meta));
    }
    log(`${n}: extended`);
    const extendedFile = await prepared(classpath, work, file, n, { stock: false });
    const extended = await runEngine(classpath, extendedFile, meta, { stock: false, jvm: JVM });
    log(`  ${JSON.stringify(extended)}`);
    let stock;
    if (WITH_STOCK && n <= STOCK_UP_TO) {
      log(`${n}: stock`);
      const stockFile = await prepared(classpath, work, file, n, { stock: true });
      stock = await runEngine(classpath, stockFile, meta, { stock: true, jvm: JVM });
      log(`  ${JSON.stringify(stock)}`);
    }
    const t = table(n, meta, stock, extended);
    console.log(t);
    report.push(t);
    last = { n, file, meta };
  }
  if (MATRIX && last) {
    const lines = [`\n### JVM flags, extended engine, ${last.n.toLocaleString('en')} items\n`];
    lines.push('| flags | start-up ms | page50 ms | page50 CPU ms (server + client) | count50 ms | lookup ms | bigPage ms | bigDeep ms | bigCount ms | RSS MiB | heap MiB | load |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    const f = await prepared(classpath, work, last.file, last.n, { stock: false });
    const runs = [];
    for (let round = 1; round <= MATRIX_ROUNDS; round++) {
      // alternate the order, so that no flag set always runs first or last
      runs.push(...(round % 2 ? MATRIX_FLAGS : [...MATRIX_FLAGS].reverse()).map((flags) => ({ flags, round })));
    }
    for (const { flags, round } of runs) {
      let jvm = flags.split(' ');
      if (flags.includes('{cds}')) {
        const archive = path.join(work, `cds-${createHash('sha256').update(classpath).digest('hex').slice(0, 12)}.jsa`);
        if (!existsSync(archive)) {
          log(`matrix: writing the class-data archive ${archive}`);
          const server = await startServer(classpath, f, { jvm: ['-Xmx512m', '-XX:+UseSerialGC', `-XX:ArchiveClassesAtExit=${archive}`] });
          await measure(server, last.meta, { reps: 2, budgetMs: Infinity });
          await server.stop();
        }
        jvm = jvm.map((a) => a.replace('{cds}', archive));
      }
      log(`matrix: ${flags}`);
      const r = await runEngine(classpath, f, last.meta, { stock: false, jvm });
      log(`  ${JSON.stringify(r)}`);
      lines.push(`| \`${flags.replace('{cds}', 'app.jsa')}\`${MATRIX_ROUNDS > 1 ? ` (run ${round})` : ''} | ${fmt(r.start)} | ${fmt(r.page50)} | ${r.cpu.page50 ? `${r.cpu.page50.server.toFixed(2)} + ${r.cpu.page50.client.toFixed(2)}` : '–'} | ${fmt(r.count50)} | ${fmt(r.lookup)} | ${fmt(r.bigPage)} | ${fmt(r.bigDeep)} | ${fmt(r.bigCount)} | ${fmt(r.rss, 'MiB')} | ${fmt(r.heap, 'MiB')} | ${r.load.map((l) => l.toFixed(1)).join('–')} |`);
    }
    console.log(lines.join('\n'));
  }
  console.log(await dbcheckScale(classpath, work));
  if (!DATA) rmSync(work, { recursive: true, force: true });
  else for (const f of (await fs.readdir(work)).filter((x) => x.startsWith('run-'))) rmSync(path.join(work, f), { force: true });
}

/**
 * The scale phase of the project's database checker (../shared/dbcheck) on an empty extended
 * server: insert, lookup and $inc latency at 1,000 documents against 50,000 (its PASS needs
 * x3 or less). It is timed, so it runs here rather than in the test suite.
 */
async function dbcheckScale(classpath, work) {
  const dbcheck = path.resolve(root, '..', 'shared', 'dbcheck', 'dbcheck.mjs');
  if (!existsSync(dbcheck)) return `\n(dbcheck scale phase skipped: ${dbcheck} not found)`;
  const file = path.join(work, 'run-dbcheck.mv.db');
  rmSync(file, { force: true });
  const server = await startServer(classpath, file);
  try {
    // asynchronous, so the server's output pipes keep draining while it runs
    const run = await new Promise((resolve) => execFile(process.execPath, [dbcheck, server.uri, '--only', 'scale'], { cwd: root }, (_e, stdout, stderr) => resolve({ stdout, stderr })));
    return `\n### dbcheck scale phase, extended engine\n\n${run.stdout}${run.stderr}`;
  } finally {
    await server.stop();
    rmSync(file, { force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startTestServer, TestServer } from '../support/server';
import { call, registerUser } from '../support/http';

const run = promisify(execFile);

/**
 * davfs2 (Debian package, installed by scripts/test), the FUSE mount that stands in for fusedav:
 * the users' own way in, as the original plugin documents it. As root, mounts /homes/<login> with
 * `token:<api token>` as the password, works on it with ordinary shell and Node fs calls and checks
 * after every step that the tree (REST lookup, sizes, downloads) and the disk show the change.
 *
 * davfs2 uploads a closed file from its daemon shortly after `close()` returns, even with
 * `delay_upload 0`, so every check polls for a few seconds (no timing is asserted).
 *
 * The server runs in this process: everything that touches the mount must be asynchronous (fs
 * promises, child processes). A synchronous call blocks the event loop while the kernel waits for
 * the daemon, which waits for the server: a deadlock.
 */
const LOGIN = 'davfsuser';
const POLL_MS = 8_000;

let t: TestServer;
let token: string;
let base: string; // our temp dir: mount point, cache, config, secrets
let mnt: string;
let conf: string;
let davUrl: string;
let mounted = false;

const inMount = (rel = '') => path.join(mnt, ...rel.split('/').filter(Boolean));
const onDisk = (rel = '') => path.join(t.dataDir, 'homes', LOGIN, ...rel.split('/').filter(Boolean));
const api = (method: string, p: string, opts: Parameters<typeof call>[3] = {}) => call(t.api, method, p, { token, ...opts });
const lookup = (rel: string) => api('GET', '/resource/lookup', { query: { path: `/user/${LOGIN}/Home/${rel}` } });

/** Quotes a value for davfs2's config and secrets files (davfs2.conf(5): in quotes, escape `"` and `\`). */
function davfsQuote(value: string): string {
  if (/[\n\r\f\v]/.test(value)) throw new Error(`davfs2 cannot hold ${JSON.stringify(value)} in one line`);
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function isMounted(): boolean {
  // /proc/mounts escapes spaces as \040; our paths have none
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === mnt);
}

async function mount(): Promise<void> {
  await run('mount', ['-t', 'davfs', davUrl, mnt, '-o', `conf=${conf}`], { timeout: 30_000 });
  mounted = true;
  expect(isMounted()).toBe(true);
}

async function unmount(): Promise<void> {
  await run('sync', [], { timeout: 30_000 });
  await run('umount', [mnt], { timeout: 60_000 }); // waits for the daemon to upload what is left
  mounted = false;
}

/** Drops davfs2's caches: unmount (uploads pending changes) and mount again. */
async function remount(): Promise<void> {
  await unmount();
  await mount();
}

/** Last resort when `umount` fails: lazy unmount and stop the daemon we started (by its pid file). */
async function forceUnmount(): Promise<void> {
  await run('umount', ['-l', mnt], { timeout: 10_000 }).catch(() => {});
  const pidFile = path.join('/var/run/mount.davfs', `${mnt.slice(1).replace(/\//g, '-')}.pid`);
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (pid > 1) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  }
}

/** Retries `check` (which throws on a mismatch) until it passes or `ms` have gone; rethrows the last failure. */
async function eventually<T>(check: () => Promise<T> | T, ms = POLL_MS): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 150));
    }
  }
}

async function shell(script: string): Promise<void> {
  await run('sh', ['-ec', script], { cwd: mnt, timeout: 30_000 });
  await run('sync', [], { timeout: 30_000 });
}

/** The file at `rel` is in the tree (exact name, size, download) and on disk with `content`. */
async function expectFile(rel: string, content: Buffer | string): Promise<any> {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
  return eventually(async () => {
    const res = await lookup(rel);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ _modelType: 'item', name: path.posix.basename(rel), size: bytes.length });
    const files = await api('GET', `/item/${res.body._id}/files`);
    expect(files.body.map((f: any) => [f.name, f.size])).toEqual([[path.posix.basename(rel), bytes.length]]);
    const download = await fetch(`${t.api}/item/${res.body._id}/download`, { headers: { 'Girder-Token': token } });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);
    expect(statSync(onDisk(rel)).isFile()).toBe(true);
    expect(readFileSync(onDisk(rel)).equals(bytes)).toBe(true);
    return res.body;
  });
}

async function expectFolder(rel: string): Promise<any> {
  return eventually(async () => {
    const res = await lookup(rel);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ _modelType: 'folder', name: path.posix.basename(rel) });
    expect(statSync(onDisk(rel)).isDirectory()).toBe(true);
    return res.body;
  });
}

async function expectGone(rel: string): Promise<void> {
  await eventually(async () => {
    expect((await lookup(rel)).status).toBe(404);
    expect(existsSync(onDisk(rel))).toBe(false);
  });
}

/** Names of the children of a Home folder through REST (folders, then items). */
async function restChildren(folderId: string): Promise<string[]> {
  const folders = await api('GET', '/folder', { query: { parentType: 'folder', parentId: folderId, limit: 0 } });
  const items = await api('GET', '/item', { query: { folderId, limit: 0 } });
  return [...folders.body.map((f: any) => f.name), ...items.body.map((i: any) => i.name)].sort();
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the davfs2 suite mounts a file system: run it as root (scripts/test installs davfs2)');
  if (!existsSync('/dev/fuse')) throw new Error('the davfs2 suite needs /dev/fuse');
  const { stdout: group } = await run('getent', ['group', 'davfs2']).catch(() => {
    throw new Error('no davfs2 group: install the Debian package davfs2 (scripts/test does)');
  });
  const davfs2Gid = Number(group.split(':')[2]);

  t = await startTestServer({ LOG_LEVEL: 'error' });
  token = (await registerUser(t.api, LOGIN, 'davfs-account-1')).token;
  davUrl = `${t.url}/homes/${LOGIN}`;

  base = mkdtempSync(path.join(tmpdir(), 'strata-davfs2-'));
  chmodSync(base, 0o755); // the daemon runs as davfs2 and must reach its cache
  mnt = path.join(base, 'mnt');
  mkdirSync(mnt);
  const cache = path.join(base, 'cache');
  mkdirSync(cache);
  chownSync(cache, 0, davfs2Gid);
  chmodSync(cache, 0o775); // writable by the daemon's group, no setgid
  const secrets = path.join(base, 'secrets');
  writeFileSync(secrets, `${davfsQuote(davUrl)} ${davfsQuote(LOGIN)} ${davfsQuote(`token:${token}`)}\n`, { mode: 0o600 });
  chmodSync(secrets, 0o600);
  conf = path.join(base, 'davfs2.conf');
  writeFileSync(
    conf,
    [
      `secrets ${davfsQuote(secrets)}`,
      `cache_dir ${davfsQuote(cache)}`,
      'buf_size 64', // listings fail with the default 16 KiB
      'delay_upload 0', // upload on close, not 10 s later
      'use_locks 0', // no LOCK per open file
      'ask_auth 0', // never prompt
      '',
    ].join('\n'),
  );

  // davfs2 mounts an unreachable server in offline mode and fails later: probe first
  const probe = await call(t.url, 'PROPFIND', `/homes/${LOGIN}/`, { basic: [LOGIN, `token:${token}`], headers: { Depth: '0' } });
  expect(probe.status).toBe(207);
  await mount();
}, 60_000);

afterAll(async () => {
  try {
    if (mnt && (mounted || isMounted())) {
      await unmount().catch(async (err) => {
        process.stderr.write(`umount ${mnt} failed (${(err as Error).message}); forcing it\n`);
        await forceUnmount();
      });
    }
  } finally {
    await t?.close();
    // never recurse into a mount that is still there: it would delete through it
    if (base && !(mnt && isMounted())) rmSync(base, { recursive: true, force: true });
  }
}, 90_000);

describe('davfs2 mount of /homes/<login>', () => {
  let home: any;
  let docs: any;
  let noteId: string;

  it('mounts an empty home that lists without errors', async () => {
    home = (await lookup('')).body;
    expect(home).toMatchObject({ _modelType: 'folder', name: 'Home' });
    // davfs2 shows its local lost+found (backup_dir); it is not on the server
    expect((await fsp.readdir(mnt)).filter((n) => n !== 'lost+found')).toEqual([]);
    expect(await restChildren(home._id)).toEqual([]);
    expect(readdirSync(onDisk())).toEqual([]);
  });

  it('creates a folder', async () => {
    await fsp.mkdir(inMount('docs'));
    docs = await expectFolder('docs');
    expect(docs.parentId).toBe(home._id);
    expect(readdirSync(onDisk('docs'))).toEqual([]);
  });

  it('creates a file', async () => {
    await fsp.writeFile(inMount('note.txt'), 'first version\n');
    await run('sync');
    const item = await expectFile('note.txt', 'first version\n');
    expect(item.folderId).toBe(home._id);
    noteId = item._id;
  });

  it('overwrites the file with content of another size', async () => {
    const content = `second version, longer: ${'x'.repeat(5000)}\n`;
    await fsp.writeFile(inMount('note.txt'), content);
    await run('sync');
    const item = await expectFile('note.txt', content);
    expect(item._id).toBe(noteId); // the same item, updated
    expect((await api('GET', `/item/${noteId}/files`)).body).toHaveLength(1);
    expect(await fsp.readFile(inMount('note.txt'), 'utf8')).toBe(content);
    // and shorter again (a truncating shell redirect)
    await shell("printf 'short' > note.txt");
    expect((await expectFile('note.txt', 'short'))._id).toBe(noteId);
  });

  it('renames the file', async () => {
    await fsp.rename(inMount('note.txt'), inMount('renamed.txt'));
    const item = await expectFile('renamed.txt', 'short');
    expect(item._id).toBe(noteId); // MOVE keeps the id
    await expectGone('note.txt');
  });

  it('moves the file into the folder', async () => {
    await shell('mv renamed.txt docs/');
    const item = await expectFile('docs/renamed.txt', 'short');
    expect(item).toMatchObject({ _id: noteId, folderId: docs._id });
    await expectGone('renamed.txt');
    expect(await fsp.readdir(inMount('docs'))).toEqual(['renamed.txt']);
  });

  const binary = randomBytes(300 * 1024); // several buf_size chunks
  it('creates a nested folder tree with files', async () => {
    await shell("mkdir -p 'deep/a b/c/d' && printf 'top' > deep/top.txt && printf 'middle' > 'deep/a b/middle.txt'");
    await fsp.writeFile(inMount('deep/a b/c/d/leaf.bin'), binary);
    await fsp.writeFile(inMount('deep/a b/c/empty.txt'), '');
    await run('sync');
    for (const rel of ['deep', 'deep/a b', 'deep/a b/c', 'deep/a b/c/d']) await expectFolder(rel);
    await expectFile('deep/top.txt', 'top');
    await expectFile('deep/a b/middle.txt', 'middle');
    await expectFile('deep/a b/c/d/leaf.bin', binary);
    await expectFile('deep/a b/c/empty.txt', '');
    expect((await fsp.readdir(inMount('deep/a b'))).sort()).toEqual(['c', 'middle.txt']);
    expect((await fsp.readFile(inMount('deep/a b/c/d/leaf.bin'))).equals(binary)).toBe(true);
  });

  it('deletes a file', async () => {
    const middle = await expectFile('deep/a b/middle.txt', 'middle');
    await fsp.unlink(inMount('deep/a b/middle.txt'));
    await expectGone('deep/a b/middle.txt');
    expect((await api('GET', `/item/${middle._id}`)).status).toBe(404);
    await expectFile('deep/top.txt', 'top'); // its neighbours stay
    await expectFolder('deep/a b/c');
  });

  it('deletes a folder tree', async () => {
    const leaf = await expectFile('deep/a b/c/d/leaf.bin', binary);
    const inner = await expectFolder('deep/a b');
    await shell('rm -r deep');
    await expectGone('deep');
    expect((await api('GET', `/item/${leaf._id}`)).status).toBe(404);
    expect((await api('GET', `/folder/${inner._id}`)).status).toBe(404);
    expect((await fsp.readdir(mnt)).filter((n) => n !== 'lost+found')).toEqual(['docs']);
  });

  it('shows a file uploaded through REST in the mount', async () => {
    const content = 'uploaded through REST\n';
    const up = await api('POST', '/file', {
      query: { parentType: 'folder', parentId: docs._id, name: 'from-rest.txt', size: Buffer.byteLength(content) },
      body: content,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    expect(up.status).toBe(200);
    expect(readFileSync(onDisk('docs/from-rest.txt'), 'utf8')).toBe(content);
    // davfs2 caches directory listings (dir_refresh): wait briefly, then drop its cache by remounting
    const listed = async () => (await fsp.readdir(inMount('docs'))).includes('from-rest.txt');
    const seen = await eventually(async () => expect(await listed()).toBe(true), 3_000).then(
      () => true,
      () => false,
    );
    if (!seen) await remount();
    expect((await fsp.readdir(inMount('docs'))).sort()).toEqual(['from-rest.txt', 'renamed.txt']);
    expect(await fsp.readFile(inMount('docs/from-rest.txt'), 'utf8')).toBe(content);
  });

  it('leaves nothing else behind on the server after unmounting', async () => {
    await remount(); // the unmount uploads anything still pending
    expect(await restChildren(home._id)).toEqual(['docs']);
    expect(await restChildren(docs._id)).toEqual(['from-rest.txt', 'renamed.txt']);
    expect(readdirSync(onDisk()).sort()).toEqual(['docs']);
    expect(readdirSync(onDisk('docs')).sort()).toEqual(['from-rest.txt', 'renamed.txt']);
    await expectFile('docs/renamed.txt', 'short');
  }, 60_000);
});

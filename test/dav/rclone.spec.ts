import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startTestServer, TestServer } from '../support/server';
import { call, registerUser } from '../support/http';

const run = promisify(execFile);

/**
 * rclone (Debian package, installed by scripts/test) copies a tree up to /homes/<login> and back
 * down through WebDAV, with its remote configured on the fly from the environment and the user's
 * WebDAV password; the tree seen through REST and on disk matches what was sent.
 */
const LOGIN = 'rcloneuser';
const DAV_PASSWORD = 'rclone dav:pass/+é"#'; // a WebDAV password with the characters clients trip on

let t: TestServer;
let token: string;
let work: string;
let env: NodeJS.ProcessEnv;

const api = (method: string, p: string, opts: Parameters<typeof call>[3] = {}) => call(t.api, method, p, { token, ...opts });
const lookup = (rel: string) => api('GET', '/resource/lookup', { query: { path: `/user/${LOGIN}/Home/${rel}` } });
const onDisk = (rel = '') => path.join(t.dataDir, 'homes', LOGIN, ...rel.split('/').filter(Boolean));

async function rclone(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('rclone', [...args, '--retries', '1', '--low-level-retries', '1'], { env, timeout: 60_000, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`rclone ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/** Every file and directory under `root`, relative, `/`-separated, directories ending in `/`. */
function walk(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(`${child}/`, ...walk(root, child));
    else out.push(child);
  }
  return out.sort();
}

/** The same listing through REST, from a folder id. */
async function restWalk(folderId: string, rel = ''): Promise<string[]> {
  const folders = await api('GET', '/folder', { query: { parentType: 'folder', parentId: folderId, limit: 0 } });
  const items = await api('GET', '/item', { query: { folderId, limit: 0 } });
  expect(folders.status).toBe(200);
  expect(items.status).toBe(200);
  const out: string[] = items.body.map((i: any) => (rel ? `${rel}/${i.name}` : i.name));
  for (const f of folders.body) {
    const child = rel ? `${rel}/${f.name}` : f.name;
    out.push(`${child}/`, ...(await restWalk(f._id, child)));
  }
  return out.sort();
}

/**
 * The local tree: nested folders, spaces, non-ASCII names, characters that must be escaped in URLs,
 * an empty file and folder, a 5 MiB file.
 */
const TREE: Record<string, Buffer | null> = {
  'readme.txt': Buffer.from('top level\n'),
  'empty.txt': Buffer.alloc(0),
  'empty folder': null,
  'sub dir/file with spaces.txt': Buffer.from('spaces in both names\n'),
  'sub dir/ünïcødé – ファイル.txt': Buffer.from('non-ASCII name, UTF-8 content: ✓ ß 名前\n', 'utf8'),
  'sub dir/nested/deeper/big.bin': randomBytes(5 * 1024 * 1024 + 123),
  'sub dir/nested/small.json': Buffer.from('{"a": 1}\n'),
  'Ærø data/notes (v2) & more.md': Buffer.from('# notes\n'),
  'Ærø data/keep/one.txt': Buffer.from('one\n'),
  'Ærø data/keep/two.txt': Buffer.from('two\n'),
  "odd/#hash 100% ;semi=eq,+plus@at'q[1].txt": Buffer.from('reserved URL characters in the name\n'),
};
const FILES = Object.keys(TREE).filter((k) => TREE[k] !== null);

beforeAll(async () => {
  t = await startTestServer({ LOG_LEVEL: 'error' });
  token = (await registerUser(t.api, LOGIN, 'rclone-account-1')).token;
  expect((await api('PUT', '/homedirpass/set', { form: { password: DAV_PASSWORD } })).status).toBe(200);
  work = mkdtempSync(path.join(tmpdir(), 'strata-rclone-'));
  writeFileSync(path.join(work, 'rclone.conf'), ''); // no user config is read or written
  const { stdout: obscured } = await run('rclone', ['obscure', DAV_PASSWORD]);
  env = {
    ...process.env,
    RCLONE_CONFIG: path.join(work, 'rclone.conf'),
    RCLONE_CONFIG_STRATA_TYPE: 'webdav',
    RCLONE_CONFIG_STRATA_URL: `${t.url}/homes/${LOGIN}`,
    RCLONE_CONFIG_STRATA_VENDOR: 'other',
    RCLONE_CONFIG_STRATA_USER: LOGIN,
    RCLONE_CONFIG_STRATA_PASS: obscured.trim(),
  };
  const src = path.join(work, 'src');
  for (const [rel, content] of Object.entries(TREE)) {
    const p = path.join(src, ...rel.split('/'));
    if (content === null) mkdirSync(p, { recursive: true });
    else {
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, content);
    }
  }
}, 60_000);

afterAll(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
  await t?.close();
});

describe('rclone against /homes/<login>', () => {
  let upload: any;

  it('copies a tree up, and the tree matches through REST and on disk', async () => {
    await rclone('copy', path.join(work, 'src'), 'strata:upload', '--create-empty-src-dirs');
    upload = (await lookup('upload')).body;
    expect(upload).toMatchObject({ _modelType: 'folder', name: 'upload' });
    // exactly the local tree: nothing missing, no leftovers (temp or partial files)
    expect(await restWalk(upload._id)).toEqual(walk(path.join(work, 'src')));
    expect(walk(onDisk('upload'))).toEqual(walk(path.join(work, 'src')));
    for (const rel of FILES) {
      const bytes = TREE[rel]!;
      const res = await lookup(`upload/${rel}`);
      expect({ rel, status: res.status }).toEqual({ rel, status: 200 });
      expect(res.body).toMatchObject({ _modelType: 'item', name: path.posix.basename(rel), size: bytes.length });
      const files = await api('GET', `/item/${res.body._id}/files`);
      expect(files.body.map((f: any) => [f.name, f.size])).toEqual([[path.posix.basename(rel), bytes.length]]);
      expect(statSync(onDisk(`upload/${rel}`)).size).toBe(bytes.length);
    }
    for (const dir of ['empty folder', 'sub dir', 'sub dir/nested', 'sub dir/nested/deeper', 'Ærø data', 'Ærø data/keep']) {
      expect((await lookup(`upload/${dir}`)).body).toMatchObject({ _modelType: 'folder', name: path.posix.basename(dir) });
    }
    // sizes add up: a folder counts its direct items (as Girder), the user the whole home
    const sizeOf = (rels: string[]) => rels.reduce((n, rel) => n + TREE[rel]!.length, 0);
    expect((await api('GET', `/folder/${upload._id}`)).body.size).toBe(sizeOf(['readme.txt', 'empty.txt']));
    expect((await lookup('upload/sub dir/nested/deeper')).body.size).toBe(sizeOf(['sub dir/nested/deeper/big.bin']));
    expect((await api('GET', '/user/me')).body.size).toBe(sizeOf(FILES));
    // the big file's bytes are right through REST
    const big = (await lookup('upload/sub dir/nested/deeper/big.bin')).body;
    const download = await fetch(`${t.api}/item/${big._id}/download`, { headers: { 'Girder-Token': token } });
    expect(Buffer.from(await download.arrayBuffer()).equals(TREE['sub dir/nested/deeper/big.bin']!)).toBe(true);
    expect(readFileSync(onDisk('upload/sub dir/ünïcødé – ファイル.txt')).equals(TREE['sub dir/ünïcødé – ファイル.txt']!)).toBe(true);
  }, 60_000);

  it('lists the same names back', async () => {
    const listed = (await rclone('lsf', '-R', 'strata:upload')).split('\n').filter(Boolean).sort();
    expect(listed).toEqual(walk(path.join(work, 'src')));
  });

  it('copies the tree back down byte for byte', async () => {
    const down = path.join(work, 'down');
    await rclone('copy', 'strata:upload', down, '--create-empty-src-dirs');
    expect(walk(down)).toEqual(walk(path.join(work, 'src')));
    for (const rel of FILES) {
      const got = readFileSync(path.join(down, ...rel.split('/')));
      expect({ rel, same: got.equals(TREE[rel]!) }).toEqual({ rel, same: true });
    }
    // a second copy finds nothing to transfer
    const again = await run('rclone', ['copy', path.join(work, 'src'), 'strata:upload', '--create-empty-src-dirs', '-v'], { env, timeout: 60_000 });
    expect(again.stderr).not.toMatch(/Copied/);
  }, 60_000);

  it('deletes the files of a folder, then purges a folder tree', async () => {
    const one = (await lookup('upload/Ærø data/keep/one.txt')).body;
    await rclone('delete', 'strata:upload/Ærø data/keep');
    expect((await lookup('upload/Ærø data/keep/one.txt')).status).toBe(404);
    expect((await api('GET', `/item/${one._id}`)).status).toBe(404);
    expect(await restWalk((await lookup('upload/Ærø data')).body._id)).toEqual(['keep/', 'notes (v2) & more.md']);
    expect(readdirSync(onDisk('upload/Ærø data/keep'))).toEqual([]);

    const big = (await lookup('upload/sub dir/nested/deeper/big.bin')).body;
    const nested = (await lookup('upload/sub dir/nested')).body;
    await rclone('purge', 'strata:upload/sub dir');
    expect((await lookup('upload/sub dir')).status).toBe(404);
    expect((await api('GET', `/item/${big._id}`)).status).toBe(404);
    expect((await api('GET', `/folder/${nested._id}`)).status).toBe(404);
    expect(existsSync(onDisk('upload/sub dir'))).toBe(false);
    // what is left: the local tree without `sub dir` and the files of `Ærø data/keep`
    const left = walk(path.join(work, 'src')).filter((p) => !p.startsWith('sub dir/') && !/^Ærø data\/keep\/./.test(p));
    expect(left).toContain('Ærø data/keep/');
    expect(await restWalk(upload._id)).toEqual(left);
    expect(walk(onDisk('upload'))).toEqual(left);
    expect((await api('GET', '/user/me')).body.size).toBe(left.reduce((n, rel) => n + (TREE[rel]?.length ?? 0), 0));
  }, 60_000);
});

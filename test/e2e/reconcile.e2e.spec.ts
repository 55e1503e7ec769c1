import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startServer } from '../../src/server';
import { MAIN } from '../support/process';
import { startTestServer, TestServer } from '../support/server';
import { call, registerUser } from '../support/http';

const run = promisify(execFile);

let t: TestServer;
let sam: { user: any; token: string };
const disk = (...parts: string[]) => path.join(t.dataDir, 'homes', 'samuel', ...parts);
const lookup = (api: string, p: string) => call(api, 'GET', '/resource/lookup', { token: sam.token, query: { path: `/user/samuel/Home/${p}` } });

beforeAll(async () => {
  t = await startTestServer();
  sam = await registerUser(t.api, 'samuel', 'samuel-account-1');
});
afterAll(() => t.close());

it('makes the tree match changes made directly on disk, on request', async () => {
  const home = (await lookup(t.api, '')).body;
  const folder = (await call(t.api, 'POST', '/folder', { token: sam.token, query: { parentId: home._id, name: 'kept' } })).body;
  await call(t.api, 'POST', '/file', { token: sam.token, query: { parentType: 'folder', parentId: folder._id, name: 'grows.txt', size: 1 }, body: 'a' });
  await call(t.api, 'POST', '/file', { token: sam.token, query: { parentType: 'folder', parentId: folder._id, name: 'vanishes.txt', size: 1 }, body: 'b' });
  mkdirSync(disk('made', 'on', 'disk'), { recursive: true });
  writeFileSync(disk('made', 'on', 'disk', 'new.txt'), 'brand new');
  writeFileSync(disk('kept', 'grows.txt'), 'much longer now');
  rmSync(disk('kept', 'vanishes.txt'));

  const other = await registerUser(t.api, 'notsam', 'notsam-account-1');
  expect((await call(t.api, 'POST', '/homedirs/reconcile', { token: other.token, query: { login: 'samuel' } })).status).toBe(403);
  const res = await call(t.api, 'POST', '/homedirs/reconcile', { token: sam.token });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ roots: 1, foldersAdded: 3, itemsAdded: 1, sizesFixed: 1, removed: 1 });
  expect((await lookup(t.api, 'made/on/disk/new.txt')).body.size).toBe(9);
  expect((await lookup(t.api, 'kept/grows.txt')).body.size).toBe(15);
  expect((await lookup(t.api, 'kept/vanishes.txt')).status).toBe(404);
  expect((await call(t.api, 'GET', `/folder/${folder._id}`, { token: sam.token })).body.size).toBe(15);
  const item = (await lookup(t.api, 'made/on/disk/new.txt')).body;
  expect((await call(t.api, 'GET', `/item/${item._id}/download`, { token: sam.token })).text).toBe('brand new');
  // a second run finds nothing to do
  expect((await call(t.api, 'POST', '/homedirs/reconcile', { token: sam.token })).body).toMatchObject({ foldersAdded: 0, itemsAdded: 0, sizesFixed: 0, removed: 0 });
});

it('reconciles at start-up and from the CLI', async () => {
  writeFileSync(disk('while-stopped.txt'), 'written while the server was down');
  await t.server.close();
  const again = await startServer(t.server.config);
  try {
    expect((await lookup(`${again.url}/api/v1`, 'while-stopped.txt')).body.size).toBe(33);
    writeFileSync(disk('for-the-cli.txt'), 'cli');
    const { stdout } = await run(process.execPath, [MAIN.replace('main.js', 'cli.js'), 'reconcile', '--login', 'samuel'], {
      env: { ...process.env, MONGO_URI: process.env.TEST_MONGO_URI!, MONGO_DB: again.databaseName, DATA_DIR: t.dataDir, LOG_LEVEL: 'warn' },
    });
    expect(JSON.parse(stdout)).toMatchObject({ roots: 1 });
    expect((await lookup(`${again.url}/api/v1`, 'for-the-cli.txt')).body.size).toBe(3);
  } finally {
    t.server = again; // afterAll stops it
  }
});

import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { createClient, WebDAVClient } from 'webdav';
import { ADMIN_PASSWORD, startTestServer, TestServer } from '../support/server';
import { call, login, registerUser } from '../support/http';

/** REST changes inside a home show on disk and through WebDAV when the response is sent. */
let t: TestServer;
let token: string;
let home: any;
let dav: WebDAVClient;

const disk = (...parts: string[]) => path.join(t.dataDir, 'homes', 'rita', ...parts);
const api = (method: string, p: string, opts: Parameters<typeof call>[3] = {}) => call(t.api, method, p, { token, ...opts });

async function upload(parentId: string, name: string, content: string, parentType = 'folder') {
  const res = await api('POST', '/file', { query: { parentType, parentId, name, size: Buffer.byteLength(content) }, body: content });
  expect(res.status).toBe(200);
  return res.body;
}

async function expectOnDisk(rel: string, content: string) {
  expect(readFileSync(disk(...rel.split('/')), 'utf8')).toBe(content);
  expect(await dav.getFileContents(`/${rel}`, { format: 'text' })).toBe(content);
}

beforeAll(async () => {
  t = await startTestServer();
  token = (await registerUser(t.api, 'rita', 'rita-account-1')).token;
  home = (await api('GET', '/resource/lookup', { query: { path: '/user/rita/Home' } })).body;
  dav = createClient(`${t.url}/homes/rita`, { username: 'rita', password: `token:${token}` });
});
afterAll(() => t.close());

it('has a home directory from the moment the user exists', () => {
  expect(home).toMatchObject({ _modelType: 'folder', name: 'Home', public: false });
  expect(existsSync(disk())).toBe(true);
});

it('creates folders, uploads (one request and chunked) and replaces contents on disk', async () => {
  const f = (await api('POST', '/folder', { query: { parentId: home._id, name: 'data' } })).body;
  expect(existsSync(disk('data'))).toBe(true);
  expect(await dav.exists('/data')).toBe(true);

  const small = await upload(f._id, 'small.txt', 'small file');
  await expectOnDisk('data/small.txt', 'small file');
  expect((await api('GET', `/file/${small._id}/download`)).text).toBe('small file');

  const content = 'x'.repeat(100_000);
  const started = await api('POST', '/file', { query: { parentType: 'folder', parentId: f._id, name: 'chunked.bin', size: content.length } });
  await api('POST', '/file/chunk', { query: { uploadId: started.body._id, offset: 0 }, body: content.slice(0, 40_000) });
  const done = await api('POST', '/file/chunk', { query: { uploadId: started.body._id, offset: 40_000 }, body: content.slice(40_000) });
  expect(done.body).toMatchObject({ _modelType: 'file', size: content.length });
  await expectOnDisk('data/chunked.bin', content);

  const again = await upload(f._id, 'small.txt', 'a second one');
  expect((await api('GET', `/item/${again.itemId}`)).body.name).toBe('small.txt (1)');
  await expectOnDisk('data/small.txt (1)', 'a second one');
  await expectOnDisk('data/small.txt', 'small file');

  const replaced = await api('PUT', `/file/${small._id}/contents`, { query: { size: 7 }, body: 'changed' });
  expect(replaced.body.size).toBe(7);
  await expectOnDisk('data/small.txt', 'changed');
  expect((await api('GET', `/folder/${f._id}`)).body.size).toBe(7 + content.length + 12);
  // a second file in an item of a mapped folder is refused: the item is one file on disk
  expect((await api('POST', '/file', { query: { parentType: 'item', parentId: small.itemId, name: 'extra', size: 1 }, body: 'e' })).status).toBe(409);
});

it('renames and moves items and folders on disk', async () => {
  const a = (await api('POST', '/folder', { query: { parentId: home._id, name: 'a' } })).body;
  const b = (await api('POST', '/folder', { query: { parentId: home._id, name: 'b' } })).body;
  const file = await upload(a._id, 'doc.txt', 'document');
  await api('PUT', `/item/${file.itemId}`, { query: { name: 'renamed.txt' } });
  expect(existsSync(disk('a', 'doc.txt'))).toBe(false);
  await expectOnDisk('a/renamed.txt', 'document');
  await api('PUT', `/item/${file.itemId}`, { query: { folderId: b._id, name: 'moved.txt' } });
  await expectOnDisk('b/moved.txt', 'document');
  expect((await api('GET', `/file/${file._id}/download`)).text).toBe('document');
  await api('PUT', `/folder/${b._id}`, { query: { name: 'b2', parentType: 'folder', parentId: a._id } });
  await expectOnDisk('a/b2/moved.txt', 'document');
  expect(existsSync(disk('b'))).toBe(false);
  expect((await api('GET', `/file/${file._id}/download`)).text).toBe('document');
});

it('copies into, inside and out of a home', async () => {
  const admin = await login(t.api, 'admin', ADMIN_PASSWORD);
  const c = (await call(t.api, 'POST', '/collection', { token: admin, query: { name: 'shared', public: true } })).body;
  const cf = (await call(t.api, 'POST', '/folder', { token: admin, query: { parentType: 'collection', parentId: c._id, name: 'f', public: true } })).body;
  const outside = (await call(t.api, 'POST', '/file', { token: admin, query: { parentType: 'folder', parentId: cf._id, name: 'outside.txt', size: 7 }, body: 'outside' })).body;
  const copies = (await api('POST', '/folder', { query: { parentId: home._id, name: 'copies' } })).body;
  const imported = await api('POST', `/item/${outside.itemId}/copy`, { query: { folderId: copies._id } });
  expect(imported.status).toBe(200);
  await expectOnDisk('copies/outside.txt', 'outside');
  const again = await api('POST', `/item/${imported.body._id}/copy`, { query: { folderId: copies._id } });
  expect(again.body.name).toBe('outside.txt (1)');
  await expectOnDisk('copies/outside.txt (1)', 'outside');
  // a copy out of the home has bytes of its own: changing the home's file leaves it alone
  const mine = (await call(t.api, 'POST', '/folder', { token, query: { parentType: 'user', parentId: (await api('GET', '/user/me')).body._id, name: 'Elsewhere' } })).body;
  const exported = await api('POST', `/item/${imported.body._id}/copy`, { query: { folderId: mine._id } });
  expect(exported.status).toBe(200);
  const [exportedFile] = (await api('GET', `/item/${exported.body._id}/files`)).body;
  await dav.putFileContents('/copies/outside.txt', 'changed in the home');
  expect((await api('GET', `/file/${exportedFile._id}/download`)).text).toBe('outside');
  expect(existsSync(disk('Elsewhere'))).toBe(false);
});

it('moves items and folder trees out of a home and back in, bytes and all', async () => {
  const me = (await api('GET', '/user/me')).body;
  const away = (await api('POST', '/folder', { query: { parentType: 'user', parentId: me._id, name: 'Away' } })).body;
  const tree = (await api('POST', '/folder', { query: { parentId: home._id, name: 'tree' } })).body;
  const sub = (await api('POST', '/folder', { query: { parentId: tree._id, name: 'sub' } })).body;
  const top = await upload(tree._id, 'top.txt', 'top file');
  const deep = await upload(sub._id, 'deep.txt', 'deep file');
  const single = await upload(home._id, 'single.txt', 'single file');

  // an item out, then back in
  expect((await api('PUT', `/item/${single.itemId}`, { query: { folderId: away._id } })).status).toBe(200);
  expect(existsSync(disk('single.txt'))).toBe(false);
  expect((await api('GET', `/file/${single._id}/download`)).text).toBe('single file');
  expect(await dav.exists('/single.txt')).toBe(false);
  expect((await api('PUT', `/item/${single.itemId}`, { query: { folderId: home._id, name: 'back.txt' } })).status).toBe(200);
  await expectOnDisk('back.txt', 'single file');
  expect((await api('GET', `/file/${single._id}/download`)).text).toBe('single file');

  // a folder tree out: gone from disk, every byte still downloadable
  expect((await api('PUT', `/folder/${tree._id}`, { query: { parentType: 'folder', parentId: away._id } })).status).toBe(200);
  expect(existsSync(disk('tree'))).toBe(false);
  expect((await api('GET', `/file/${top._id}/download`)).text).toBe('top file');
  expect((await api('GET', `/file/${deep._id}/download`)).text).toBe('deep file');
  // and back in under another name
  expect((await api('PUT', `/folder/${tree._id}`, { query: { parentType: 'folder', parentId: home._id, name: 'tree2' } })).status).toBe(200);
  await expectOnDisk('tree2/top.txt', 'top file');
  await expectOnDisk('tree2/sub/deep.txt', 'deep file');
  // now the disk holds the bytes: a WebDAV change shows through REST
  await dav.putFileContents('/tree2/sub/deep.txt', 'deep, changed');
  expect((await api('GET', `/file/${deep._id}/download`)).text).toBe('deep, changed');
  expect((await api('GET', `/folder/${home._id}`)).body.sizeRecursive).toBeGreaterThan(0);

  // an item of several files cannot become one file on disk: refused, nothing changes
  const multi = (await api('POST', '/item', { query: { folderId: away._id, name: 'multi' } })).body;
  await upload(multi._id, 'a', 'a', 'item');
  await upload(multi._id, 'b', 'b', 'item');
  expect((await api('PUT', `/item/${multi._id}`, { query: { folderId: home._id } })).status).toBe(409);
  expect(existsSync(disk('multi'))).toBe(false);
  expect((await api('GET', `/item/${multi._id}`)).body.folderId).toBe(away._id);
});

it('deletes files, items and folders on disk', async () => {
  const d = (await api('POST', '/folder', { query: { parentId: home._id, name: 'gone' } })).body;
  const f1 = await upload(d._id, 'one.txt', '1');
  const f2 = await upload(d._id, 'two.txt', '2');
  await api('DELETE', `/file/${f1._id}`);
  expect(existsSync(disk('gone', 'one.txt'))).toBe(false);
  expect((await api('GET', `/item/${f1.itemId}`)).status).toBe(404);
  await api('DELETE', `/item/${f2.itemId}`);
  expect(existsSync(disk('gone', 'two.txt'))).toBe(false);
  await upload(d._id, 'three.txt', '3');
  await api('DELETE', `/folder/${d._id}`);
  expect(existsSync(disk('gone'))).toBe(false);
  expect(await dav.exists('/gone')).toBe(false);
});

it('moves the home when the login changes', async () => {
  const u = await registerUser(t.api, 'oldname', 'oldname-account-1');
  const f = (await call(t.api, 'GET', '/resource/lookup', { token: u.token, query: { path: '/user/oldname/Home' } })).body;
  await call(t.api, 'POST', '/file', { token: u.token, query: { parentType: 'folder', parentId: f._id, name: 'keep.txt', size: 4 }, body: 'keep' });
  expect((await call(t.api, 'PUT', `/user/${u.user._id}`, { token: u.token, query: { login: 'newname' } })).status).toBe(200);
  expect(existsSync(path.join(t.dataDir, 'homes', 'oldname'))).toBe(false);
  expect(readFileSync(path.join(t.dataDir, 'homes', 'newname', 'keep.txt'), 'utf8')).toBe('keep');
  const moved = createClient(`${t.url}/homes/newname`, { username: 'newname', password: `token:${u.token}` });
  expect(await moved.getFileContents('/keep.txt', { format: 'text' })).toBe('keep');
  expect((await call(t.url, 'PROPFIND', '/homes/oldname/', { basic: ['newname', `token:${u.token}`], headers: { Depth: '0' } })).status).toBe(403);
});

it('removes the home with its user', async () => {
  const u = await registerUser(t.api, 'leaver', 'leaver-account-1');
  const dir = path.join(t.dataDir, 'homes', 'leaver');
  expect(existsSync(dir)).toBe(true);
  expect((await call(t.api, 'DELETE', `/user/${u.user._id}`, { token: u.token })).status).toBe(200);
  expect(existsSync(dir)).toBe(false);
});

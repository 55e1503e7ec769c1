import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ObjectId } from 'mongodb';
import { EventBus } from '../../src/modules/events/event-bus';
import { ADMIN_PASSWORD, startTestServer, TestServer } from '../support/server';
import { call, login } from '../support/http';

let t: TestServer;
let admin: string;
let root: any;
let coll: any;

beforeAll(async () => {
  t = await startTestServer();
  admin = await login(t.api, 'admin', ADMIN_PASSWORD);
  coll = (await call(t.api, 'POST', '/collection', { token: admin, query: { name: 'Files' } })).body;
  root = (await call(t.api, 'POST', '/folder', { token: admin, query: { parentType: 'collection', parentId: coll._id, name: 'root' } })).body;
});
afterAll(() => t.close());

const get = async (p: string) => (await call(t.api, 'GET', p, { token: admin })).body;

async function mkdir(parentId: string, name: string, parentType = 'folder') {
  return (await call(t.api, 'POST', '/folder', { token: admin, query: { parentType, parentId, name } })).body;
}

async function put(parentId: string, name: string, content: Buffer | string) {
  const body = Buffer.from(content);
  const res = await call(t.api, 'POST', '/file', { token: admin, query: { parentType: 'folder', parentId, name, size: body.length }, body });
  expect(res.status).toBe(200);
  return res.body;
}

function blobs(): string[] {
  const dir = path.join(t.dataDir, 'assetstore');
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (e.name !== 'temp') walk(path.join(d, e.name));
      } else out.push(e.name);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

describe('uploads', () => {
  it('uploads a small file in one request, creating the item', async () => {
    const file = await put(root._id, 'hello.txt', 'hello world');
    expect(file).toMatchObject({ _modelType: 'file', name: 'hello.txt', size: 11, mimeType: 'application/octet-stream', exts: ['txt'] });
    expect(file.sha512).toBeUndefined();
    expect(file.path).toBeUndefined();
    const item = await get(`/item/${file.itemId}`);
    expect(item).toMatchObject({ name: 'hello.txt', size: 11, folderId: root._id });
    const res = await call(t.api, 'GET', `/file/${file._id}/download`, { token: admin });
    expect(res.text).toBe('hello world');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="hello.txt"; filename*=UTF-8''hello.txt`);
  });

  it('uploads in chunks at exact offsets, refuses a wrong offset, resumes, and finishes on the last chunk', async () => {
    const data = Buffer.from(Buffer.alloc(3 * 1024 * 1024 + 17, 7).map((_, i) => i % 251));
    const start = await call(t.api, 'POST', '/file', { token: admin, query: { parentType: 'folder', parentId: root._id, name: 'big.bin', size: data.length, mimeType: 'application/x-test' } });
    expect(start.body).toMatchObject({ _modelType: 'upload', received: 0, size: data.length });
    expect(JSON.stringify(start.body)).not.toMatch(/temp/);
    const id = start.body._id;
    const first = await call(t.api, 'POST', '/file/chunk', { token: admin, query: { uploadId: id, offset: 0 }, body: data.subarray(0, 1024 * 1024) });
    expect(first.body.received).toBe(1024 * 1024);
    const wrong = await call(t.api, 'POST', '/file/chunk', { token: admin, query: { uploadId: id, offset: 5 }, body: data.subarray(5, 10) });
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toBe(`Server has received ${1024 * 1024} bytes, but client sent offset 5.`);
    expect((await call(t.api, 'GET', '/file/offset', { token: admin, query: { uploadId: id } })).body).toEqual({ offset: 1024 * 1024 });
    // too many bytes are refused and change nothing
    const tooMany = await call(t.api, 'POST', '/file/chunk', { token: admin, query: { uploadId: id, offset: 1024 * 1024 }, body: Buffer.concat([data.subarray(1024 * 1024), Buffer.from('xx')]) });
    expect(tooMany.status).toBe(400);
    expect((await call(t.api, 'GET', '/file/offset', { token: admin, query: { uploadId: id } })).body).toEqual({ offset: 1024 * 1024 });
    // another user may not continue it
    const other = (await call(t.api, 'POST', '/user', { query: { login: 'chunk.other', email: 'co@example.org', firstName: 'C', lastName: 'O', password: 'password-1' } })).body.authToken.token;
    expect((await call(t.api, 'POST', '/file/chunk', { token: other, query: { uploadId: id, offset: 1024 * 1024 }, body: 'x' })).status).toBe(403);
    const last = await call(t.api, 'POST', '/file/chunk', { token: admin, query: { uploadId: id, offset: 1024 * 1024 }, body: data.subarray(1024 * 1024) });
    expect(last.body).toMatchObject({ _modelType: 'file', size: data.length, mimeType: 'application/x-test' });
    // a retried last chunk gets the same file back
    const retried = await call(t.api, 'POST', '/file/chunk', { token: admin, query: { uploadId: id, offset: data.length }, body: '' });
    expect(retried.body._id).toBe(last.body._id);
    const down = await fetch(`${t.api}/file/${last.body._id}/download`, { headers: { 'Girder-Token': admin } });
    expect(Buffer.from(await down.arrayBuffer()).equals(data)).toBe(true);
  });

  it('names each blob by the SHA-512 of its bytes, hashed as chunks arrive or read back after a failed chunk', async () => {
    const sha512 = (b: Buffer | string) => createHash('sha512').update(b).digest('hex');
    // one request, and chunks in order: hashed on the way in
    const small = `hashed on arrival ${Date.now()}`;
    await put(root._id, 'arrival.txt', small);
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));
    const upload = async (name: string, send: (id: string) => Promise<void>) => {
      const start = await call(t.api, 'POST', '/file', { token: admin, query: { parentType: 'folder', parentId: root._id, name, size: data.length } });
      await send(start.body._id);
    };
    const chunk = (id: string, offset: number, body: Buffer) => call(t.api, 'POST', '/file/chunk', { token: admin, query: { uploadId: id, offset }, body });
    await upload('in-order.bin', async (id) => {
      for (const at of [0, 100_000, 200_000]) expect((await chunk(id, at, data.subarray(at, at + 100_000))).status).toBe(200);
    });
    expect(blobs()).toEqual(expect.arrayContaining([sha512(small), sha512(data)]));
    // a chunk refused half-way leaves no running hash: finalize reads the file back
    const other = Buffer.from(data.map((b) => b ^ 0xff));
    await upload('after-failure.bin', async (id) => {
      expect((await chunk(id, 0, other.subarray(0, 150_000))).status).toBe(200);
      expect((await chunk(id, 150_000, Buffer.concat([other.subarray(150_000), Buffer.from('extra')]))).status).toBe(400);
      expect((await chunk(id, 150_000, other.subarray(150_000))).body).toMatchObject({ _modelType: 'file', size: other.length });
    });
    expect(blobs()).toContain(sha512(other));
  });

  it('finishes an empty file at once, and cancels an upload', async () => {
    const empty = await call(t.api, 'POST', '/file', { token: admin, query: { parentType: 'folder', parentId: root._id, name: 'empty', size: 0 } });
    expect(empty.body).toMatchObject({ _modelType: 'file', size: 0 });
    expect((await call(t.api, 'GET', `/file/${empty.body._id}/download`, { token: admin })).text).toBe('');
    const started = await call(t.api, 'POST', '/file', { token: admin, query: { parentType: 'folder', parentId: root._id, name: 'cancel.me', size: 10 } });
    expect((await call(t.api, 'DELETE', `/file/upload/${started.body._id}`, { token: admin })).status).toBe(200);
    expect((await call(t.api, 'GET', '/file/offset', { token: admin, query: { uploadId: started.body._id } })).status).toBe(404);
    expect(readdirSync(path.join(t.dataDir, 'assetstore', 'temp'))).not.toContain(started.body._id);
    expect((await call(t.api, 'POST', '/file', { token: admin, query: { parentType: 'folder', parentId: root._id, name: 'neg', size: -1 } })).status).toBe(400);
  });

  it('replaces a file’s contents and releases the old bytes', async () => {
    const folder = await mkdir(root._id, 'replace');
    const file = await put(folder._id, 'doc.txt', 'version one');
    const res = await call(t.api, 'PUT', `/file/${file._id}/contents`, { token: admin, query: { size: 3 }, body: 'two' });
    expect(res.body).toMatchObject({ _id: file._id, size: 3 });
    expect((await call(t.api, 'GET', `/file/${file._id}/download`, { token: admin })).text).toBe('two');
    expect((await get(`/item/${file.itemId}`)).size).toBe(3);
    expect((await get(`/folder/${folder._id}`)).size).toBe(3);
    const oldHash = createHash('sha512').update('version one').digest('hex');
    expect(blobs()).not.toContain(oldHash);
  });

  it('replaces a file with identical bytes (a re-entrant blob lock), and refuses a bad name before any byte', async () => {
    const folder = await mkdir(root._id, 'same');
    const file = await put(folder._id, 'same.txt', 'identical');
    const res = await call(t.api, 'PUT', `/file/${file._id}/contents`, { token: admin, query: { size: 9 }, body: 'identical' });
    expect(res.status).toBe(200);
    expect((await call(t.api, 'GET', `/file/${file._id}/download`, { token: admin })).text).toBe('identical');
    const bad = await call(t.api, 'POST', '/file', { token: admin, query: { parentType: 'folder', parentId: folder._id, name: 'a/b', size: 3 } });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('name');
  });

  it('resumes an upload after a server restart', async () => {
    const other = await startTestServer();
    try {
      const token = await login(other.api, 'admin', ADMIN_PASSWORD);
      const c = (await call(other.api, 'POST', '/collection', { token, query: { name: 'R' } })).body;
      const f = (await call(other.api, 'POST', '/folder', { token, query: { parentType: 'collection', parentId: c._id, name: 'f' } })).body;
      const start = await call(other.api, 'POST', '/file', { token, query: { parentType: 'folder', parentId: f._id, name: 'r.bin', size: 8 }, body: 'abcd' });
      expect(start.body.received).toBe(4);
      // restart on the same database and data directory
      await other.server.close();
      const { startServer } = await import('../../src/server');
      other.server = await startServer(other.server.config); // closed with the test server
      const api = `${other.server.url}/api/v1`;
      expect((await call(api, 'GET', '/file/offset', { token, query: { uploadId: start.body._id } })).body).toEqual({ offset: 4 });
      const done = await call(api, 'POST', '/file/chunk', { token, query: { uploadId: start.body._id, offset: 4 }, body: 'efgh' });
      expect(done.body).toMatchObject({ _modelType: 'file', size: 8 });
      expect((await call(api, 'GET', `/file/${done.body._id}/download`, { token })).text).toBe('abcdefgh');
    } finally {
      await other.close(); // the server, its database and the test's own client, which kept jest from exiting
    }
  });
});

describe('downloads', () => {
  let file: any;
  beforeAll(async () => {
    file = await put(root._id, 'range.txt', '0123456789');
  });

  it.each([
    ['bytes=2-5', 206, '2345', 'bytes 2-5/10'],
    ['bytes=7-', 206, '789', 'bytes 7-9/10'],
    ['bytes=-3', 206, '789', 'bytes 7-9/10'],
    ['bytes=5-100', 206, '56789', 'bytes 5-9/10'],
    ['bytes=0-1,4-5', 200, '0123456789', null],
    ['items=1-2', 200, '0123456789', null],
    ['bytes=x-y', 200, '0123456789', null],
  ])('Range %s → %i', async (range, status, body, contentRange) => {
    const res = await call(t.api, 'GET', `/file/${file._id}/download`, { token: admin, headers: { Range: range } });
    expect(res.status).toBe(status);
    expect(res.text).toBe(body);
    expect(res.headers.get('content-range')).toBe(contentRange);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
  });

  it('answers 416 with the size for a range past the end, and honours offset/endByte and HEAD', async () => {
    const res = await call(t.api, 'GET', `/file/${file._id}/download`, { token: admin, headers: { Range: 'bytes=10-' } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe('bytes */10');
    expect((await call(t.api, 'GET', `/file/${file._id}/download`, { token: admin, query: { offset: 3, endByte: 6 } })).text).toBe('345');
    const head = await call(t.api, 'HEAD', `/file/${file._id}/download`, { token: admin });
    expect(head.headers.get('content-length')).toBe('10');
    expect(head.text).toBe('');
    const inline = await call(t.api, 'GET', `/file/${file._id}/download/range.txt`, { token: admin, query: { contentDisposition: 'inline' } });
    expect(inline.headers.get('content-disposition')).toMatch(/^inline;/);
    expect((await call(t.api, 'GET', `/item/${file.itemId}/download`, { token: admin, headers: { Range: 'bytes=1-2' } })).text).toBe('12');
  });

  it('streams a folder as a zip with Girder’s layout', async () => {
    const z = await mkdir(root._id, 'zipme');
    await put(z._id, 'a.txt', 'A');
    const sub = await mkdir(z._id, 'sub');
    await put(sub._id, 'b.txt', 'BB');
    const item = (await call(t.api, 'POST', '/item', { token: admin, query: { folderId: sub._id, name: 'multi' } })).body;
    for (const n of ['x', 'y']) await call(t.api, 'POST', '/file', { token: admin, query: { parentType: 'item', parentId: item._id, name: n, size: 1 }, body: n });
    const res = await fetch(`${t.api}/folder/${z._id}/download`, { headers: { 'Girder-Token': admin } });
    expect(res.headers.get('content-type')).toBe('application/zip');
    const zipFile = path.join(t.dataDir, 'out.zip');
    writeFileSync(zipFile, Buffer.from(await res.arrayBuffer()));
    const listing = execFileSync('python3', ['-c', 'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); [print(n, z.read(n).decode()) for n in sorted(z.namelist()) if not n.endswith("/")]', zipFile], { encoding: 'utf8' });
    expect(listing.trim().split('\n')).toEqual(['zipme/a.txt A', 'zipme/sub/b.txt BB', 'zipme/sub/multi/x x', 'zipme/sub/multi/y y']);
  });
});

describe('sizes and deduplication', () => {
  it('keeps item, folder (direct and recursive), collection and user sizes through uploads, moves across roots, copies and deletes', async () => {
    const me = await get('/user/me');
    const c = (await call(t.api, 'POST', '/collection', { token: admin, query: { name: 'Sizes' } })).body;
    const top = await mkdir(c._id, 'top', 'collection');
    const mid = await mkdir(top._id, 'mid');
    const f1 = await put(mid._id, 'one', Buffer.alloc(100, 1));
    await put(top._id, 'two', Buffer.alloc(10, 2));
    expect(await get(`/folder/${mid._id}`)).toMatchObject({ size: 100, sizeRecursive: 100 });
    expect(await get(`/folder/${top._id}`)).toMatchObject({ size: 10, sizeRecursive: 110 });
    expect((await get(`/collection/${c._id}`)).size).toBe(110);

    // move mid (100 bytes) into the admin's Private folder: another root
    const privateFolder = (await call(t.api, 'GET', '/folder', { token: admin, query: { parentType: 'user', parentId: me._id, name: 'Private' } })).body[0];
    const userBefore = (await get(`/user/${me._id}`)).size;
    await call(t.api, 'PUT', `/folder/${mid._id}`, { token: admin, query: { parentType: 'folder', parentId: privateFolder._id } });
    expect(await get(`/folder/${top._id}`)).toMatchObject({ size: 10, sizeRecursive: 10 });
    expect((await get(`/collection/${c._id}`)).size).toBe(10);
    expect((await get(`/user/${me._id}`)).size).toBe(userBefore + 100);
    expect((await get(`/item/${f1.itemId}`)).baseParentType).toBe('user');

    // copy it back: bytes shared, sizes counted again
    const copy = (await call(t.api, 'POST', `/folder/${mid._id}/copy`, { token: admin, query: { parentType: 'folder', parentId: top._id } })).body;
    expect(copy).toMatchObject({ name: 'mid', sizeRecursive: 100, baseParentType: 'collection' });
    expect((await get(`/collection/${c._id}`)).size).toBe(110);

    // delete and check
    await call(t.api, 'DELETE', `/folder/${copy._id}`, { token: admin });
    expect((await get(`/collection/${c._id}`)).size).toBe(10);
    await call(t.api, 'DELETE', `/folder/${mid._id}`, { token: admin });
    expect((await get(`/user/${me._id}`)).size).toBe(userBefore);

    // /system/check repairs what a crash could leave
    await t.db.collection('folder').updateOne({ _id: new ObjectId(top._id) }, { $set: { size: 999, sizeRecursive: 5 } });
    await t.db.collection('collection').updateOne({ _id: new ObjectId(c._id) }, { $set: { size: 1 } });
    const report = await call(t.api, 'PUT', '/system/check', { token: admin });
    expect(report.body.foldersFixed).toBeGreaterThanOrEqual(1);
    expect(await get(`/folder/${top._id}`)).toMatchObject({ size: 10, sizeRecursive: 10 });
    expect((await get(`/collection/${c._id}`)).size).toBe(10);
  });

  it('stores identical bytes once and removes them with their last reference', async () => {
    const d = await mkdir(root._id, 'dedup');
    const content = `same bytes ${Date.now()}`;
    const hash = createHash('sha512').update(content).digest('hex');
    const a = await put(d._id, 'a', content);
    const b = await put(d._id, 'b', content);
    expect(blobs().filter((h) => h === hash)).toHaveLength(1);
    await call(t.api, 'DELETE', `/file/${a._id}`, { token: admin });
    expect(blobs()).toContain(hash);
    expect((await call(t.api, 'GET', `/file/${b._id}/download`, { token: admin })).text).toBe(content);
    await call(t.api, 'DELETE', `/item/${b.itemId}`, { token: admin });
    expect(blobs()).not.toContain(hash);
  });
});

describe('events', () => {
  it('fires model events in order with previous, and a save handler can veto the write', async () => {
    const bus = t.server.app.get(EventBus);
    const seen: string[] = [];
    const names = ['model.folder.save', 'model.folder.save.created', 'model.folder.save.after', 'model.folder.remove', 'model.folder.remove.after'] as const;
    for (const n of names) bus.bind(n, 'test.recorder', (e: any) => void seen.push(`${n}:${e.info.doc?.name ?? e.info.name}:${e.info.previous?.name ?? ''}`));
    try {
      const f = await mkdir(root._id, 'evented');
      await call(t.api, 'PUT', `/folder/${f._id}`, { token: admin, query: { name: 'evented2' } });
      await call(t.api, 'DELETE', `/folder/${f._id}`, { token: admin });
      expect(seen).toEqual([
        'model.folder.save:evented:',
        'model.folder.save.created:evented:',
        'model.folder.save.after:evented:',
        'model.folder.save:evented2:evented',
        'model.folder.save.after:evented2:evented',
        'model.folder.remove:evented2:',
        'model.folder.remove.after:evented2:',
      ]);
      bus.bind('model.folder.save', 'test.veto', (e) => {
        if (e.info.doc.name === 'forbidden') e.preventDefault();
      });
      const refused = await call(t.api, 'POST', '/folder', { token: admin, query: { parentId: root._id, name: 'forbidden' } });
      expect(refused.status).toBe(409);
      expect((await call(t.api, 'GET', '/folder', { token: admin, query: { parentId: root._id, name: 'forbidden' } })).body).toEqual([]);
      // the name was released: once the veto is gone it can be made
      bus.unbind('model.folder.save', 'test.veto');
      expect((await call(t.api, 'POST', '/folder', { token: admin, query: { parentId: root._id, name: 'forbidden' } })).status).toBe(200);
    } finally {
      for (const n of names) bus.unbind(n, 'test.recorder');
    }
  });

  it('hands folder and item save handlers the parent folder the write holds', async () => {
    const bus = t.server.app.get(EventBus);
    const seen: string[] = [];
    const names = ['model.folder.save', 'model.folder.save.after', 'model.item.save', 'model.item.save.after'] as const;
    for (const n of names) bus.bind(n, 'test.parent', (e: any) => void seen.push(`${n}:${e.info.doc.name}:${e.info.parent?.name ?? '-'}`));
    try {
      const outer = await mkdir(root._id, 'parented');
      const other = await mkdir(root._id, 'parented2');
      const item = (await call(t.api, 'POST', '/item', { token: admin, query: { folderId: outer._id, name: 'child' } })).body;
      await call(t.api, 'PUT', `/item/${item._id}`, { token: admin, query: { folderId: other._id } });
      await call(t.api, 'PUT', `/item/${item._id}`, { token: admin, query: { description: 'edited in place' } });
      await mkdir(coll._id, 'top-parented', 'collection');
      expect(seen).toEqual([
        'model.folder.save:parented:root',
        'model.folder.save.after:parented:root',
        'model.folder.save:parented2:root',
        'model.folder.save.after:parented2:root',
        'model.item.save:child:parented',
        'model.item.save.after:child:parented',
        'model.item.save:child:parented2', // a move: the new parent
        'model.item.save.after:child:parented2',
        'model.item.save:child:parented2',
        'model.item.save.after:child:parented2',
        'model.folder.save:top-parented:-', // a collection is no folder
        'model.folder.save.after:top-parented:-',
      ]);
    } finally {
      for (const n of names) bus.unbind(n, 'test.parent');
    }
  });

  it('fires the upload events around finalize', async () => {
    const bus = t.server.app.get(EventBus);
    const seen: string[] = [];
    for (const n of ['model.upload.finalize', 'model.file.finalizeUpload.before', 'model.file.save.created', 'model.file.finalizeUpload.after', 'data.process'] as const) {
      bus.bind(n, 'test.upload', () => void seen.push(n));
    }
    try {
      await put(root._id, 'evented.txt', 'x');
      expect(seen).toEqual(['model.upload.finalize', 'model.file.finalizeUpload.before', 'model.file.save.created', 'model.file.finalizeUpload.after', 'data.process']);
    } finally {
      for (const n of ['model.upload.finalize', 'model.file.finalizeUpload.before', 'model.file.save.created', 'model.file.finalizeUpload.after', 'data.process'] as const) bus.unbind(n, 'test.upload');
    }
  });
});

describe('resources', () => {
  it('looks paths up, gives paths of nodes, searches, and moves, copies and deletes in bulk', async () => {
    const d = await mkdir(root._id, 'res dir');
    const file = await put(d._id, 'r#1?.txt', 'r');
    const found = await call(t.api, 'GET', '/resource/lookup', { token: admin, query: { path: '/collection/Files/root/res dir/r#1?.txt' } });
    expect(found.body).toMatchObject({ _modelType: 'item', _id: file.itemId });
    const fileFound = await call(t.api, 'GET', '/resource/lookup', { token: admin, query: { path: '/collection/Files/root/res dir/r#1?.txt/r#1?.txt' } });
    expect(fileFound.body._id).toBe(file._id);
    expect((await call(t.api, 'GET', '/resource/lookup', { token: admin, query: { path: '/collection/Files/nope' } })).status).toBe(404);
    expect((await call(t.api, 'GET', '/resource/lookup', { query: { path: '/collection/Files/root' } })).status).toBe(404);
    expect((await call(t.api, 'GET', `/resource/${file.itemId}/path`, { token: admin, query: { type: 'item' } })).body).toBe('/collection/Files/root/res dir/r#1?.txt');
    expect((await call(t.api, 'GET', `/resource/${file.itemId}/path`, { token: admin, query: { type: 'folder' } })).status).toBe(400);
    expect((await call(t.api, 'GET', `/resource/nonsense/path`, { token: admin, query: { type: 'folder' } })).status).toBe(400);
    const search = await call(t.api, 'GET', '/resource/search', { token: admin, query: { q: 'res d', types: '["folder","item"]' } });
    expect(search.body.folder.map((f: any) => f.name)).toEqual(['res dir']);

    const target = await mkdir(root._id, 'res target');
    const resources = JSON.stringify({ item: [file.itemId] });
    expect((await call(t.api, 'POST', '/resource/copy', { token: admin, query: { resources, parentType: 'folder', parentId: target._id } })).status).toBe(200);
    expect((await call(t.api, 'PUT', '/resource/move', { token: admin, query: { resources: JSON.stringify({ folder: [d._id] }), parentType: 'folder', parentId: target._id } })).status).toBe(200);
    const names = (await call(t.api, 'GET', '/folder', { token: admin, query: { parentId: target._id } })).body.map((f: any) => f.name);
    expect(names).toEqual(['res dir']);
    const items = (await call(t.api, 'GET', '/item', { token: admin, query: { folderId: target._id } })).body.map((i: any) => i.name);
    expect(items).toEqual(['r#1?.txt']);
    expect((await call(t.api, 'DELETE', '/resource', { token: admin, query: { resources: JSON.stringify({ folder: [target._id] }) } })).status).toBe(200);
    expect((await call(t.api, 'GET', `/folder/${target._id}`, { token: admin })).status).toBe(404);
    expect((await call(t.api, 'DELETE', '/resource', { token: admin, query: { resources: '{"user": ["x"]}' } })).status).toBe(400);
  });
});

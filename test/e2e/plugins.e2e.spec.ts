import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { resolvePlugins } from '../../src/plugins/registry';
import { ADMIN_PASSWORD, startTestServer, TestServer } from '../support/server';
import { call, login } from '../support/http';

describe('the example plugin', () => {
  let t: TestServer;
  let admin: string;
  beforeAll(async () => {
    t = await startTestServer({ PLUGINS: 'example' });
    admin = await login(t.api, 'admin', ADMIN_PASSWORD);
  });
  afterAll(() => t.close());

  it('adds a route, a setting with a validator, and an event handler', async () => {
    expect((await call(t.api, 'GET', '/example/stats', { token: admin })).body).toEqual({ greeting: 'Hello', uploads: 0, last: null });
    expect((await call(t.api, 'PUT', '/system/setting', { token: admin, query: { key: 'example.greeting', value: '"Hi there"' } })).status).toBe(200);
    expect((await call(t.api, 'PUT', '/system/setting', { token: admin, query: { key: 'example.greeting', value: '""' } })).status).toBe(400);
    const c = (await call(t.api, 'POST', '/collection', { token: admin, query: { name: 'plug' } })).body;
    const f = (await call(t.api, 'POST', '/folder', { token: admin, query: { parentType: 'collection', parentId: c._id, name: 'f' } })).body;
    await call(t.api, 'POST', '/file', { token: admin, query: { parentType: 'folder', parentId: f._id, name: 'seen.txt', size: 4 }, body: 'seen' });
    expect((await call(t.api, 'GET', '/example/stats', { token: admin })).body).toEqual({ greeting: 'Hi there', uploads: 1, last: 'seen.txt' });
    expect((await call(t.api, 'GET', '/system/version')).body.plugins).toEqual(['example']);
  });

  it('adds an assetstore type that uploads and downloads go through', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'strata-flat-'));
    const store = await call(t.api, 'POST', '/assetstore', { token: admin, query: { name: 'flat', type: 'example-flat', root, current: true } });
    expect(store.body).toMatchObject({ type: 'example-flat', current: true });
    const c = (await call(t.api, 'POST', '/collection', { token: admin, query: { name: 'flatc' } })).body;
    const f = (await call(t.api, 'POST', '/folder', { token: admin, query: { parentType: 'collection', parentId: c._id, name: 'f' } })).body;
    const file = (await call(t.api, 'POST', '/file', { token: admin, query: { parentType: 'folder', parentId: f._id, name: 'flat.txt', size: 9 }, body: 'flat file' })).body;
    expect(file.assetstoreId).toBe(store.body._id);
    expect(readdirSync(root).filter((n) => n !== 'partial')).toHaveLength(1);
    expect((await call(t.api, 'GET', `/file/${file._id}/download`, { token: admin, headers: { Range: 'bytes=5-' } })).text).toBe('file');
    await call(t.api, 'DELETE', `/file/${file._id}`, { token: admin });
    expect(readdirSync(root).filter((n) => n !== 'partial')).toHaveLength(0);
    const list = await call(t.api, 'GET', '/assetstore', { token: admin });
    expect(list.body.map((a: any) => [a.name, a.current])).toEqual([['Default', false], ['flat', true]]);
    expect((await call(t.api, 'DELETE', `/assetstore/${store.body._id}`, { token: admin })).status).toBe(409);
    expect((await call(t.api, 'POST', '/assetstore', { token: admin, query: { name: 'x', type: 'nonesuch' } })).status).toBe(400);
    expect(existsSync(root)).toBe(true);
  });
});

describe('plugin selection', () => {
  it('does not load the example plugin unless PLUGINS names it', async () => {
    const t = await startTestServer();
    try {
      const admin = await login(t.api, 'admin', ADMIN_PASSWORD);
      expect((await call(t.api, 'GET', '/example/stats', { token: admin })).status).toBe(404);
      expect((await call(t.api, 'POST', '/assetstore', { token: admin, query: { name: 'x', type: 'example-flat', root: '/tmp' } })).status).toBe(400);
    } finally {
      await t.close();
    }
  });

  it('orders dependencies first and refuses missing ones and cycles', () => {
    const mod = class {};
    const p = (name: string, dependencies: string[] = []) => ({ name, description: name, dependencies, module: mod });
    expect(resolvePlugins(['c'], [p('a'), p('b', ['a']), p('c', ['b'])]).map((x) => x.name)).toEqual(['a', 'b', 'c']);
    expect(() => resolvePlugins(['b'], [p('b', ['zz'])])).toThrow(/b needs zz/);
    expect(() => resolvePlugins(['a'], [p('a', ['b']), p('b', ['a'])])).toThrow(/cycle/);
  });
});

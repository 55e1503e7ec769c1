import { ObjectId } from 'mongodb';
import { ADMIN_PASSWORD, startTestServer, TestServer } from '../support/server';
import { call, login, registerUser } from '../support/http';

let t: TestServer;
let admin: string;

beforeAll(async () => {
  t = await startTestServer();
  admin = await login(t.api, 'admin', ADMIN_PASSWORD);
});
afterAll(() => t.close());

async function collection(name: string, extra: Record<string, string | boolean> = {}) {
  const res = await call(t.api, 'POST', '/collection', { token: admin, query: { name, ...extra } });
  expect(res.status).toBe(200);
  return res.body;
}

async function folder(token: string, parentId: string, name: string, parentType = 'folder', extra: Record<string, string | boolean> = {}) {
  const res = await call(t.api, 'POST', '/folder', { token, query: { parentType, parentId, name, ...extra } });
  if (res.status !== 200) throw new Error(`folder ${name}: ${res.status} ${res.text}`);
  return res.body;
}

async function upload(token: string, parentId: string, name: string, content: string | Buffer, parentType = 'folder') {
  const body = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const res = await call(t.api, 'POST', '/file', { token, query: { parentType, parentId, name, size: body.length }, body });
  if (res.status !== 200) throw new Error(`upload ${name}: ${res.status} ${res.text}`);
  return res.body;
}

describe('collections', () => {
  it('are made by admins (or everyone when allowed), unique by name in any case, and filtered by access', async () => {
    const u = await registerUser(t.api, 'coll.user');
    const c = await collection('Lab Data', { description: 'the lab' });
    expect(c).toMatchObject({ _modelType: 'collection', name: 'Lab Data', public: false, _accessLevel: 2, size: 0 });
    expect((await call(t.api, 'POST', '/collection', { token: admin, query: { name: 'lab data' } })).status).toBe(409);
    expect((await call(t.api, 'POST', '/collection', { token: u.token, query: { name: 'Mine' } })).status).toBe(403);
    await call(t.api, 'PUT', '/system/setting', { token: admin, query: { key: 'core.user_collections', value: 'true' } });
    const mine = await call(t.api, 'POST', '/collection', { token: u.token, query: { name: 'Mine' } });
    expect(mine.status).toBe(200);
    await call(t.api, 'PUT', '/system/setting', { token: admin, query: { key: 'core.user_collections', value: 'null' } });

    const listed = await call(t.api, 'GET', '/collection', { token: u.token });
    expect(listed.body.map((x: any) => x.name)).toEqual(['Mine']);
    expect((await call(t.api, 'GET', `/collection/${c._id}`, { token: u.token })).status).toBe(403);
    expect((await call(t.api, 'GET', `/collection/${c._id}`)).status).toBe(401);
    await call(t.api, 'PUT', `/collection/${c._id}`, { token: admin, query: { public: true } });
    expect((await call(t.api, 'GET', `/collection/${c._id}`)).body.name).toBe('Lab Data');
    expect((await call(t.api, 'GET', '/collection')).body.map((x: any) => x.name)).toEqual(['Lab Data']);
    // WRITE may edit but not publish: that is an access change
    const writer = JSON.stringify({ users: [{ id: u.user._id, level: 1 }], groups: [] });
    await call(t.api, 'PUT', `/collection/${mine.body._id}/access`, { token: u.token, query: { access: writer } });
    expect((await call(t.api, 'PUT', `/collection/${mine.body._id}`, { token: u.token, query: { description: 'ok' } })).status).toBe(200);
    expect((await call(t.api, 'PUT', `/collection/${mine.body._id}`, { token: u.token, query: { public: true } })).status).toBe(403);
  });

  it('finds collections by name beyond the first page of results', async () => {
    for (let i = 0; i < 12; i++) await collection(`filler ${i}`);
    await collection('zzz-target');
    const found = await call(t.api, 'GET', '/resource/search', { token: admin, query: { q: 'zzz', types: '["collection"]' } });
    expect(found.body.collection.map((c: any) => c.name)).toEqual(['zzz-target']);
  });
});

describe('names', () => {
  let parent: any;
  beforeAll(async () => {
    const c = await collection('Names');
    parent = await folder(admin, c._id, 'root', 'collection');
  });

  it.each([
    ['', 'empty'],
    ['   ', 'blank'],
    ['a/b', 'slash'],
    ['a\0b', 'NUL'],
    ['.', 'dot'],
    ['..', 'dot-dot'],
    ['x'.repeat(256), 'over 255 bytes'],
    ['é'.repeat(128), 'over 255 bytes of UTF-8'],
  ])('refuses %p (%s) with 400', async (name) => {
    const res = await call(t.api, 'POST', '/folder', { token: admin, query: { parentId: parent._id, name } });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('name');
  });

  it('trims, normalises to NFC and compares case-insensitively; folders and items share one namespace', async () => {
    const made = await folder(admin, parent._id, '  Caf\u0065\u0301  ');
    expect(made.name).toBe('Café');
    expect((await call(t.api, 'POST', '/folder', { token: admin, query: { parentId: parent._id, name: 'CAFÉ' } })).status).toBe(409);
    expect((await call(t.api, 'POST', '/item', { token: admin, query: { folderId: parent._id, name: 'café' } })).status).toBe(409);
    const reused = await call(t.api, 'POST', '/folder', { token: admin, query: { parentId: parent._id, name: 'café', reuseExisting: 'True' } });
    expect(reused.body._id).toBe(made._id);
    const item = await call(t.api, 'POST', '/item', { token: admin, query: { folderId: parent._id, name: 'thing' } });
    expect((await call(t.api, 'POST', '/folder', { token: admin, query: { parentId: parent._id, name: 'Thing' } })).status).toBe(409);
    expect((await call(t.api, 'POST', '/item', { token: admin, query: { folderId: parent._id, name: 'THING', reuseExisting: true } })).body._id).toBe(item.body._id);
  });

  it('lets exactly one of 20 concurrent creates of one name win', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2
          ? call(t.api, 'POST', '/folder', { token: admin, query: { parentId: parent._id, name: 'race' } })
          : call(t.api, 'POST', '/item', { token: admin, query: { folderId: parent._id, name: 'Race' } }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(19);
  });

  it('takes over a name reservation left by a crash, but not one of a create still in progress', async () => {
    const names = t.db.collection('name');
    // a reservation without its node: a create that died between its two steps a while ago…
    await names.insertOne({ _id: `folder:${parent._id}:orphan`, kind: 'item', nodeId: new ObjectId(), created: new Date(Date.now() - 10 * 60_000) } as never);
    expect((await call(t.api, 'POST', '/item', { token: admin, query: { folderId: parent._id, name: 'Orphan' } })).status).toBe(200);
    // …and one made a moment ago, whose node is about to be written: its name is taken
    await names.insertOne({ _id: `folder:${parent._id}:in progress`, kind: 'item', nodeId: new ObjectId(), created: new Date() } as never);
    expect((await call(t.api, 'POST', '/item', { token: admin, query: { folderId: parent._id, name: 'In Progress' } })).status).toBe(409);
  });

  it('auto-renames uploads into a folder as Girder does: name (1), name (2)', async () => {
    const a = await upload(admin, parent._id, 'data.txt', 'one');
    const b = await upload(admin, parent._id, 'data.txt', 'two');
    const c = await upload(admin, parent._id, 'data.txt', 'three');
    const names = await Promise.all([a, b, c].map(async (f) => (await call(t.api, 'GET', `/item/${f.itemId}`, { token: admin })).body.name));
    expect(names).toEqual(['data.txt', 'data.txt (1)', 'data.txt (2)']);
  });
});

describe('folders and items', () => {
  it('lists children with paging, sort, total count and keyset paging; details and rootpath', async () => {
    const c = await collection('Paging');
    const root = await folder(admin, c._id, 'root', 'collection');
    for (const n of ['b', 'a', 'd', 'c']) await folder(admin, root._id, n);
    for (const n of ['z2', 'z1']) await call(t.api, 'POST', '/item', { token: admin, query: { folderId: root._id, name: n } });
    const page = await call(t.api, 'GET', '/folder', { token: admin, query: { parentType: 'folder', parentId: root._id, limit: 2, offset: 1 } });
    expect(page.body.map((f: any) => f.name)).toEqual(['b', 'c']);
    expect(page.headers.get('girder-total-count')).toBe('4');
    const desc = await call(t.api, 'GET', '/folder', { token: admin, query: { parentId: root._id, sort: 'name', sortdir: -1 } });
    expect(desc.body.map((f: any) => f.name)).toEqual(['d', 'c', 'b', 'a']);
    const after = await call(t.api, 'GET', '/folder', { token: admin, query: { parentId: root._id, after: 'b', limit: 50 } });
    expect(after.body.map((f: any) => f.name)).toEqual(['c', 'd']);
    const byName = await call(t.api, 'GET', '/folder', { token: admin, query: { parentId: root._id, name: 'C' } });
    expect(byName.body.map((f: any) => f.name)).toEqual(['c']);
    const items = await call(t.api, 'GET', '/item', { token: admin, query: { folderId: root._id } });
    expect(items.body.map((i: any) => i.name)).toEqual(['z1', 'z2']);
    expect((await call(t.api, 'GET', `/folder/${root._id}/details`, { token: admin })).body).toEqual({ nFolders: 4, nItems: 2 });
    const a = page.body[0];
    const deep = await folder(admin, a._id, 'deep');
    const rootpath = await call(t.api, 'GET', `/folder/${deep._id}/rootpath`, { token: admin });
    expect(rootpath.body.map((e: any) => [e.type, e.object.name])).toEqual([['collection', 'Paging'], ['folder', 'root'], ['folder', 'b']]);
    expect((await call(t.api, 'GET', '/folder', { token: admin })).status).toBe(400);
    expect((await call(t.api, 'GET', '/folder', { token: admin, query: { parentId: root._id, after: 'b', sortdir: -1 } })).status).toBe(400);
    expect((await call(t.api, 'GET', '/folder', { token: admin, query: { parentId: root._id, sort: 'secret' } })).status).toBe(400);
  });

  it('renames and moves in one request, refuses a move into its own subtree, and keeps metadata', async () => {
    const c = await collection('Moves');
    const a = await folder(admin, c._id, 'a', 'collection');
    const b = await folder(admin, c._id, 'b', 'collection');
    const child = await folder(admin, a._id, 'child', 'folder', { metadata: JSON.stringify({ sample: 1 }) });
    expect(child.meta).toEqual({ sample: 1 });
    const moved = await call(t.api, 'PUT', `/folder/${child._id}`, { token: admin, query: { name: 'renamed', parentType: 'folder', parentId: b._id } });
    expect(moved.body).toMatchObject({ name: 'renamed', parentId: b._id, meta: { sample: 1 } });
    // the old name is free again, the new one taken
    await folder(admin, a._id, 'child');
    expect((await call(t.api, 'POST', '/folder', { token: admin, query: { parentId: b._id, name: 'RENAMED' } })).status).toBe(409);
    expect((await call(t.api, 'PUT', `/folder/${b._id}`, { token: admin, query: { parentType: 'folder', parentId: child._id } })).status).toBe(400);
    expect((await call(t.api, 'PUT', `/folder/${b._id}`, { token: admin, query: { parentType: 'folder', parentId: b._id } })).status).toBe(400);

    const meta = await call(t.api, 'PUT', `/folder/${b._id}/metadata`, { token: admin, json: { x: 1, y: 'two', gone: null } });
    expect(meta.body.meta).toEqual({ x: 1, y: 'two' });
    expect((await call(t.api, 'PUT', `/folder/${b._id}/metadata`, { token: admin, json: { 'a.b': 1 } })).status).toBe(400);
    expect((await call(t.api, 'PUT', `/folder/${b._id}/metadata`, { token: admin, json: { $x: 1 } })).status).toBe(400);
    const deleted = await call(t.api, 'DELETE', `/folder/${b._id}/metadata`, { token: admin, json: ['x'] });
    expect(deleted.body.meta).toEqual({ y: 'two' });
  });

  it('moves items between folders, edits them and deletes folders recursively', async () => {
    const c = await collection('Items');
    const a = await folder(admin, c._id, 'a', 'collection');
    const b = await folder(admin, a._id, 'b');
    const item = await call(t.api, 'POST', '/item', { token: admin, query: { folderId: a._id, name: 'it', description: 'd' } });
    const moved = await call(t.api, 'PUT', `/item/${item.body._id}`, { token: admin, query: { folderId: b._id, name: 'it2' } });
    expect(moved.body).toMatchObject({ folderId: b._id, name: 'it2', description: 'd' });
    expect((await call(t.api, 'DELETE', `/folder/${a._id}`, { token: admin })).status).toBe(200);
    expect((await call(t.api, 'GET', `/folder/${b._id}`, { token: admin })).status).toBe(404);
    expect((await call(t.api, 'GET', `/item/${item.body._id}`, { token: admin })).status).toBe(404);
  });
});

describe('access', () => {
  let owner: any;
  let member: any;
  let stranger: any;
  let group: any;
  let priv: any;

  beforeAll(async () => {
    owner = await registerUser(t.api, 'acc.owner');
    member = await registerUser(t.api, 'acc.member');
    stranger = await registerUser(t.api, 'acc.stranger');
    group = (await call(t.api, 'POST', '/group', { token: owner.token, query: { name: 'acc group' } })).body;
    await call(t.api, 'POST', `/group/${group._id}/member`, { token: owner.token, query: { userId: member.user._id } });
    member.token = await login(t.api, 'acc.member', 'password-1');
    priv = await folder(owner.token, owner.user._id, 'Project', 'user');
  });

  it('gives new users a Public and a Private folder (and, with home-dirs, a private Home)', async () => {
    const res = await call(t.api, 'GET', '/folder', { token: owner.token, query: { parentType: 'user', parentId: owner.user._id } });
    expect(res.body.map((f: any) => [f.name, f.public])).toEqual([['Home', false], ['Private', false], ['Project', false], ['Public', true]]);
    const seen = await call(t.api, 'GET', '/folder', { token: stranger.token, query: { parentType: 'user', parentId: owner.user._id } });
    expect(seen.body.map((f: any) => f.name)).toEqual(['Public']);
  });

  it('decides for anonymous, strangers, group members, the owner and admins on every route', async () => {
    const item = (await call(t.api, 'POST', '/item', { token: owner.token, query: { folderId: priv._id, name: 'secret' } })).body;
    const file = await upload(owner.token, item._id, 'secret.txt', 'hush', 'item');
    const routes: [string, string, Record<string, string>?][] = [
      ['GET', `/folder/${priv._id}`],
      ['GET', `/item/${item._id}`],
      ['GET', `/file/${file._id}`],
      ['GET', `/file/${file._id}/download`],
      ['GET', `/item?folderId=${priv._id}`],
    ];
    const status = async (token: string | undefined, method: string, path: string) => (await call(t.api, method, path, token ? { token } : {})).status;
    for (const [method, path] of routes) {
      expect([path, await status(undefined, method, path)]).toEqual([path, 401]);
      expect([path, await status(stranger.token, method, path)]).toEqual([path, 403]);
      expect([path, await status(member.token, method, path)]).toEqual([path, 403]);
      expect([path, await status(owner.token, method, path)]).toEqual([path, 200]);
      expect([path, await status(admin, method, path)]).toEqual([path, 200]);
    }
    // grant the group READ: members read, but cannot write
    const access = JSON.stringify({ users: [{ id: owner.user._id, level: 2 }], groups: [{ id: group._id, level: 0 }] });
    expect((await call(t.api, 'PUT', `/folder/${priv._id}/access`, { token: owner.token, query: { access } })).status).toBe(200);
    for (const [method, path] of routes) expect([path, await status(member.token, method, path)]).toEqual([path, 200]);
    expect((await call(t.api, 'PUT', `/item/${item._id}`, { token: member.token, query: { name: 'x' } })).status).toBe(403);
    expect((await call(t.api, 'POST', '/folder', { token: member.token, query: { parentId: priv._id, name: 'x' } })).status).toBe(403);
    expect((await call(t.api, 'DELETE', `/file/${file._id}`, { token: member.token })).status).toBe(403);
    expect((await call(t.api, 'GET', `/folder/${priv._id}/access`, { token: member.token })).status).toBe(403);
    const shown = await call(t.api, 'GET', `/folder/${priv._id}/access`, { token: owner.token });
    expect(shown.body.groups).toEqual([{ id: group._id, level: 0, name: 'acc group', flags: [] }]);
    // WRITE lets members write but not delete the folder or change access
    const write = JSON.stringify({ users: [{ id: owner.user._id, level: 2 }], groups: [{ id: group._id, level: 1 }] });
    await call(t.api, 'PUT', `/folder/${priv._id}/access`, { token: owner.token, query: { access: write } });
    expect((await call(t.api, 'PUT', `/item/${item._id}`, { token: member.token, query: { description: 'edited' } })).status).toBe(200);
    expect((await call(t.api, 'DELETE', `/folder/${priv._id}`, { token: member.token })).status).toBe(403);
    expect((await call(t.api, 'PUT', `/folder/${priv._id}/access`, { token: member.token, query: { access: write } })).status).toBe(403);
    // public: anonymous reads
    await call(t.api, 'PUT', `/folder/${priv._id}/access`, { token: owner.token, query: { access: write, public: true } });
    expect(await status(undefined, 'GET', `/file/${file._id}/download`)).toBe(200);
    expect(await status(undefined, 'PUT', `/item/${item._id}?name=x`)).toBe(401);
  });

  it('shows the caller’s own level on listed, searched and looked-up items, and answers listings’ errors as before', async () => {
    const levels = await folder(owner.token, owner.user._id, 'Levels', 'user');
    const access = JSON.stringify({ users: [{ id: owner.user._id, level: 2 }, { id: stranger.user._id, level: 1 }], groups: [] });
    expect((await call(t.api, 'PUT', `/folder/${levels._id}/access`, { token: owner.token, query: { access } })).status).toBe(200);
    expect((await call(t.api, 'POST', '/item', { token: owner.token, query: { folderId: levels._id, name: 'levelled-item-q7' } })).status).toBe(200);
    const listed = async (token?: string) => (await call(t.api, 'GET', '/item', { ...(token ? { token } : {}), query: { folderId: levels._id } })).body.map((i: any) => i._accessLevel);
    const searched = async (token?: string) => (await call(t.api, 'GET', '/item', { ...(token ? { token } : {}), query: { text: 'levelled-item-q7' } })).body.map((i: any) => i._accessLevel);
    const resourceSearched = async (token?: string) =>
      (await call(t.api, 'GET', '/resource/search', { ...(token ? { token } : {}), query: { q: 'levelled-item-q7', types: '["item"]' } })).body.item.map((i: any) => i._accessLevel);
    const lookedUp = async (token?: string) => {
      const res = await call(t.api, 'GET', '/resource/lookup', { ...(token ? { token } : {}), query: { path: '/user/acc.owner/Levels/levelled-item-q7' } });
      return res.status === 200 ? res.body._accessLevel : res.status;
    };
    for (const [token, level] of [[owner.token, 2], [stranger.token, 1], [admin, 2]] as const) {
      expect(await listed(token)).toEqual([level]);
      expect(await searched(token)).toEqual([level]);
      expect(await resourceSearched(token)).toEqual([level]);
      expect(await lookedUp(token)).toBe(level);
    }
    expect(await searched(member.token)).toEqual([]);
    expect(await resourceSearched(member.token)).toEqual([]);
    expect(await lookedUp(member.token)).toBe(404);
    await call(t.api, 'PUT', `/folder/${levels._id}/access`, { token: owner.token, query: { access, public: true } });
    expect(await searched()).toEqual([0]);
    expect(await searched(member.token)).toEqual([0]);
    expect(await resourceSearched(member.token)).toEqual([0]);
    expect(await lookedUp(member.token)).toBe(0);

    const missing = '0123456789abcdef01234567';
    const noFolder = await call(t.api, 'GET', '/item', { token: owner.token, query: { folderId: missing } });
    expect([noFolder.status, noFolder.body.message]).toEqual([404, `Folder not found: ${missing}`]);
    const noParent = await call(t.api, 'GET', '/folder', { token: owner.token, query: { parentType: 'folder', parentId: missing } });
    expect([noParent.status, noParent.body.message]).toEqual([404, `Folder not found: ${missing}`]);
    expect((await call(t.api, 'GET', '/folder', { token: owner.token, query: { parentType: 'collection', parentId: missing } })).status).toBe(404);
    expect((await call(t.api, 'GET', '/folder', { token: owner.token, query: { parentType: 'bogus', parentId: missing } })).status).toBe(400);
    expect((await call(t.api, 'GET', '/folder', { query: { parentType: 'user', parentId: owner.user._id } })).status).toBe(401);
    expect((await call(t.api, 'GET', '/item', { query: { folderId: 'not-an-id' } })).status).toBe(400);
  });

  it('copies a parent’s ACL into new subfolders and pushes ACLs down with recurse', async () => {
    const parent = await folder(owner.token, owner.user._id, 'Shared', 'user');
    const access = JSON.stringify({ users: [{ id: owner.user._id, level: 2 }, { id: stranger.user._id, level: 0 }], groups: [] });
    await call(t.api, 'PUT', `/folder/${parent._id}/access`, { token: owner.token, query: { access } });
    const child = await folder(owner.token, parent._id, 'child');
    expect((await call(t.api, 'GET', `/folder/${child._id}`, { token: stranger.token })).status).toBe(200);
    const grand = await folder(owner.token, child._id, 'grand');
    const none = JSON.stringify({ users: [{ id: owner.user._id, level: 2 }], groups: [] });
    await call(t.api, 'PUT', `/folder/${parent._id}/access`, { token: owner.token, query: { access: none } });
    expect((await call(t.api, 'GET', `/folder/${grand._id}`, { token: stranger.token })).status).toBe(200);
    await call(t.api, 'PUT', `/folder/${parent._id}/access`, { token: owner.token, query: { access: none, recurse: true } });
    expect((await call(t.api, 'GET', `/folder/${grand._id}`, { token: stranger.token })).status).toBe(403);
    const bad = JSON.stringify({ users: [{ id: '0123456789abcdef01234567', level: 0 }] });
    expect((await call(t.api, 'PUT', `/folder/${parent._id}/access`, { token: owner.token, query: { access: bad } })).status).toBe(400);
    expect((await call(t.api, 'PUT', `/folder/${parent._id}/access`, { token: owner.token, query: { access: '{"users": [{"id": "x", "level": 9}]}' } })).status).toBe(400);
  });
});

import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { startTestServer, TestServer } from '../support/server';
import { call, registerUser } from '../support/http';

let t: TestServer;
let owner: { user: any; token: string };
let other: { user: any; token: string };

beforeAll(async () => {
  t = await startTestServer();
  owner = await registerUser(t.api, 'taleowner', 'owner-account-1');
  other = await registerUser(t.api, 'taleother', 'other-account-1');
});
afterAll(() => t.close());

const davAs = (who: { token: string; user: any }, method: string, p: string, extra: Parameters<typeof call>[3] = {}) =>
  call(t.url, method, p, { basic: [who.user.login, `token:${who.token}`], ...extra });

it('makes a tale with a workspace reachable at /tales/<id>, with the tale’s access, and removes both', async () => {
  const made = await call(t.api, 'POST', '/tale', { token: owner.token, query: { title: 'My analysis', description: 'd' } });
  expect(made.status).toBe(200);
  const tale = made.body;
  expect(tale).toMatchObject({ _modelType: 'tale', title: 'My analysis', public: false, _accessLevel: 2, davPath: `/tales/${tale._id}/` });
  const dir = path.join(t.dataDir, 'tales', tale._id);
  expect(existsSync(dir)).toBe(true);

  expect((await davAs(owner, 'PUT', `/tales/${tale._id}/notes.txt`, { body: 'notes' })).status).toBe(201);
  expect(readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('notes');
  const ws = await call(t.api, 'GET', `/folder/${tale.workspaceId}`, { token: owner.token });
  expect(ws.body.size).toBe(5);

  // strangers do not see it at all
  expect((await call(t.api, 'GET', `/tale/${tale._id}`, { token: other.token })).status).toBe(404);
  expect((await davAs(other, 'PROPFIND', `/tales/${tale._id}/`, { headers: { Depth: '0' } })).status).toBe(404);
  const otherList = await davAs(other, 'PROPFIND', '/tales/', { headers: { Depth: '1' } });
  expect(otherList.text).not.toContain(tale._id);
  expect((await davAs(owner, 'PROPFIND', '/tales/', { headers: { Depth: '1' } })).text).toContain(tale._id);

  // READ lets them read but not write, on the source and on a COPY/MOVE destination
  const read = JSON.stringify({ users: [{ id: owner.user._id, level: 2 }, { id: other.user._id, level: 0 }], groups: [] });
  expect((await call(t.api, 'PUT', `/tale/${tale._id}/access`, { token: owner.token, query: { access: read } })).status).toBe(200);
  expect((await davAs(other, 'GET', `/tales/${tale._id}/notes.txt`)).text).toBe('notes');
  expect((await davAs(other, 'PUT', `/tales/${tale._id}/x.txt`, { body: 'x' })).status).toBe(403);
  expect((await davAs(other, 'DELETE', `/tales/${tale._id}/notes.txt`)).status).toBe(403);
  expect((await davAs(other, 'COPY', `/tales/${tale._id}/notes.txt`, { headers: { Destination: `/tales/${tale._id}/copy.txt` } })).status).toBe(403);
  // ... and their own home is a fine destination
  expect((await davAs(other, 'COPY', `/tales/${tale._id}/notes.txt`, { headers: { Destination: '/homes/taleother/from-tale.txt' } })).status).toBe(201);
  expect(readFileSync(path.join(t.dataDir, 'homes', 'taleother', 'from-tale.txt'), 'utf8')).toBe('notes');
  expect((await call(t.api, 'GET', '/resource/lookup', { token: other.token, query: { path: '/user/taleother/Home/from-tale.txt' } })).body.size).toBe(5);
  // WRITE lets them write
  const write = JSON.stringify({ users: [{ id: owner.user._id, level: 2 }, { id: other.user._id, level: 1 }], groups: [] });
  await call(t.api, 'PUT', `/tale/${tale._id}/access`, { token: owner.token, query: { access: write } });
  expect((await davAs(other, 'PUT', `/tales/${tale._id}/x.txt`, { body: 'x' })).status).toBe(201);
  expect((await call(t.api, 'DELETE', `/tale/${tale._id}`, { token: other.token })).status).toBe(403);

  // public tales are readable by everyone logged in
  await call(t.api, 'PUT', `/tale/${tale._id}`, { token: owner.token, query: { public: true } });
  const third = await registerUser(t.api, 'talethird', 'third-account-1');
  expect((await davAs(third, 'GET', `/tales/${tale._id}/notes.txt`)).status).toBe(200);
  expect((await call(t.api, 'GET', '/tale', { token: third.token })).body.map((x: any) => x.title)).toEqual(['My analysis']);

  expect((await call(t.api, 'DELETE', `/tale/${tale._id}`, { token: owner.token })).status).toBe(200);
  expect(existsSync(dir)).toBe(false);
  expect((await call(t.api, 'GET', `/folder/${tale.workspaceId}`, { token: owner.token })).status).toBe(404);
  expect((await call(t.api, 'POST', '/tale', { token: owner.token, query: { title: '  ' } })).status).toBe(400);
});

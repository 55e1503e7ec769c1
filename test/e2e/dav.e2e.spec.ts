import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createClient, WebDAVClient } from 'webdav';
import { ADMIN_PASSWORD, startTestServer, TestServer } from '../support/server';
import { call, login, registerUser } from '../support/http';

let t: TestServer;
let alice: { user: any; token: string };
let dav: WebDAVClient;
const DAV_PASSWORD = 'alice-dav-pass';

function homeDir(...parts: string[]) {
  return path.join(t.dataDir, 'homes', 'alice', ...parts);
}

async function lookup(p: string) {
  return call(t.api, 'GET', '/resource/lookup', { token: alice.token, query: { path: `/user/alice/Home/${p}` } });
}

/** The state of one path through the three views: REST (tree), disk, WebDAV. */
async function views(p: string) {
  const rest = await lookup(p);
  const onDisk = existsSync(homeDir(...p.split('/')));
  const viaDav = await dav.exists(`/${p}`);
  return { rest: rest.status === 200 ? rest.body : null, onDisk, viaDav };
}

async function expectFile(p: string, content: string) {
  const v = await views(p);
  expect(v.onDisk).toBe(true);
  expect(v.viaDav).toBe(true);
  expect(v.rest).toMatchObject({ _modelType: 'item', size: Buffer.byteLength(content) });
  expect(readFileSync(homeDir(...p.split('/')), 'utf8')).toBe(content);
  expect((await call(t.api, 'GET', `/item/${v.rest._id}/download`, { token: alice.token })).text).toBe(content);
  expect(await dav.getFileContents(`/${p}`, { format: 'text' })).toBe(content);
}

async function expectFolder(p: string) {
  const v = await views(p);
  expect(v).toMatchObject({ onDisk: true, viaDav: true, rest: { _modelType: 'folder' } });
}

async function expectGone(p: string) {
  expect(await views(p)).toEqual({ rest: null, onDisk: false, viaDav: false });
}

beforeAll(async () => {
  t = await startTestServer({ LOGIN_WINDOW_SECONDS: '3' });
  alice = await registerUser(t.api, 'alice', 'alice-account-1');
  expect((await call(t.api, 'PUT', '/homedirpass/set', { token: alice.token, form: { password: DAV_PASSWORD } })).status).toBe(200);
  dav = createClient(`${t.url}/homes/alice`, { username: 'alice', password: DAV_PASSWORD });
});
afterAll(() => t.close());

describe('WebDAV passwords and logins', () => {
  it('sets (form or JSON) and generates passwords, refusing missing and short ones', async () => {
    const bob = await registerUser(t.api, 'bobdav', 'bob-account-1');
    expect((await call(t.api, 'PUT', '/homedirpass/set', { token: bob.token })).status).toBe(400);
    const short = await call(t.api, 'PUT', '/homedirpass/set', { token: bob.token, json: { password: 'short' } });
    expect(short.status).toBe(400);
    expect(short.body.message).toMatch(/at least 8/);
    expect((await call(t.api, 'PUT', '/homedirpass/set', { token: bob.token, json: { password: 'json:pass/word+1' } })).status).toBe(200);
    const bobDav = (password: string) => call(t.url, 'PROPFIND', '/homes/bobdav/', { basic: ['bobdav', password], headers: { Depth: '0' } });
    expect((await bobDav('json:pass/word+1')).status).toBe(207);
    const generated = await call(t.api, 'GET', '/homedirpass/generate', { token: bob.token });
    expect(generated.body.password).toMatch(/^[A-Za-z0-9]{16,}$/);
    expect((await bobDav(generated.body.password)).status).toBe(207);
    expect((await bobDav('json:pass/word+1')).status).toBe(401); // replaced
    expect((await call(t.api, 'GET', '/homedirpass/generate')).status).toBe(401);
  });

  it('takes the WebDAV password, token: and key:, but not the account password or an email', async () => {
    const propfind = (user: string, password: string) => call(t.url, 'PROPFIND', '/homes/alice/', { basic: [user, password], headers: { Depth: '0' } });
    expect((await propfind('alice', DAV_PASSWORD)).status).toBe(207);
    expect((await propfind('alice', `token:${alice.token}`)).status).toBe(207);
    const key = await call(t.api, 'POST', '/api_key', { token: alice.token, query: { name: 'dav' } });
    expect((await propfind('alice', `key:${key.body.key}`)).status).toBe(207);
    const refused = await propfind('alice', 'alice-account-1');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect((await propfind('alice@example.org', DAV_PASSWORD)).status).toBe(401);
    const none = await call(t.url, 'PROPFIND', '/homes/alice/', { headers: { Depth: '0' } });
    expect(none.status).toBe(401);
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('gives read-only tokens read access only, and other users’ homes a 403', async () => {
    const key = await call(t.api, 'POST', '/api_key', { token: alice.token, query: { name: 'ro', scope: '["core.data.read"]' } });
    const ro = (await call(t.api, 'POST', '/api_key/token', { query: { key: key.body.key } })).body.authToken.token;
    expect((await call(t.url, 'PROPFIND', '/homes/alice/', { basic: ['alice', `token:${ro}`], headers: { Depth: '0' } })).status).toBe(207);
    expect((await call(t.url, 'MKCOL', '/homes/alice/nope', { basic: ['alice', `token:${ro}`] })).status).toBe(403);
    const carol = await registerUser(t.api, 'carol', 'carol-account-1');
    expect((await call(t.url, 'PROPFIND', '/homes/alice/', { basic: ['carol', `token:${carol.token}`], headers: { Depth: '0' } })).status).toBe(403);
    // the /homes listing shows only your own home
    const listing = await call(t.url, 'PROPFIND', '/homes/', { basic: ['carol', `token:${carol.token}`], headers: { Depth: '1' } });
    expect(listing.text).toContain('/homes/carol/');
    expect(listing.text).not.toContain('/homes/alice/');
    // COPY or MOVE into someone else's home is refused too
    await dav.putFileContents('/mine.txt', 'mine');
    const copy = await call(t.url, 'COPY', '/homes/alice/mine.txt', { basic: ['alice', DAV_PASSWORD], headers: { Destination: `${t.url}/homes/carol/stolen.txt` } });
    expect(copy.status).toBe(403);
    expect(existsSync(path.join(t.dataDir, 'homes', 'carol', 'stolen.txt'))).toBe(false);
  });

  it('locks a login after the 6th failure in a window, even for the right password', async () => {
    await registerUser(t.api, 'lockme', 'lockme-account-1');
    const lockme = await login(t.api, 'lockme', 'lockme-account-1');
    await call(t.api, 'PUT', '/homedirpass/set', { token: lockme, form: { password: 'lockme-dav-1' } });
    const attempt = (password: string) => call(t.url, 'PROPFIND', '/homes/lockme/', { basic: ['lockme', password], headers: { Depth: '0' } });
    for (let i = 0; i < 5; i++) expect((await attempt(`bad-${i}`)).status).toBe(401);
    expect((await attempt('bad-6')).status).toBe(429);
    const locked = await attempt('lockme-dav-1');
    expect(locked.status).toBe(429);
    await new Promise((r) => setTimeout(r, Number(locked.headers.get('retry-after')) * 1000 + 300));
    expect((await attempt('lockme-dav-1')).status).toBe(207);
  });
});

describe('requests the library cannot survive are refused first', () => {
  const auth = (): { basic: [string, string] } => ({ basic: ['alice', DAV_PASSWORD] });

  it('bounds PROPFIND depth', async () => {
    await dav.createDirectory('/depth');
    await dav.createDirectory('/depth/deeper');
    await dav.putFileContents('/depth/deeper/leaf.txt', 'x');
    const noDepth = await call(t.url, 'PROPFIND', '/homes/alice/depth/', auth());
    expect(noDepth.status).toBe(207);
    expect(noDepth.text).toContain('/homes/alice/depth/deeper/');
    expect(noDepth.text).not.toContain('leaf.txt');
    expect((await call(t.url, 'PROPFIND', '/homes/alice/depth/', { ...auth(), headers: { Depth: 'infinity' } })).status).toBe(403);
  });

  it.each([
    ['a partial PUT', 'PUT', '/homes/alice/partial.txt', { 'Content-Range': 'bytes 0-1/10' }, 400],
    ['an undecodable URL', 'PROPFIND', '/homes/alice/%E0%A4%A', { Depth: '0' }, 400],
    ['an encoded slash', 'PROPFIND', '/homes/alice/a%2Fb', { Depth: '0' }, 400],
    ['a dot-dot segment', 'PROPFIND', '/homes/alice/%2e%2e/carol', { Depth: '0' }, 400],
    ['a huge XML body', 'PROPFIND', '/homes/alice/', { Depth: '0', 'Content-Length': '5000000' }, 413],
    ['a bad Destination', 'MOVE', '/homes/alice/mine.txt', { Destination: 'http://x/homes/alice/%zz' }, 400],
  ])('%s', async (_what, method, url, headers, status) => {
    const res = await rawRequest(method, url, { Authorization: basicHeader('alice', DAV_PASSWORD), ...headers });
    expect(res.status).toBe(status);
  });

  it('survives a PROPPATCH with three set blocks, and refuses a MKCOL body and a URL fragment', async () => {
    await dav.putFileContents('/props.txt', 'p');
    const body = `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/z/">${[1, 2, 3]
      .map((i) => `<D:set><D:prop><Z:p${i}>v${i}</Z:p${i}></D:prop></D:set>`)
      .join('')}</D:propertyupdate>`;
    const patched = await call(t.url, 'PROPPATCH', '/homes/alice/props.txt', { ...auth(), body, headers: { 'Content-Type': 'application/xml' } });
    expect(patched.status).toBeLessThan(500);
    expect((await call(t.url, 'PROPFIND', '/homes/alice/', { ...auth(), headers: { Depth: '0' } })).status).toBe(207);
    expect((await call(t.url, 'MKCOL', '/homes/alice/withbody', { ...auth(), body: '<x/>', headers: { 'Content-Type': 'text/xml' } })).status).toBe(415);
    expect((await rawRequest('DELETE', '/homes/alice/depth#frag', { Authorization: basicHeader('alice', DAV_PASSWORD) })).status).toBe(400);
    expect(await dav.exists('/depth')).toBe(true);
  });

  it('evaluates an If on MKCOL and an untagged If on PUT instead of crashing', async () => {
    expect((await call(t.url, 'MKCOL', '/homes/alice/ifcol', { ...auth(), headers: { If: '(<opaquelocktoken:nope>)' } })).status).toBe(412);
    expect((await call(t.url, 'MKCOL', '/homes/alice/ifcol', { ...auth(), headers: { If: '(Not <opaquelocktoken:nope>)' } })).status).toBe(201);
    expect((await call(t.url, 'PUT', '/homes/alice/if.txt', { ...auth(), body: 'x', headers: { If: '(<opaquelocktoken:nope' } })).status).toBe(400);
    const put = await call(t.url, 'PUT', '/homes/alice/if.txt', { ...auth(), body: 'x', headers: { If: '(<opaquelocktoken:x> ["etag"]) (Not <DAV:no-lock>)' } });
    expect(put.status).toBeLessThan(500);
    expect((await call(t.url, 'PROPFIND', '/homes/alice/', { ...auth(), headers: { Depth: '0' } })).status).toBe(207);
  });
});

describe('locks', () => {
  const lockBody = '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>';

  it('are held in the database, enforced by token, and survive a restart', async () => {
    await dav.putFileContents('/locked.txt', 'v1');
    const lock = await call(t.url, 'LOCK', '/homes/alice/locked.txt', { basic: ['alice', DAV_PASSWORD], body: lockBody, headers: { 'Content-Type': 'application/xml', Timeout: 'Second-600' } });
    expect(lock.status).toBe(200);
    const token = /<([^>]+)>/.exec(lock.headers.get('lock-token')!)![1];
    expect(lock.text).toContain(token);
    // the same user without the token is refused too: locks are per token, not per user
    expect((await call(t.url, 'PUT', '/homes/alice/locked.txt', { basic: ['alice', DAV_PASSWORD], body: 'v2' })).status).toBe(423);
    expect((await call(t.url, 'DELETE', '/homes/alice/locked.txt', { basic: ['alice', DAV_PASSWORD] })).status).toBe(423);
    expect(await t.db.collection('dav_lock').countDocuments({ _id: token as never })).toBe(1);

    const { startServer } = await import('../../src/server');
    await t.server.close();
    t.server = await startServer(t.server.config);
    const url = t.server.url;
    expect((await call(url, 'PUT', '/homes/alice/locked.txt', { basic: ['alice', DAV_PASSWORD], body: 'v2' })).status).toBe(423);
    expect((await call(url, 'PUT', '/homes/alice/locked.txt', { basic: ['alice', DAV_PASSWORD], body: 'v2', headers: { If: `(<${token}>)` } })).status).toBeLessThan(300);
    expect((await call(url, 'PROPFIND', '/homes/alice/locked.txt', { basic: ['alice', DAV_PASSWORD], headers: { Depth: '0' } })).text).toContain(token);
    expect((await call(url, 'UNLOCK', '/homes/alice/locked.txt', { basic: ['alice', DAV_PASSWORD], headers: { 'Lock-Token': `<${token}>` } })).status).toBe(204);
    expect((await call(url, 'PUT', '/homes/alice/locked.txt', { basic: ['alice', DAV_PASSWORD], body: 'v3' })).status).toBeLessThan(300);
    dav = createClient(`${url}/homes/alice`, { username: 'alice', password: DAV_PASSWORD });
    t.url = url;
    t.api = `${url}/api/v1`;
  });
});

describe('WebDAV writes show in the tree when the response is sent', () => {
  it('MKCOL, PUT (new and overwrite), DELETE of a file and of a folder tree', async () => {
    await dav.createDirectory('/w');
    await expectFolder('w');
    await dav.putFileContents('/w/a.txt', 'first');
    await expectFile('w/a.txt', 'first');
    await dav.putFileContents('/w/a.txt', 'second, longer');
    await expectFile('w/a.txt', 'second, longer');
    const folder = (await lookup('w')).body;
    expect((await call(t.api, 'GET', `/folder/${folder._id}`, { token: alice.token })).body.size).toBe(14);
    expect((await call(t.api, 'GET', `/item/${(await lookup('w/a.txt')).body._id}/files`, { token: alice.token })).body).toHaveLength(1);
    await dav.deleteFile('/w/a.txt');
    await expectGone('w/a.txt');
    await dav.createDirectory('/w/sub');
    await dav.putFileContents('/w/sub/b.txt', 'b');
    await dav.deleteFile('/w');
    await expectGone('w');
    await expectGone('w/sub/b.txt');
  });

  it('MOVE: rename, move, both, and onto an existing target with Overwrite', async () => {
    await dav.createDirectory('/m1');
    await dav.createDirectory('/m2');
    await dav.putFileContents('/m1/f.txt', 'file f');
    await dav.moveFile('/m1/f.txt', '/m1/g.txt');
    await expectGone('m1/f.txt');
    await expectFile('m1/g.txt', 'file f');
    await dav.moveFile('/m1/g.txt', '/m2/g.txt');
    await expectFile('m2/g.txt', 'file f');
    await dav.moveFile('/m2/g.txt', '/m1/h.txt');
    await expectFile('m1/h.txt', 'file f');
    await dav.createDirectory('/m1/inner');
    await dav.putFileContents('/m1/inner/deep.txt', 'deep');
    await dav.moveFile('/m1/inner', '/m2/renamed');
    await expectFolder('m2/renamed');
    await expectFile('m2/renamed/deep.txt', 'deep');
    await expectGone('m1/inner');
    // onto an existing target
    await dav.putFileContents('/m2/target.txt', 'old target');
    const refused = await call(t.url, 'MOVE', '/homes/alice/m1/h.txt', { basic: ['alice', DAV_PASSWORD], headers: { Destination: '/homes/alice/m2/target.txt', Overwrite: 'F' } });
    expect(refused.status).toBe(412);
    await expectFile('m2/target.txt', 'old target');
    const replaced = await call(t.url, 'MOVE', '/homes/alice/m1/h.txt', { basic: ['alice', DAV_PASSWORD], headers: { Destination: '/homes/alice/m2/target.txt' } });
    expect(replaced.status).toBe(204);
    await expectFile('m2/target.txt', 'file f');
    await expectGone('m1/h.txt');
  });

  it('COPY: a file and a folder tree, honouring Overwrite: F', async () => {
    await dav.createDirectory('/c1');
    await dav.createDirectory('/c1/sub');
    await dav.putFileContents('/c1/one.txt', 'one');
    await dav.putFileContents('/c1/sub/two.txt', 'two');
    await dav.copyFile('/c1/one.txt', '/c1/one-copy.txt');
    await expectFile('c1/one-copy.txt', 'one');
    await expectFile('c1/one.txt', 'one');
    await dav.copyFile('/c1', '/c2');
    await expectFile('c2/one.txt', 'one');
    await expectFile('c2/sub/two.txt', 'two');
    const refused = await call(t.url, 'COPY', '/homes/alice/c1/one.txt', { basic: ['alice', DAV_PASSWORD], headers: { Destination: '/homes/alice/c2/sub/two.txt', Overwrite: 'F' } });
    expect(refused.status).toBe(412);
    await expectFile('c2/sub/two.txt', 'two');
  });

  it('keeps names with #, ?, %, ;, spaces and non-ASCII intact through hrefs', async () => {
    const names = ['hash#1.txt', 'what?.txt', '100%.txt', 'semi;colon.txt', 'two words.txt', 'été ü ✓.txt'];
    await dav.createDirectory('/names');
    for (const name of names) await dav.putFileContents(`/names/${name}`, name);
    const listed = (await dav.getDirectoryContents('/names')) as { basename: string }[];
    expect(listed.map((e) => e.basename).sort()).toEqual([...names].sort());
    const raw = await call(t.url, 'PROPFIND', '/homes/alice/names/', { basic: ['alice', DAV_PASSWORD], headers: { Depth: '1' } });
    const hrefs = [...raw.text.matchAll(/<D:href>([^<]*)<\/D:href>/g)].map((m) => decodeURIComponent(m[1].split('/').filter(Boolean).pop()!));
    expect(hrefs.sort()).toEqual(['names', ...names].sort());
    for (const name of names) await expectFile(`names/${name}`, name);
  });

  it('leaves the old content and metadata when an upload is aborted', async () => {
    await dav.putFileContents('/keep.txt', 'precious');
    const before = (await lookup('keep.txt')).body;
    await abortedPut('/homes/alice/keep.txt', 1000, 'partial bytes');
    await abortedPut('/homes/alice/keep.txt', 1000, 'gone at once', 0); // before the server has even authenticated
    await new Promise((r) => setTimeout(r, 500));
    await expectFile('keep.txt', 'precious');
    expect((await lookup('keep.txt')).body.size).toBe(before.size);
    expect(readdirSync(homeDir()).filter((n) => n.startsWith('.strata-'))).toEqual([]);
  });

  it('refuses a name that only differs in case from one in the tree', async () => {
    await dav.putFileContents('/Case.txt', 'upper');
    mkdirSync(homeDir('zz'), { recursive: true });
    const res = await call(t.url, 'PUT', '/homes/alice/case.txt', { basic: ['alice', DAV_PASSWORD], body: 'lower' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(existsSync(homeDir('case.txt'))).toBe(false);
    await expectFile('Case.txt', 'upper');
  });
});

function basicHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** A request with the URL sent exactly as given (fetch would normalise it). */
function rawRequest(method: string, url: string, headers: Record<string, string>): Promise<{ status: number }> {
  const { port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      const lines = [`${method} ${url} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      if (!headers['Content-Length']) lines.push('Content-Length: 0');
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('end', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0) }));
    socket.on('error', reject);
  });
}

/** Sends part of a PUT body, then drops the connection. */
function abortedPut(url: string, declared: number, sent: string, afterMs = 200): Promise<void> {
  const { port } = new URL(t.url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      socket.write(`PUT ${url} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basicHeader('alice', DAV_PASSWORD)}\r\nContent-Length: ${declared}\r\n\r\n${sent}`);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, afterMs);
    });
    socket.on('error', () => resolve());
  });
}

void writeFileSync;
void ADMIN_PASSWORD;

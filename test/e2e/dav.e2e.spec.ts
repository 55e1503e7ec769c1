import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, promises as fsp, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ObjectId } from 'mongodb';
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

describe('remembered WebDAV logins (DavLoginCache) end at once in this process', () => {
  it('when the WebDAV password changes, the user is disabled, renamed or deleted, and after a failed login', async () => {
    const admin = await login(t.api, 'admin', ADMIN_PASSWORD);
    const { user, token } = await registerUser(t.api, 'cachedav', 'cachedav-account-1');
    const setPassword = (password: string) => call(t.api, 'PUT', '/homedirpass/set', { token, form: { password } });
    const propfind = (name: string, password: string) => call(t.url, 'PROPFIND', `/homes/${name}/`, { basic: [name, password], headers: { Depth: '0' } });
    expect((await setPassword('cachedav-pass-1')).status).toBe(200);
    // the second and third requests come from the cache
    for (let i = 0; i < 3; i++) expect((await propfind('cachedav', 'cachedav-pass-1')).status).toBe(207);

    // a new WebDAV password: the old one is refused at once
    expect((await setPassword('cachedav-pass-2')).status).toBe(200);
    expect((await propfind('cachedav', 'cachedav-pass-1')).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await propfind('cachedav', 'cachedav-pass-2')).status).toBe(207);

    // a write in the tree (the user's size changes) keeps the login working
    expect((await call(t.url, 'PUT', '/homes/cachedav/size.txt', { basic: ['cachedav', 'cachedav-pass-2'], body: 'grows' })).status).toBe(201);
    expect((await propfind('cachedav', 'cachedav-pass-2')).status).toBe(207);

    // disabled: refused at once, also for writes; enabled again: accepted
    expect((await call(t.api, 'PUT', `/user/${user._id}`, { token: admin, query: { status: 'disabled' } })).status).toBe(200);
    expect((await propfind('cachedav', 'cachedav-pass-2')).status).toBe(401);
    expect((await call(t.url, 'PUT', '/homes/cachedav/no.txt', { basic: ['cachedav', 'cachedav-pass-2'], body: 'no' })).status).toBe(401);
    expect(existsSync(path.join(t.dataDir, 'homes', 'cachedav', 'no.txt'))).toBe(false);
    expect((await call(t.api, 'PUT', `/user/${user._id}`, { token: admin, query: { status: 'enabled' } })).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await propfind('cachedav', 'cachedav-pass-2')).status).toBe(207);

    // renamed: the old login is refused at once, the new one reaches the moved home
    expect((await call(t.api, 'PUT', `/user/${user._id}`, { token: admin, query: { login: 'cachedav2' } })).status).toBe(200);
    expect((await propfind('cachedav', 'cachedav-pass-2')).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await propfind('cachedav2', 'cachedav-pass-2')).status).toBe(207);
    expect((await call(t.url, 'GET', '/homes/cachedav2/size.txt', { basic: ['cachedav2', 'cachedav-pass-2'] })).text).toBe('grows');

    // a failed login drops what was remembered for that login (its next request meets the throttle again)
    expect((await propfind('cachedav2', 'wrong-password')).status).toBe(401);
    expect((await propfind('cachedav2', 'cachedav-pass-2')).status).toBe(207);

    // deleted: refused at once
    expect((await call(t.api, 'DELETE', `/user/${user._id}`, { token: admin })).status).toBe(200);
    expect((await propfind('cachedav2', 'cachedav-pass-2')).status).toBe(401);
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
    ['a bad Destination path', 'COPY', '/homes/alice/mine.txt', { Destination: '/homes/alice/%E0%A4%A' }, 400],
  ])('%s', async (_what, method, url, headers, status) => {
    const res = await rawRequest(method, url, { Authorization: basicHeader('alice', DAV_PASSWORD), ...headers });
    expect(res.status).toBe(status);
    expect((await call(t.url, 'PROPFIND', '/homes/alice/', { ...auth(), headers: { Depth: '0' } })).status).toBe(207); // still serving
  });

  it('refuses a partial PUT without touching the file, new or existing', async () => {
    await dav.putFileContents('/whole.txt', 'the whole file');
    for (const name of ['whole.txt', 'partial-new.txt']) {
      const res = await call(t.url, 'PUT', `/homes/alice/${name}`, { ...auth(), body: 'XX', headers: { 'Content-Range': 'bytes 2-3/14' } });
      expect(res.status).toBe(400);
    }
    await expectFile('whole.txt', 'the whole file');
    await expectGone('partial-new.txt');
  });

  it('ends a request whose handling throws inside a library callback with a 500, and keeps serving', async () => {
    // A real server process (jest keeps uncaught errors to itself), with a preloaded stand-in for a
    // webdav-server bug: an error thrown asynchronously, outside any promise, while deleting boom.txt.
    const work = mkdtempSync(path.join(tmpdir(), 'strata-crash-'));
    const preload = path.join(work, 'provoke.js');
    writeFileSync(
      preload,
      `const { MappedFileSystem } = require(${JSON.stringify(path.resolve('dist/plugins/home-dirs/dav/mapped-file-system.js'))});
      const original = MappedFileSystem.prototype._delete;
      MappedFileSystem.prototype._delete = function (p, info, cb) {
        if (!String(p).endsWith('/boom.txt')) return original.call(this, p, info, cb);
        setImmediate(() => { throw new Error('provoked by the test'); });
      };`,
    );
    const dbName = `crash_${Date.now().toString(36)}`;
    const child = spawn(process.execPath, ['--require', preload, 'dist/main.js'], {
      env: { ...process.env, DATA_DIR: work, PORT: '0', MONGO_URI: process.env.TEST_MONGO_URI, MONGO_DB: dbName, ADMIN_PASSWORD, BCRYPT_ROUNDS: '4', LOG_LEVEL: 'error' },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', () => {
          const m = /Strata is running on (http:\/\/[\d.:]+)/.exec(output);
          if (m) resolve(m[1]);
        });
        child.on('exit', () => reject(new Error(`the server exited: ${output}`)));
      });
      const bob = await registerUser(`${url}/api/v1`, 'crashbob', 'crashbob-account-1');
      await call(`${url}/api/v1`, 'PUT', '/homedirpass/set', { token: bob.token, form: { password: 'crashbob-dav' } });
      const auth = { basic: ['crashbob', 'crashbob-dav'] as [string, string] };
      expect((await call(url, 'PUT', '/homes/crashbob/boom.txt', { ...auth, body: 'boom' })).status).toBe(201);
      expect((await call(url, 'DELETE', '/homes/crashbob/boom.txt', auth)).status).toBe(500);
      expect((await call(url, 'PROPFIND', '/homes/crashbob/boom.txt', { ...auth, headers: { Depth: '0' } })).status).toBe(207);
      expect((await call(url, 'PUT', '/homes/crashbob/other.txt', { ...auth, body: 'still serving' })).status).toBe(201);
      expect(child.exitCode).toBeNull();
      expect(output).toContain('provoked by the test');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
      await t.db.client.db(dbName).dropDatabase().catch(() => {});
      rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);

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

describe('properties: PROPFIND and PROPPATCH', () => {
  const auth = (): { basic: [string, string] } => ({ basic: ['alice', DAV_PASSWORD] });
  const Z = 'http://example.com/z/';
  const propfind = (p: string, depth: string, body?: string) => call(t.url, 'PROPFIND', `/homes/alice${p}`, { ...auth(), body, headers: { Depth: depth, 'Content-Type': 'application/xml' } });
  const proppatch = (p: string, inner: string) =>
    call(t.url, 'PROPPATCH', `/homes/alice${p}`, {
      ...auth(),
      body: `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="${Z}">${inner}</D:propertyupdate>`,
      headers: { 'Content-Type': 'application/xml' },
    });
  const set = (props: string) => `<D:set><D:prop>${props}</D:prop></D:set>`;
  const remove = (props: string) => `<D:remove><D:prop>${props}</D:prop></D:remove>`;
  /** The responses of a multistatus, by href: the XML of each propstat, by status code. */
  const parse = (xml: string) =>
    new Map(
      [...xml.matchAll(/<D:response><D:href>([^<]*)<\/D:href>(.*?)<\/D:response>/gs)].map((m) => [
        decodeURIComponent(m[1]),
        Object.fromEntries([...m[2].matchAll(/<D:propstat><D:prop>(.*?)<\/D:prop><D:status>HTTP\/1\.1 (\d+)[^<]*<\/D:status><\/D:propstat>/gs)].map((p) => [p[2], p[1]])),
      ]),
    );
  const zProps = { 'Z:color': 'red', 'Z:size': '42' };
  const zXml = Object.entries(zProps).map(([k, v]) => `<${k}>${v}</${k}>`).join('');

  it('refuses malformed XML and invalid namespace declarations with 400', async () => {
    await dav.putFileContents('/xml.txt', 'x');
    const bad = [
      '<foo>',
      '<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>',
      '<D:propfind xmlns:D="DAV:"><D:prop><Q:foo/></D:prop></D:propfind>',
      '<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind><extra/>',
      '<D:propfind xmlns:D="DAV:"><D:prop>&nbsp;</D:prop></D:propfind>',
      '<!DOCTYPE x [<!ENTITY a "b">]><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>',
      '<propfind xmlns="urn:not-dav"><allprop/></propfind>',
    ];
    for (const body of bad) expect({ body, status: (await propfind('/xml.txt', '0', body)).status }).toEqual({ body, status: 400 });
    expect((await proppatch('/xml.txt', '<D:set><D:prop><Z:a>x</D:prop></D:set>')).status).toBe(400);
    expect((await proppatch('/xml.txt', '')).status).toBe(400);
    // not UTF-8
    const latin1 = await call(t.url, 'PROPFIND', '/homes/alice/xml.txt', { ...auth(), body: Buffer.from([0x3c, 0x61, 0xe9, 0x2f, 0x3e]), headers: { Depth: '0' } });
    expect(latin1.status).toBe(400);
    // an unknown element beside allprop is fine, and so is a chunked body
    expect((await propfind('/xml.txt', '0', '<?xml version="1.0"?><propfind xmlns="DAV:"><foobar/><allprop/></propfind>')).status).toBe(207);
    const body = '<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>';
    const chunked = await rawRequest('PROPFIND', '/homes/alice/xml.txt', { Authorization: basicHeader('alice', DAV_PASSWORD), Depth: '0', 'Transfer-Encoding': 'chunked' }, `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
    expect(chunked.status).toBe(207);
    expect(chunked.text).toContain('<D:getetag>');
  });

  it('sets and removes dead properties in document order, keeping namespaces and values exactly', async () => {
    await dav.putFileContents('/props-a.txt', 'a');
    const values = `${zXml}<Z:high>&#65536;</Z:high><plain xmlns="">no namespace</plain><Z:tree><inner xmlns="urn:other" Z:att="1">x &amp; y</inner></Z:tree>`;
    const patched = await proppatch('/props-a.txt', set(values) + remove('<Z:size/>') + set('<Z:size>43</Z:size>') + set('<Z:gone>1</Z:gone>') + remove('<Z:gone/>'));
    expect(patched.status).toBe(207);
    expect(Object.keys(parse(patched.text).get('/homes/alice/props-a.txt')!)).toEqual(['200']);
    const all = parse((await propfind('/props-a.txt', '0')).text).get('/homes/alice/props-a.txt')!;
    expect(Object.keys(all)).toEqual(['200']);
    expect(all['200']).toContain(`<color xmlns="${Z}">red</color>`);
    expect(all['200']).toContain(`<size xmlns="${Z}">43</size>`);
    expect(all['200']).toContain(`<high xmlns="${Z}">\u{10000}</high>`);
    expect(all['200']).toContain('<plain xmlns="">no namespace</plain>');
    expect(all['200']).toContain(`<tree xmlns="${Z}"><inner xmlns="urn:other" xmlns:a0="${Z}" a0:att="1">x &amp; y</inner></tree>`);
    expect(all['200']).not.toContain('gone');
    // named: found ones in a 200 propstat, unknown ones in a 404 propstat
    const named = await propfind('/props-a.txt', '0', `<D:propfind xmlns:D="DAV:" xmlns:Z="${Z}"><D:prop><Z:color/><Z:nothing/><D:getcontentlength/></D:prop></D:propfind>`);
    const stats = parse(named.text).get('/homes/alice/props-a.txt')!;
    expect(stats['200']).toBe(`<color xmlns="${Z}">red</color><D:getcontentlength>1</D:getcontentlength>`);
    expect(stats['404']).toBe(`<nothing xmlns="${Z}"/>`);
    // propname lists live and dead names without values
    const names = parse((await propfind('/props-a.txt', '0', '<propfind xmlns="DAV:"><propname/></propfind>')).text).get('/homes/alice/props-a.txt')!;
    expect(names['200']).toContain('<D:getetag/>');
    expect(names['200']).toContain(`<color xmlns="${Z}"/>`);
    expect(names['200']).toContain('<plain xmlns=""/>');
    // stored once, by node, in the database
    const item = (await lookup('props-a.txt')).body;
    const docs = await t.db.collection('dav_prop').find({ _id: oid(item._id) }).toArray();
    expect(docs).toHaveLength(1);
  });

  it('is all or nothing: a protected live property fails with 403 and the rest with 424', async () => {
    await dav.putFileContents('/props-b.txt', 'b');
    expect((await proppatch('/props-b.txt', set('<Z:keep>1</Z:keep>'))).status).toBe(207);
    const res = await proppatch('/props-b.txt', set('<Z:new>2</Z:new><D:getcontentlength>99</D:getcontentlength>') + remove('<Z:keep/>'));
    expect(res.status).toBe(207);
    const stats = parse(res.text).get('/homes/alice/props-b.txt')!;
    expect(stats['403']).toBe('<getcontentlength xmlns="DAV:"/>');
    expect(stats['424']).toBe(`<new xmlns="${Z}"/><keep xmlns="${Z}"/>`);
    const after = parse((await propfind('/props-b.txt', '0')).text).get('/homes/alice/props-b.txt')!['200'];
    expect(after).toContain(`<keep xmlns="${Z}">1</keep>`);
    expect(after).not.toContain('<new');
    expect(after).toContain('<D:getcontentlength>1</D:getcontentlength>');
    for (const live of ['resourcetype', 'getetag', 'getlastmodified', 'creationdate', 'lockdiscovery', 'supportedlock', 'displayname', 'getcontenttype']) {
      expect(parse((await proppatch('/props-b.txt', set(`<D:${live}>x</D:${live}>`))).text).get('/homes/alice/props-b.txt')!['403']).toBeDefined();
    }
  });

  it('live properties agree with the disk and the tree', async () => {
    await dav.createDirectory('/live');
    await dav.putFileContents('/live/data.json', '{"a": 1}');
    const listing = parse((await propfind('/live/', '1')).text);
    expect([...listing.keys()]).toEqual(['/homes/alice/live/', '/homes/alice/live/data.json']);
    const folder = listing.get('/homes/alice/live/')!['200'];
    expect(folder).toContain('<D:resourcetype><D:collection/></D:resourcetype>');
    expect(folder).not.toContain('getcontentlength');
    const file = listing.get('/homes/alice/live/data.json')!['200'];
    const value = (name: string) => new RegExp(`<D:${name}>([^<]*)</D:${name}>`).exec(file)?.[1];
    const rest = (await lookup('live/data.json')).body;
    const stat = await fsp.stat(homeDir('live', 'data.json'));
    expect(Number(value('getcontentlength'))).toBe(rest.size);
    expect(value('getcontenttype')).toBe('application/json');
    expect(value('displayname')).toBe('data.json');
    expect(new Date(value('getlastmodified')!).getTime()).toBe(Math.floor(stat.mtimeMs / 1000) * 1000);
    expect(Number.isNaN(Date.parse(value('creationdate')!))).toBe(false);
    expect(file).toContain('<D:resourcetype/>');
    expect(file).toContain('<D:lockentry><D:lockscope><D:exclusive/></D:lockscope>');
    // the ETag is GET's
    const get = await call(t.url, 'GET', '/homes/alice/live/data.json', auth());
    expect(value('getetag')!.replace(/&quot;/g, '"')).toBe(get.headers.get('etag'));
    // Depth 0 of a folder is the folder alone
    expect([...parse((await propfind('/live/', '0')).text).keys()]).toEqual(['/homes/alice/live/']);
  });

  it('carries dead properties with the node: MOVE (and a REST rename) keep them, COPY copies them, DELETE drops them', async () => {
    await dav.createDirectory('/pm');
    await dav.createDirectory('/pm/sub');
    await dav.putFileContents('/pm/sub/f.txt', 'f');
    await proppatch('/pm/', set('<Z:level>top</Z:level>'));
    await proppatch('/pm/sub/f.txt', set('<Z:level>leaf</Z:level>'));
    const level = async (p: string) => /<level xmlns="[^"]*">([^<]*)<\/level>/.exec((await propfind(p, '0')).text)?.[1] ?? null;

    expect((await call(t.url, 'MOVE', '/homes/alice/pm/sub/f.txt', { ...auth(), headers: { Destination: '/homes/alice/pm/sub/g.txt' } })).status).toBe(201);
    expect(await level('/pm/sub/g.txt')).toBe('leaf');
    const item = (await lookup('pm/sub/g.txt')).body;
    expect((await call(t.api, 'PUT', `/item/${item._id}`, { token: alice.token, query: { name: 'h.txt' } })).status).toBe(200);
    expect(await level('/pm/sub/h.txt')).toBe('leaf');
    const listing = parse((await propfind('/pm/sub/', '1')).text);
    expect(listing.get('/homes/alice/pm/sub/h.txt')!['200']).toContain('leaf');

    expect((await call(t.url, 'COPY', '/homes/alice/pm', { ...auth(), headers: { Destination: '/homes/alice/pm-copy' } })).status).toBe(201);
    expect(await level('/pm-copy/')).toBe('top');
    expect(await level('/pm-copy/sub/h.txt')).toBe('leaf');
    expect(await t.db.collection('dav_prop').countDocuments({ 'props.http%3A%2F%2Fexample%2Ecom%2Fz%2F|level': { $exists: true } })).toBe(4);
    // the copy has its own: changing it leaves the original alone
    await proppatch('/pm-copy/sub/h.txt', set('<Z:level>copied</Z:level>'));
    expect(await level('/pm/sub/h.txt')).toBe('leaf');

    // overwriting a target replaces its properties with the source's
    await dav.putFileContents('/pm/other.txt', 'o');
    await proppatch('/pm/other.txt', set('<Z:level>other</Z:level><Z:only>o</Z:only>'));
    expect((await call(t.url, 'MOVE', '/homes/alice/pm/sub/h.txt', { ...auth(), headers: { Destination: '/homes/alice/pm/other.txt' } })).status).toBe(204);
    expect(await level('/pm/other.txt')).toBe('leaf');
    expect((await propfind('/pm/other.txt', '0')).text).not.toContain('<only');

    const ids = [(await lookup('pm')).body._id, (await lookup('pm/other.txt')).body._id].map(oid);
    expect(await t.db.collection('dav_prop').countDocuments({ _id: { $in: ids } })).toBe(2);
    expect((await call(t.url, 'DELETE', '/homes/alice/pm', auth())).status).toBeLessThan(300);
    expect(await t.db.collection('dav_prop').countDocuments({ _id: { $in: ids } })).toBe(0);
    // a new resource at the same path starts without properties
    await dav.createDirectory('/pm');
    expect(await level('/pm/')).toBeNull();
  });

  it('lists a folder of many entries, dead properties included', async () => {
    await dav.createDirectory('/many');
    for (let i = 0; i < 700; i++) writeFileSync(homeDir('many', `f${String(i).padStart(4, '0')}.txt`), `file ${i}`);
    await dav.putFileContents('/many/marked.txt', 'm');
    await proppatch('/many/marked.txt', set('<Z:mark>yes</Z:mark>'));
    const listing = parse((await propfind('/many/', '1')).text);
    expect(listing.size).toBe(702);
    expect(listing.get('/homes/alice/many/f0699.txt')!['200']).toContain('<D:getcontentlength>8</D:getcontentlength>');
    expect([...listing].filter(([, stats]) => stats['200'].includes('<mark')).map(([href]) => href)).toEqual(['/homes/alice/many/marked.txt']);
    const named = parse((await propfind('/many/', '1', '<propfind xmlns="DAV:"><prop><getcontentlength/></prop></propfind>')).text);
    expect(named.size).toBe(702);
    expect(named.get('/homes/alice/many/')!['404']).toBe('<getcontentlength xmlns="DAV:"/>');
  });
});

describe('GET and HEAD with byte ranges', () => {
  const auth = (): { basic: [string, string] } => ({ basic: ['alice', DAV_PASSWORD] });
  const content = '0123456789abcdefghij'; // 20 bytes
  const get = (range?: string, method = 'GET', extra: Record<string, string> = {}) =>
    call(t.url, method, '/homes/alice/ranged.txt', { ...auth(), headers: { ...(range ? { Range: range } : {}), ...extra } });

  beforeAll(async () => {
    await dav.putFileContents('/ranged.txt', content);
  });

  it.each([
    ['bytes=0-4', 206, '01234', 'bytes 0-4/20'],
    ['bytes=15-', 206, 'fghij', 'bytes 15-19/20'],
    ['bytes=-3', 206, 'hij', 'bytes 17-19/20'],
    ['bytes=-50', 206, content, 'bytes 0-19/20'],
    ['bytes=18-100', 206, 'ij', 'bytes 18-19/20'],
    ['bytes=20-', 416, '', 'bytes */20'],
    ['bytes=-0', 416, '', 'bytes */20'],
    ['bytes=5-2', 200, content, null],
    ['bytes=abc', 200, content, null],
    ['chars=0-4', 200, content, null],
    ['bytes=0-1,4-5', 200, content, null],
  ])('Range: %s → %i', async (range, status, body, contentRange) => {
    const res = await get(range);
    expect({ status: res.status, body: res.text, contentRange: res.headers.get('content-range') }).toEqual({ status, body, contentRange });
    if (status !== 416) expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    const head = await get(range, 'HEAD');
    for (const h of ['content-range', 'content-length', 'etag', 'last-modified', 'content-type', 'accept-ranges']) expect([h, head.headers.get(h)]).toEqual([h, res.headers.get(h)]);
    expect(head.status).toBe(status);
    expect(head.text).toBe('');
  });

  it('reads from the offset, not from byte 0', async () => {
    // a small file is read in one call (a big one streamed from `start` with fs.read): the read asks for bytes 12-13 only
    const nodeFs = jest.requireActual<typeof import('node:fs')>('node:fs');
    const spy = jest.spyOn(nodeFs, 'readSync');
    try {
      expect((await get('bytes=12-13')).text).toBe('cd');
      expect(spy).toHaveBeenCalledWith(expect.any(Number), expect.anything(), 0, 2, 12);
      expect(spy).not.toHaveBeenCalledWith(expect.any(Number), expect.anything(), expect.anything(), expect.anything(), 0);
    } finally {
      spy.mockRestore();
    }
  });

  it('streams a big file whole, and a range of it that crosses read chunks', async () => {
    const big = Array.from({ length: 400_000 }, (_, i) => `${String(i).padStart(7, '0')}\n`).join(''); // 3.2 MB
    await dav.putFileContents('/big-ranged.txt', big);
    const whole = await call(t.url, 'GET', '/homes/alice/big-ranged.txt', auth());
    expect({ status: whole.status, length: whole.text.length, same: whole.text === big }).toEqual({ status: 200, length: big.length, same: true });
    const [start, end] = [1024 * 1024 - 5, 2 * 1024 * 1024 + 6];
    const part = await call(t.url, 'GET', '/homes/alice/big-ranged.txt', { ...auth(), headers: { Range: `bytes=${start}-${end}` } });
    expect({ status: part.status, range: part.headers.get('content-range'), same: part.text === big.slice(start, end + 1) }).toEqual({ status: 206, range: `bytes ${start}-${end}/${big.length}`, same: true });
    const head = await call(t.url, 'HEAD', '/homes/alice/big-ranged.txt', auth());
    expect({ status: head.status, length: head.headers.get('content-length'), text: head.text }).toEqual({ status: 200, length: String(big.length), text: '' });
  });

  it('closes the file of a download the client leaves midway', async () => {
    // this process's descriptors open on the file (the test server runs in this process)
    const openFiles = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).endsWith('big-ranged.txt');
        } catch {
          return false; // closed meanwhile
        }
      }).length;
    const authorization = `Basic ${Buffer.from(`alice:${DAV_PASSWORD}`).toString('base64')}`;
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = http.get(`${t.url}/homes/alice/big-ranged.txt`, { headers: { authorization } }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (err) => (req.destroyed ? resolve() : reject(err)));
      });
    }
    for (let i = 0; i < 50 && openFiles() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(openFiles()).toBe(0);
    expect((await call(t.url, 'HEAD', '/homes/alice/big-ranged.txt', auth())).status).toBe(200); // still serving
  });

  it('ignores a Range whose If-Range no longer matches, and serves a whole file with its validators', async () => {
    const whole = await get();
    expect(whole.status).toBe(200);
    expect(whole.text).toBe(content);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    const etag = whole.headers.get('etag')!;
    expect((await get('bytes=0-1', 'GET', { 'If-Range': etag })).status).toBe(206);
    expect((await get('bytes=0-1', 'GET', { 'If-Range': '"stale"' })).status).toBe(200);
    await dav.putFileContents('/empty.txt', '');
    const empty = await call(t.url, 'GET', '/homes/alice/empty.txt', auth());
    expect({ status: empty.status, length: empty.headers.get('content-length') }).toEqual({ status: 200, length: '0' });
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
    await dav.putFileContents('/keep.txt', 'first');
    await dav.putFileContents('/keep.txt', 'precious'); // an overwrite: the old file's second name goes too
    const before = (await lookup('keep.txt')).body;
    await abortedPut('/homes/alice/keep.txt', 1000, 'partial bytes');
    await abortedPut('/homes/alice/keep.txt', 1000, 'gone at once', 0); // before the server has even authenticated
    await abortedPut('/homes/alice/keep.txt', 4 << 20, randomBytes(5 << 19)); // after more than a buffer's worth reached the disk
    await new Promise((r) => setTimeout(r, 500));
    await expectFile('keep.txt', 'precious');
    expect((await lookup('keep.txt')).body.size).toBe(before.size);
    expect(readdirSync(homeDir()).filter((n) => n.startsWith('.strata-'))).toEqual([]);
  });

  it('records a new file whose upload was aborted as empty, on disk and in the tree', async () => {
    await abortedPut('/homes/alice/aborted-new.txt', 1000, 'partial bytes');
    await new Promise((r) => setTimeout(r, 500));
    await expectFile('aborted-new.txt', '');
    expect(readdirSync(homeDir()).filter((n) => n.startsWith('.strata-'))).toEqual([]);
  });

  it('keeps every size exact through nested and concurrent PUT, overwrite, MOVE and DELETE', async () => {
    const admin = await login(t.api, 'admin', ADMIN_PASSWORD);
    const sizes = async (p: string) => {
      const f = (await call(t.api, 'GET', `/folder/${(await lookup(p)).body._id}`, { token: alice.token })).body;
      return [f.size, f.sizeRecursive];
    };
    for (const d of ['/sz', '/sz/a', '/sz/a/b', '/sz/c']) await dav.createDirectory(d);
    await dav.putFileContents('/sz/a/b/one.txt', '12345');
    await dav.putFileContents('/sz/a/two.txt', '1234567890');
    expect(await sizes('sz/a')).toEqual([10, 15]);
    await dav.putFileContents('/sz/a/b/one.txt', '123'); // overwrite, smaller
    await dav.moveFile('/sz/a/b/one.txt', '/sz/c/moved.txt');
    await dav.moveFile('/sz/a/b', '/sz/c/b');
    await dav.putFileContents('/sz/c/b/three.txt', '1234');
    await dav.deleteFile('/sz/a/two.txt');
    expect([await sizes('sz'), await sizes('sz/a'), await sizes('sz/c'), await sizes('sz/c/b')]).toEqual([[0, 7], [0, 0], [3, 7], [4, 4]]);
    // concurrent writers in two folders: new files, then over them
    for (const round of [1, 2]) {
      const puts = await Promise.all(
        Array.from({ length: 12 }, (_, i) => call(t.url, 'PUT', `/homes/alice/sz/${i % 2 ? 'a' : 'c/b'}/par-${i}.txt`, { basic: ['alice', DAV_PASSWORD], body: 'x'.repeat(i * round + 1) })),
      );
      expect(puts.map((r) => r.status)).toEqual(Array(12).fill(round === 1 ? 201 : 200));
    }
    const home = (await call(t.api, 'GET', '/folder', { token: alice.token, query: { parentType: 'user', parentId: alice.user._id, name: 'Home' } })).body[0];
    const me = (await call(t.api, 'GET', '/user/me', { token: alice.token })).body;
    const check = await call(t.api, 'PUT', '/system/check', { token: admin });
    expect(check.body).toEqual({ itemsFixed: 0, foldersFixed: 0, rootsFixed: 0, namesReleased: 0, namesAdded: 0 });
    // what the server showed before the check is what the check found
    expect((await call(t.api, 'GET', `/folder/${home._id}`, { token: alice.token })).body.sizeRecursive).toBe(home.sizeRecursive);
    expect((await call(t.api, 'GET', '/user/me', { token: alice.token })).body.size).toBe(me.size);
  });

  it('keeps the tree and the disk agreeing when PUTs of one file race', async () => {
    await dav.putFileContents('/raced.txt', 'x');
    for (let round = 0; round < 15; round++) {
      // bodies of different sizes, so that the size in the tree tells whose write it recorded
      const bodies = ['a'.repeat(1000 + round), 'b'.repeat(5000 + round), 'c'.repeat(20_000 + round)];
      await Promise.all(bodies.map((b) => dav.putFileContents('/raced.txt', b)));
      const onDisk = readFileSync(homeDir('raced.txt'), 'utf8');
      expect(bodies).toContain(onDisk);
      expect({ round, size: (await lookup('raced.txt')).body.size }).toEqual({ round, size: onDisk.length });
    }
  });

  it('keeps the tree and the disk agreeing when a PUT races a DELETE or a MOVE of the same file', async () => {
    const agree = async (name: string, round: number) => {
      const disk = existsSync(homeDir(name)) ? readFileSync(homeDir(name), 'utf8') : null;
      const tree = await lookup(name);
      expect({ round, name, size: tree.status === 200 ? tree.body.size : null }).toEqual({ round, name, size: disk === null ? null : disk.length });
    };
    for (let round = 0; round < 10; round++) {
      await dav.putFileContents('/contested.txt', 'x');
      await Promise.allSettled([dav.putFileContents('/contested.txt', 'y'.repeat(3000 + round)), dav.deleteFile('/contested.txt')]);
      await agree('contested.txt', round);
      await dav.putFileContents('/contested.txt', 'x');
      await Promise.allSettled([dav.putFileContents('/contested.txt', 'z'.repeat(4000 + round)), dav.moveFile('/contested.txt', '/moved-away.txt')]);
      await agree('contested.txt', round);
      await agree('moved-away.txt', round);
      await dav.deleteFile('/moved-away.txt').catch(() => {});
    }
  });

  it('adopts the item the tree holds for a file the disk lost, when a PUT writes it again', async () => {
    await dav.putFileContents('/lost.txt', 'first');
    const before = (await lookup('lost.txt')).body;
    rmSync(homeDir('lost.txt'));
    expect((await call(t.url, 'PUT', '/homes/alice/lost.txt', { basic: ['alice', DAV_PASSWORD], body: 'second' })).status).toBe(201);
    await expectFile('lost.txt', 'second');
    expect((await lookup('lost.txt')).body._id).toBe(before._id);
    expect((await call(t.api, 'GET', `/item/${before._id}/files`, { token: alice.token })).body).toHaveLength(1);
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

/** A request with the URL and body sent exactly as given (fetch would normalise them). */
function rawRequest(method: string, url: string, headers: Record<string, string>, body = ''): Promise<{ status: number; text: string }> {
  const { port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      const lines = [`${method} ${url} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      if (!headers['Content-Length'] && !headers['Transfer-Encoding']) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    });
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('end', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0), text: data }));
    socket.on('error', reject);
  });
}

function oid(id: string): ObjectId {
  return new ObjectId(id);
}

/** Sends part of a PUT body, then drops the connection. */
function abortedPut(url: string, declared: number, sent: string | Buffer, afterMs = 200): Promise<void> {
  const { port } = new URL(t.url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      socket.write(`PUT ${url} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basicHeader('alice', DAV_PASSWORD)}\r\nContent-Length: ${declared}\r\n\r\n`);
      socket.write(sent);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, afterMs);
    });
    socket.on('error', () => resolve());
  });
}


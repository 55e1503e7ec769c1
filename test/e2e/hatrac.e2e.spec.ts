/**
 * Hatrac's versioned object API at /hatrac, walked end to end against ../shared/reference/hatrac.md
 * with a real server. Requests go out with the path exactly as written here (node:http, or a raw
 * socket where even node:http would refuse the bytes), so percent-escapes, `;` and `:` reach the
 * server untouched. Every answer is checked to be below 500: an expected refusal is never a 5xx.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { ObjectId } from 'mongodb';
import { call, login, registerUser } from '../support/http';
import { ADMIN_PASSWORD, startTestServer, TestServer } from '../support/server';

jest.setTimeout(120_000);

// ---------------------------------------------------------------------------------------------
// HTTP with raw paths

type Auth = { token?: string; bearer?: string; cookie?: string; basic?: [string, string] } | null;

interface Res {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  text: string;
  json: any;
}

interface ReqOpts {
  as?: Auth;
  headers?: Record<string, string>;
  body?: Buffer | string;
  json?: unknown;
  /** send the body with Transfer-Encoding: chunked instead of Content-Length */
  chunked?: boolean;
}

function authHeaders(as: Auth | undefined): Record<string, string> {
  const h: Record<string, string> = {};
  if (!as) return h;
  if (as.token) h['Girder-Token'] = as.token;
  if (as.bearer) h.Authorization = `Bearer ${as.bearer}`;
  if (as.basic) h.Authorization = `Basic ${Buffer.from(`${as.basic[0]}:${as.basic[1]}`, 'utf8').toString('base64')}`;
  if (as.cookie) h.Cookie = as.cookie;
  return h;
}

function parseJson(text: string): any {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** 501 is the reference's answer to unsupported ranges; every other 5xx is a failure. */
function check5xx(method: string, p: string, res: Res): Res {
  if (res.status >= 500 && res.status !== 501) throw new Error(`${method} ${p} answered ${res.status} (never expected): ${res.text.slice(0, 500)}`);
  return res;
}

/** One request with `rawPath` sent exactly as given. */
function request(base: string, method: string, rawPath: string, opts: ReqOpts = {}): Promise<Res> {
  const u = new URL(base);
  const headers: Record<string, string> = { ...authHeaders(opts.as), ...opts.headers };
  let body: Buffer | undefined = opts.body === undefined ? undefined : Buffer.from(opts.body);
  if (opts.json !== undefined) {
    body = Buffer.from(JSON.stringify(opts.json));
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
  }
  if (opts.chunked) headers['Transfer-Encoding'] = 'chunked';
  else if (body !== undefined) headers['Content-Length'] = String(body.length);
  return new Promise<Res>((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: Number(u.port), method, path: rawPath, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        const text = buf.toString('utf8');
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v;
        try {
          resolve(check5xx(method, rawPath, { status: res.statusCode ?? 0, headers: h, body: buf, text, json: parseJson(text) }));
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
    if (body !== undefined && body.length) req.write(body);
    req.end();
  });
}

function parseRawResponse(buf: Buffer): Res {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error(`incomplete response: ${JSON.stringify(buf.toString('latin1').slice(0, 200))}`);
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = headers[k] ? `${headers[k]}, ${v}` : v;
  }
  let rest = buf.subarray(headEnd + 4);
  let body = rest;
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = [];
    for (;;) {
      const eol = rest.indexOf('\r\n');
      if (eol < 0) break;
      const n = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
      if (!n) break;
      parts.push(rest.subarray(eol + 2, eol + 2 + n));
      rest = rest.subarray(eol + 2 + n + 2);
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    body = rest.subarray(0, Number(headers['content-length']));
  }
  const text = body.toString('utf8');
  return { status, headers, body, text, json: parseJson(text) };
}

/**
 * Writes `head` (and `body`) on a fresh socket, half-closes it when `end` is set, and reads the
 * answer until the server closes the connection (the head asks for Connection: close). For
 * requests node:http cannot send. A half-close tells the server the body ends here; node's HTTP
 * server drops a complete request whose client half-closes before the answer, so complete
 * requests keep the socket open (`end` false).
 */
function rawExchange(base: string, head: Buffer, body?: Buffer, end = true): Promise<Res | null> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: u.hostname, port: Number(u.port) }, () => {
      socket.write(head);
      if (body) socket.write(body);
      if (end) socket.end();
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      const buf = Buffer.concat(chunks);
      if (!buf.length) return resolve(null);
      try {
        resolve(parseRawResponse(buf));
      } catch (e) {
        reject(e);
      }
    });
    socket.setTimeout(60_000, () => socket.destroy());
  });
}

function rawHead(method: string, rawPath: string | Buffer, headers: Record<string, string>): Buffer {
  const lines = Object.entries({ Host: 'localhost', Connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}`);
  return Buffer.concat([Buffer.from(`${method} `), Buffer.from(rawPath), Buffer.from(` HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`, 'latin1')]);
}

/**
 * Sends `total` bytes of zeros behind a declared Content-Length, but stops as soon as the server
 * answers (a server may refuse a large body from its headers alone). Returns the answer.
 */
function streamingPut(base: string, rawPath: string, total: number, headers: Record<string, string>): Promise<Res> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let sent = 0;
    let answered = false;
    const block = Buffer.alloc(1 << 20);
    const socket = net.connect({ host: u.hostname, port: Number(u.port) });
    const finish = () => {
      const buf = Buffer.concat(chunks);
      try {
        resolve(parseRawResponse(buf));
      } catch (e) {
        reject(e);
      }
    };
    const pump = () => {
      while (!answered && sent < total) {
        const n = Math.min(block.length, total - sent);
        sent += n;
        if (!socket.write(n === block.length ? block : block.subarray(0, n))) return socket.once('drain', pump);
      }
    };
    socket.on('connect', () => {
      socket.write(rawHead('PUT', rawPath, { ...headers, 'Content-Length': String(total) }));
      pump();
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const buf = Buffer.concat(chunks);
      const headEnd = buf.indexOf('\r\n\r\n');
      if (headEnd >= 0 && !answered) {
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(buf.subarray(0, headEnd).toString('latin1'));
        if (!cl || buf.length >= headEnd + 4 + Number(cl[1])) {
          answered = true;
          socket.destroy();
          finish();
        }
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (!answered) {
        answered = true;
        if (chunks.length) finish();
        else reject(new Error(`connection closed without an answer after ${sent} bytes`));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Hatrac helpers

const P = '/hatrac';
const NS_TYPE = 'application/x-hatrac-namespace';

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest();
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();
const b64 = (d: Buffer) => d.toString('base64');
const hex = (d: Buffer) => d.toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Strips an origin from a Location value, so `http://host/hatrac/x` and `/hatrac/x` compare alike. */
const pathOf = (loc: string | undefined) => (loc ?? '').replace(/^https?:\/\/[^/]+/, '');

function versionOf(res: Res): string {
  const line = res.text.trim().split('\n')[0];
  const m = /:([^:/;]+)$/.exec(line);
  if (!m) throw new Error(`no version URL in ${JSON.stringify(res.text)}`);
  return m[1];
}

let t: TestServer;
let admin: Auth;
let owner: Auth;
let other: Auth;
let member: Auth;
const anon: Auth = null;
let ownerToken: string;
let otherToken: string;
let adminToken: string;

/** A request to `/hatrac` + `p` on the main server. */
const H = (method: string, p: string, opts: ReqOpts = {}) => request(t.url, method, P + p, opts);

function expectDenied(res: Res, as: Auth) {
  expect(res.status).toBe(as ? 403 : 401);
}

async function mkns(p: string, as: Auth = owner, query = '') {
  const res = await H('PUT', p + query, { as, headers: { 'Content-Type': NS_TYPE } });
  if (res.status !== 201) throw new Error(`mkns ${p}: ${res.status} ${res.text}`);
  return res;
}

async function put(p: string, body: string | Buffer, as: Auth = owner, headers: Record<string, string> = {}) {
  const res = await H('PUT', p, { as, body, headers: { 'Content-Type': 'application/octet-stream', ...headers } });
  if (res.status !== 201) throw new Error(`put ${p}: ${res.status} ${res.text}`);
  return versionOf(res);
}

async function setAcl(p: string, acl: string, roles: string[], as: Auth = owner) {
  const res = await H('PUT', `${p};acl/${acl}`, { as, json: roles });
  if (res.status !== 204) throw new Error(`acl ${p};acl/${acl}: ${res.status} ${res.text}`);
}

async function job(p: string, spec: Record<string, unknown>, as: Auth = owner, query = '') {
  const res = await H('POST', `${p};upload${query}`, { as, json: spec });
  if (res.status !== 201) throw new Error(`job ${p}: ${res.status} ${res.text}`);
  const url = res.text.trim();
  return { res, url, id: url.split('/').pop()! };
}

beforeAll(async () => {
  t = await startTestServer({ HATRAC_ROOT_OWNERS: 'howner' });
  adminToken = await login(t.api, 'admin', ADMIN_PASSWORD);
  admin = { token: adminToken };
  const o = await registerUser(t.api, 'howner');
  const x = await registerUser(t.api, 'hother');
  const m = await registerUser(t.api, 'hmember');
  ownerToken = o.token;
  otherToken = x.token;
  owner = { token: o.token };
  other = { token: x.token };
  const group = await call(t.api, 'POST', '/group', { token: adminToken, query: { name: 'lab members' } });
  expect(group.status).toBe(200);
  expect((await call(t.api, 'POST', `/group/${group.body._id}/member`, { token: adminToken, query: { userId: m.user._id } })).status).toBe(200);
  member = { token: await login(t.api, 'hmember', 'password-1') };
});
afterAll(() => t?.close());

// ---------------------------------------------------------------------------------------------

describe('namespaces', () => {
  it('creates namespaces (201, Location, uri-list body), refuses an existing name (409) and a missing parent (404) unless parents=true', async () => {
    const res = await H('PUT', '/ns1', { as: owner, headers: { 'Content-Type': NS_TYPE } });
    expect(res.status).toBe(201);
    expect(pathOf(res.headers.location)).toBe('/hatrac/ns1');
    expect(res.headers['content-type']).toMatch(/^text\/uri-list/);
    expect(res.text).toBe('/hatrac/ns1\n');
    expect(res.headers.etag).toBeUndefined();

    expect((await H('PUT', '/ns1', { as: owner, headers: { 'Content-Type': NS_TYPE } })).status).toBe(409);
    expect((await H('PUT', '/ns1/a/b', { as: owner, headers: { 'Content-Type': NS_TYPE } })).status).toBe(404);
    const deep = await H('PUT', '/ns1/a/b?parents=true', { as: owner, headers: { 'Content-Type': NS_TYPE } });
    expect(deep.status).toBe(201);
    expect(deep.text).toBe('/hatrac/ns1/a/b\n');
    // auto-created ancestors are namespaces owned by the client
    expect((await H('GET', '/ns1/a', { as: owner })).json).toEqual(['/hatrac/ns1/a/b']);
    expect((await H('GET', '/ns1/a;acl/owner', { as: owner })).json).toEqual(['howner']);
    // a query string other than parents=true is harmless
    expect((await H('PUT', '/ns1/c?cid=smoke', { as: owner, headers: { 'Content-Type': NS_TYPE } })).status).toBe(201);
    expect((await H('GET', '/ns1/c?cid=smoke', { as: owner })).status).toBe(200);
    // a one-character top-level name works as a parent (a deliberate fix of the reference's router)
    await mkns('/a');
    expect((await H('PUT', '/a/b', { as: owner, headers: { 'Content-Type': NS_TYPE } })).status).toBe(201);
    expect((await H('PUT', '/a/b/o', { as: owner, body: 'x' })).status).toBe(201);
    expect((await H('GET', '/a/b/o', { as: owner })).text).toBe('x');
    expect((await H('GET', '/a', { as: owner })).json).toEqual(['/hatrac/a/b']);
  });

  it('lists children as JSON (default), uri-list or HTML, sorted, non-recursive, with ETag and Vary; HEAD; trailing slash and empty segments', async () => {
    await mkns('/lst');
    await mkns('/lst/zeta');
    await mkns('/lst/alpha');
    await mkns('/lst/alpha/inner');
    await put('/lst/mid', 'm');
    // an object with no version (a job was created, nothing finalized) is listed too
    await job('/lst/empty', { 'chunk-length': 4, 'content-length': 4 });

    const json = await H('GET', '/lst', { as: owner });
    expect(json.status).toBe(200);
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect(json.json).toEqual(['/hatrac/lst/alpha', '/hatrac/lst/empty', '/hatrac/lst/mid', '/hatrac/lst/zeta']);
    expect(json.headers.etag).toMatch(/^(W\/)?".+"$/);
    expect(json.headers.vary).toBeDefined();

    const accept = await H('GET', '/lst', { as: owner, headers: { Accept: 'application/json' } });
    expect(accept.json).toEqual(json.json);
    const uris = await H('GET', '/lst', { as: owner, headers: { Accept: 'text/uri-list' } });
    expect(uris.status).toBe(200);
    expect(uris.headers['content-type']).toMatch(/^text\/uri-list/);
    expect(uris.text.split('\n').filter(Boolean)).toEqual(json.json);
    const html = await H('GET', '/lst', { as: owner, headers: { Accept: 'text/html' } });
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toMatch(/^text\/html/);
    expect(html.text).toContain('/hatrac/lst/alpha');

    const head = await H('HEAD', '/lst', { as: owner });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers.etag).toBe(json.headers.etag);

    expect((await H('GET', '/lst/', { as: owner })).json).toEqual(json.json);
    expect((await H('GET', '//lst//alpha', { as: owner })).json).toEqual(['/hatrac/lst/alpha/inner']);
    expect((await H('GET', '/lst/alpha/', { as: owner })).json).toEqual(['/hatrac/lst/alpha/inner']);

    // conditional GET on the listing, and the etag follows the content
    const nm = await H('GET', '/lst', { as: owner, headers: { 'If-None-Match': json.headers.etag } });
    expect(nm.status).toBe(304);
    expect(nm.headers.etag).toBe(json.headers.etag);
    await mkns('/lst/beta');
    const after = await H('GET', '/lst', { as: owner, headers: { 'If-None-Match': json.headers.etag } });
    expect(after.status).toBe(200);
    expect(after.headers.etag).not.toBe(json.headers.etag);
    // Range on a namespace: 501
    expect((await H('GET', '/lst', { as: owner, headers: { Range: 'bytes=0-1' } })).status).toBe(501);
    // missing: 404
    expect((await H('GET', '/lst/nope', { as: owner })).status).toBe(404);
    expect((await H('HEAD', '/lst/nope', { as: owner })).status).toBe(404);
  });

  it('lists the root namespace at /hatrac/ and reads its ACLs', async () => {
    const root = await H('GET', '/', { as: owner });
    expect(root.status).toBe(200);
    expect(root.json).toEqual(expect.arrayContaining(['/hatrac/ns1', '/hatrac/lst', '/hatrac/a']));
    const acl = await H('GET', '/;acl', { as: owner });
    expect(acl.status).toBe(200);
    expect(acl.json.owner).toContain('howner');
    expectDenied(await H('GET', '/;acl', { as: other }), other);
    expectDenied(await H('GET', '/;acl', { as: anon }), anon);
    expect((await H('GET', '/;acl', { as: admin })).status).toBe(200);
    // a non-owner cannot create at the top level
    expectDenied(await H('PUT', '/theirs', { as: other, headers: { 'Content-Type': NS_TYPE } }), other);
    expectDenied(await H('PUT', '/theirs', { as: anon, headers: { 'Content-Type': NS_TYPE } }), anon);
    // a site admin passes the root's ACL
    expect((await H('PUT', '/admins', { as: admin, headers: { 'Content-Type': NS_TYPE } })).status).toBe(201);
  });

  it('never lets a name change kind: PUT on an existing namespace is 409 (owner) or 401/403, preconditions first', async () => {
    await mkns('/kind');
    const ls = await H('GET', '/kind', { as: owner });
    expect((await H('PUT', '/kind', { as: owner, body: 'data', headers: { 'Content-Type': 'text/plain' } })).status).toBe(409);
    expect((await H('PUT', '/kind', { as: owner, headers: { 'Content-Type': NS_TYPE } })).status).toBe(409);
    expect((await H('PUT', '/kind', { as: owner, body: 'x', headers: { 'If-Match': ls.headers.etag } })).status).toBe(409);
    expect((await H('PUT', '/kind', { as: owner, body: 'x', headers: { 'If-None-Match': '*' } })).status).toBe(412);
    expect((await H('PUT', '/kind', { as: owner, body: 'x', headers: { 'If-Match': '"nope"' } })).status).toBe(412);
    expectDenied(await H('PUT', '/kind', { as: other, body: 'x' }), other);
    expectDenied(await H('PUT', '/kind', { as: anon, body: 'x' }), anon);
    // new names: If-Match always fails, If-None-Match is ignored
    expect((await H('PUT', '/kind/n1', { as: owner, headers: { 'Content-Type': NS_TYPE, 'If-Match': '*' } })).status).toBe(412);
    expect((await H('PUT', '/kind/n2', { as: owner, headers: { 'Content-Type': NS_TYPE, 'If-None-Match': '*' } })).status).toBe(201);
    // an object is never a parent, and a namespace type on an existing object is a content update
    await put('/kind/obj', 'v1');
    expect((await H('PUT', '/kind/obj/child', { as: owner, headers: { 'Content-Type': NS_TYPE } })).status).toBe(409);
    expect((await H('PUT', '/kind/obj/child', { as: owner, body: 'x' })).status).toBe(409);
    expect((await H('PUT', '/kind/obj/deeper/child?parents=true', { as: owner, body: 'x' })).status).toBe(409);
    const upd = await H('PUT', '/kind/obj', { as: owner, body: 'v2', headers: { 'Content-Type': NS_TYPE } });
    expect(upd.status).toBe(201);
    const got = await H('GET', '/kind/obj', { as: owner });
    expect(got.text).toBe('v2');
    expect(got.headers['content-type']).toBe(NS_TYPE);
  });

  it('answers 405 for a method a route does not define, 404 for an unknown sub-resource; OPTIONS is harmless', async () => {
    await mkns('/meth');
    await put('/meth/obj', 'x');
    expect((await H('PATCH', '/meth', { as: owner, body: 'x' })).status).toBe(405);
    expect((await H('PATCH', '/meth/obj', { as: owner, body: 'x' })).status).toBe(405);
    expect((await H('POST', '/meth/obj;acl', { as: owner, json: {} })).status).toBe(405);
    expect((await H('PUT', '/meth/obj;versions', { as: owner, body: 'x' })).status).toBe(405);
    expect((await H('POST', '/meth/obj;metadata/content-type', { as: owner, body: 'x', headers: { 'Content-Type': 'text/plain' } })).status).toBe(405);
    expect((await H('GET', '/meth/obj;bogus', { as: owner })).status).toBe(404);
    expect((await H('GET', '/meth;bogus', { as: owner })).status).toBe(404);
    await H('OPTIONS', '/meth/obj', { as: owner }); // any answer below 500
  });
});

describe('names', () => {
  const unicode = '%C7%9D%C9%AF%C9%90u%C7%9Dl%E1%B4%89%C9%9F%20%C7%9Dpo%C9%94%E1%B4%89un';

  beforeAll(async () => {
    await mkns('/names');
  });

  it('stores percent-encoded names as written (escaped Unicode, escaped space), and compares them as written', async () => {
    const made = await H('PUT', `/names/${unicode}`, { as: owner, headers: { 'Content-Type': NS_TYPE } });
    expect(made.status).toBe(201);
    expect(made.text).toBe(`/hatrac/names/${unicode}\n`);
    expect(pathOf(made.headers.location)).toBe(`/hatrac/names/${unicode}`);
    expect((await H('GET', '/names', { as: owner })).json).toEqual([`/hatrac/names/${unicode}`]);
    const v = await put(`/names/${unicode}/${unicode}`, 'unicode body');
    const got = await H('GET', `/names/${unicode}/${unicode}`, { as: owner });
    expect(got.status).toBe(200);
    expect(got.text).toBe('unicode body');
    expect(got.headers['content-location']).toBe(`/hatrac/names/${unicode}/${unicode}:${v}`);
    expect(got.headers['content-disposition']).toBe(`filename*=UTF-8''${unicode}`);
    expect((await H('GET', `/names/${unicode}`, { as: owner })).json).toEqual([`/hatrac/names/${unicode}/${unicode}`]);
    // the same name with lower-case escapes is a different name
    expect((await H('GET', `/names/${unicode.toLowerCase()}`, { as: owner })).status).toBe(404);
  });

  it('keeps escaped meta-syntax characters (/ : ;) inside one name', async () => {
    const v = await put('/names/x%3Ay%3Bz%2Fw', 'meta');
    const got = await H('GET', '/names/x%3Ay%3Bz%2Fw', { as: owner });
    expect(got.status).toBe(200);
    expect(got.text).toBe('meta');
    expect(got.headers['content-location']).toBe(`/hatrac/names/x%3Ay%3Bz%2Fw:${v}`);
    expect((await H('GET', `/names/x%3Ay%3Bz%2Fw:${v}`, { as: owner })).text).toBe('meta');
    expect((await H('GET', '/names/x%3Ay%3Bz%2Fw;versions', { as: owner })).json).toEqual([`/hatrac/names/x%3Ay%3Bz%2Fw:${v}`]);
    expect((await H('GET', '/names/x', { as: owner })).status).toBe(404);
  });

  it.each([
    ['@', 'a@b'],
    ['+', 'a+b'],
    ['(', 'a(b'],
    ['!', 'a!b'],
    ['*', 'a*b'],
    ['a bad escape', 'a%zzb'],
  ])('refuses %s in a name with 400', async (_label, name) => {
    expect((await H('PUT', `/names/${name}`, { as: owner, body: 'x' })).status).toBe(400);
    expect((await H('PUT', `/names/${name}`, { as: owner, headers: { 'Content-Type': NS_TYPE } })).status).toBe(400);
  });

  it('refuses a raw space and raw non-ASCII bytes with 400', async () => {
    for (const name of [Buffer.from('/hatrac/names/a b'), Buffer.concat([Buffer.from('/hatrac/names/caf'), Buffer.from([0xc3, 0xa9])])]) {
      const res = await rawExchange(t.url, rawHead('PUT', name, { ...authHeaders(owner), 'Content-Type': NS_TYPE, 'Content-Length': '0' }), undefined, false);
      expect(res).not.toBeNull();
      expect(res!.status).toBe(400);
    }
    expect((await H('GET', '/names', { as: owner })).json).not.toContain('/hatrac/names/a');
  });

  it('refuses . and .. as a final segment, also for ancestors made by parents=true (400)', async () => {
    for (const p of ['/names/.', '/names/..', '/names/sub/.?parents=true', '/names/./x?parents=true', '/names/../x?parents=true']) {
      expect((await H('PUT', p, { as: owner, headers: { 'Content-Type': NS_TYPE } })).status).toBe(400);
      expect((await H('PUT', p, { as: owner, body: 'x' })).status).toBe(400);
    }
    // names that only contain dots are fine
    expect((await H('PUT', '/names/...', { as: owner, body: 'x' })).status).toBe(201);
    expect((await H('PUT', '/names/.hidden', { as: owner, body: 'x' })).status).toBe(201);
  });
});

describe('objects and versions', () => {
  beforeAll(async () => {
    await mkns('/obj');
  });

  it('creates an object (201, Location and body = version URL) and serves it with every header; HEAD too', async () => {
    const body = Buffer.from('hello, hatrac\n');
    const res = await H('PUT', '/obj/hello.txt', {
      as: owner,
      body,
      headers: { 'Content-Type': 'Text/Plain; charset=UTF-8', 'Content-MD5': b64(md5(body)), 'Content-SHA256': b64(sha256(body)) },
    });
    expect(res.status).toBe(201);
    const v = versionOf(res);
    expect(v).toMatch(/^[A-Za-z0-9_.~-]+$/);
    expect(res.text).toBe(`/hatrac/obj/hello.txt:${v}\n`);
    expect(pathOf(res.headers.location)).toBe(`/hatrac/obj/hello.txt:${v}`);
    expect(res.headers['content-type']).toMatch(/^text\/uri-list/);
    expect(res.headers.etag).toBeUndefined();

    const got = await H('GET', '/obj/hello.txt', { as: owner });
    expect(got.status).toBe(200);
    expect(got.body.equals(body)).toBe(true);
    expect(got.headers['content-type']).toBe('text/plain');
    expect(got.headers['content-length']).toBe(String(body.length));
    expect(got.headers['content-md5']).toBe(b64(md5(body)));
    expect(got.headers['content-sha256']).toBe(b64(sha256(body)));
    expect(got.headers['content-disposition']).toBe("filename*=UTF-8''hello.txt");
    expect(got.headers['content-location']).toBe(`/hatrac/obj/hello.txt:${v}`);
    expect(got.headers.etag).toBe(`"${v}"`);
    expect(got.headers.vary).toBeDefined();

    const head = await H('HEAD', '/obj/hello.txt', { as: owner });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(String(body.length));
    expect(head.headers['accept-ranges']).toBe('bytes');
    for (const h of ['content-type', 'content-md5', 'content-sha256', 'content-disposition', 'content-location', 'etag']) expect(head.headers[h]).toBe(got.headers[h]);

    const byVersion = await H('GET', `/obj/hello.txt:${v}`, { as: owner });
    expect(byVersion.status).toBe(200);
    expect(byVersion.body.equals(body)).toBe(true);
    expect(byVersion.headers.etag).toBe(`"${v}"`);
    expect(byVersion.headers['content-location']).toBe(`/hatrac/obj/hello.txt:${v}`);
    expect((await H('HEAD', `/obj/hello.txt:${v}`, { as: owner })).status).toBe(200);
    // Accept is ignored on objects
    expect((await H('GET', '/obj/hello.txt', { as: owner, headers: { Accept: 'application/json' } })).body.equals(body)).toBe(true);
  });

  it('defaults: no Content-Type → application/octet-stream; no checksum → none reported; 404 for a missing parent without parents=true', async () => {
    const res = await H('PUT', '/obj/plain', { as: owner, body: 'plain' });
    expect(res.status).toBe(201);
    const got = await H('GET', '/obj/plain', { as: owner });
    expect(got.headers['content-type']).toBe('application/octet-stream');
    expect(got.headers['content-md5']).toBeUndefined();
    expect(got.headers['content-sha256']).toBeUndefined();
    expect((await H('GET', '/obj/plain;metadata/content-md5', { as: owner })).status).toBe(404);
    expect((await H('PUT', '/obj/missing/x', { as: owner, body: 'x' })).status).toBe(404);
    const deep = await H('PUT', '/obj/missing/deeper/x?parents=true', { as: owner, body: 'deep' });
    expect(deep.status).toBe(201);
    expect((await H('GET', '/obj/missing/deeper', { as: owner })).json).toEqual(['/hatrac/obj/missing/deeper/x']);
  });

  it('keeps every version; newest first in ;versions; a later PUT never changes an earlier version', async () => {
    const v1 = await put('/obj/multi', 'first');
    const v2 = await put('/obj/multi', 'second');
    const v3 = await put('/obj/multi', 'third');
    expect(new Set([v1, v2, v3]).size).toBe(3);
    expect((await H('GET', '/obj/multi', { as: owner })).text).toBe('third');
    expect((await H('GET', `/obj/multi:${v1}`, { as: owner })).text).toBe('first');
    expect((await H('GET', `/obj/multi:${v2}`, { as: owner })).text).toBe('second');
    const list = await H('GET', '/obj/multi;versions', { as: owner });
    expect(list.status).toBe(200);
    expect(list.json).toEqual([`/hatrac/obj/multi:${v3}`, `/hatrac/obj/multi:${v2}`, `/hatrac/obj/multi:${v1}`]);
    expect(list.headers.etag).toBeDefined();
    expect((await H('GET', '/obj/multi;versions', { as: owner, headers: { 'If-None-Match': list.headers.etag } })).status).toBe(304);
    const uris = await H('GET', '/obj/multi;versions', { as: owner, headers: { Accept: 'text/uri-list' } });
    expect(uris.text.split('\n').filter(Boolean)).toEqual(list.json);
    expect((await H('GET', '/obj/multi;versions', { as: owner, headers: { Accept: 'text/html' } })).headers['content-type']).toMatch(/^text\/html/);
    expect((await H('HEAD', '/obj/multi;versions', { as: owner })).status).toBe(200);
    expect((await H('GET', '/obj/nothing;versions', { as: owner })).status).toBe(404);
    expect((await H('GET', '/obj/multi:NOSUCHVERSION', { as: owner })).status).toBe(404);
    expect((await H('GET', '/obj/nothing:NOSUCHVERSION', { as: owner })).status).toBe(404);
  });

  it('honours Content-Disposition of the exact form filename*=UTF-8\'\'…, refusing others with 400', async () => {
    const ok = await H('PUT', '/obj/disp', { as: owner, body: 'd', headers: { 'Content-Disposition': "filename*=UTF-8''my%20file%C3%A9.txt" } });
    expect(ok.status).toBe(201);
    expect((await H('GET', '/obj/disp', { as: owner })).headers['content-disposition']).toBe("filename*=UTF-8''my%20file%C3%A9.txt");
    for (const bad of ['attachment; filename="x.txt"', "filename*=UTF-8''a%2Fb", "filename*=UTF-8''a%5Cb", "filename*=UTF-8''a b", "filename*=latin1''x", 'filename=x']) {
      expect((await H('PUT', '/obj/disp', { as: owner, body: 'd2', headers: { 'Content-Disposition': bad } })).status).toBe(400);
    }
    expect((await H('GET', '/obj/disp;versions', { as: owner })).json).toHaveLength(1);
  });

  it('verifies checksums: MD5 and SHA-256 in base64 or hex; mismatch or bad encoding → 400; returned base64', async () => {
    const body = Buffer.from('checksummed content');
    const good: Record<string, string>[] = [
      { 'Content-MD5': b64(md5(body)) },
      { 'Content-MD5': hex(md5(body)) },
      { 'Content-MD5': hex(md5(body)).toUpperCase() },
      { 'Content-SHA256': b64(sha256(body)) },
      { 'Content-SHA256': hex(sha256(body)) },
      { 'Content-MD5': hex(md5(body)), 'Content-SHA256': hex(sha256(body)) },
    ];
    for (const headers of good) {
      const res = await H('PUT', '/obj/sums', { as: owner, body, headers });
      expect(res.status).toBe(201);
      const got = await H('HEAD', '/obj/sums', { as: owner });
      if (headers['Content-MD5']) expect(got.headers['content-md5']).toBe(b64(md5(body)));
      if (headers['Content-SHA256']) expect(got.headers['content-sha256']).toBe(b64(sha256(body)));
    }
    const wrong = Buffer.from('other content');
    const bad: Record<string, string>[] = [
      { 'Content-MD5': b64(md5(wrong)) },
      { 'Content-MD5': hex(md5(wrong)) },
      { 'Content-SHA256': b64(sha256(wrong)) },
      { 'Content-SHA256': hex(sha256(wrong)) },
      { 'Content-MD5': b64(md5(body)), 'Content-SHA256': b64(sha256(wrong)) },
      { 'Content-MD5': 'not base64!!' },
      { 'Content-MD5': b64(Buffer.alloc(10)) },
      { 'Content-MD5': hex(md5(body)).slice(0, 30) },
      { 'Content-SHA256': b64(md5(body)) },
      { 'Content-SHA256': hex(sha256(body)).slice(0, 62) },
    ];
    for (const headers of bad) {
      const res = await H('PUT', '/obj/sums', { as: owner, body, headers });
      expect([res.status, headers]).toEqual([400, headers]);
    }
    expect((await H('GET', '/obj/sums;versions', { as: owner })).json).toHaveLength(good.length);
  });

  it('a failed PUT of a new object leaves an empty object: GET 409, listed, no versions, usable', async () => {
    const body = Buffer.from('good');
    expect((await H('PUT', '/obj/bad', { as: owner, body, headers: { 'Content-MD5': b64(md5('bad')) } })).status).toBe(400);
    expect((await H('GET', '/obj/bad', { as: owner })).status).toBe(409);
    expect((await H('HEAD', '/obj/bad', { as: owner })).status).toBe(409);
    expect((await H('GET', '/obj/bad;metadata', { as: owner })).status).toBe(409);
    expect((await H('GET', '/obj/bad;versions', { as: owner })).json).toEqual([]);
    expect((await H('GET', '/obj', { as: owner })).json).toContain('/hatrac/obj/bad');
    // an object without versions counts as not existing: If-Match fails, If-None-Match: * passes
    expect((await H('PUT', '/obj/bad', { as: owner, body, headers: { 'If-Match': '*' } })).status).toBe(412);
    expect((await H('PUT', '/obj/bad', { as: owner, body, headers: { 'If-None-Match': '*' } })).status).toBe(201);
    expect((await H('GET', '/obj/bad', { as: owner })).text).toBe('good');
  });

  it('requires Content-Length (411), accepts a chunked empty body (the deriva client sends one), and refuses a short body (400)', async () => {
    // no Content-Length and no Transfer-Encoding
    const nolen = await rawExchange(t.url, rawHead('PUT', '/hatrac/obj/nolen', { ...authHeaders(owner), 'Content-Type': 'text/plain' }), undefined, false);
    expect(nolen?.status).toBe(411);
    // a zero-byte body sent chunked, as deriva's put_obj does for an empty file
    const empty = await H('PUT', '/obj/empty', { as: owner, body: Buffer.alloc(0), chunked: true });
    expect(empty.status).toBe(201);
    const got = await H('GET', '/obj/empty', { as: owner });
    expect(got.status).toBe(200);
    expect(got.headers['content-length']).toBe('0');
    expect(got.body.length).toBe(0);
    // a non-empty chunked body is either refused (411) or stored whole
    const chunked = await H('PUT', '/obj/chunked', { as: owner, body: 'chunked body', chunked: true });
    expect([201, 411]).toContain(chunked.status);
    if (chunked.status === 201) expect((await H('GET', '/obj/chunked', { as: owner })).text).toBe('chunked body');
    // a body shorter than its Content-Length: the client half-closes after 5 of 10 bytes
    const short = await rawExchange(t.url, rawHead('PUT', '/hatrac/obj/short', { ...authHeaders(owner), 'Content-Length': '10' }), Buffer.from('12345'));
    expect(short?.status).toBe(400);
    let status = 0;
    for (let i = 0; i < 50 && status !== 409; i++) {
      status = (await H('GET', '/obj/short', { as: owner })).status;
      if (status !== 409) await sleep(100);
    }
    expect(status).toBe(409); // the new name stays, without content
  });

  it('applies preconditions to PUT: If-Match current → 201, stale → 412; If-None-Match: * on an existing object → 412', async () => {
    const v1 = await put('/obj/cond', 'one');
    expect((await H('PUT', '/obj/cond', { as: owner, body: 'x', headers: { 'If-Match': '"stale"' } })).status).toBe(412);
    expect((await H('PUT', '/obj/cond', { as: owner, body: 'x', headers: { 'If-None-Match': '*' } })).status).toBe(412);
    expect((await H('PUT', '/obj/cond', { as: owner, body: 'x', headers: { 'If-None-Match': `"${v1}"` } })).status).toBe(412);
    const ok = await H('PUT', '/obj/cond', { as: owner, body: 'two', headers: { 'If-Match': `"a", W/"${v1}"` } });
    expect(ok.status).toBe(201);
    const v2 = versionOf(ok);
    expect((await H('PUT', '/obj/cond', { as: owner, body: 'x', headers: { 'If-Match': `"${v1}"` } })).status).toBe(412);
    expect((await H('PUT', '/obj/cond', { as: owner, body: 'three', headers: { 'If-Match': `"${v2}"`, 'If-None-Match': '"zzz"' } })).status).toBe(201);
    // new names: If-Match fails, If-None-Match: * passes
    expect((await H('PUT', '/obj/cond-new', { as: owner, body: 'x', headers: { 'If-Match': '*' } })).status).toBe(412);
    expect((await H('PUT', '/obj/cond-new2', { as: owner, body: 'x', headers: { 'If-None-Match': '*' } })).status).toBe(201);
    expect((await H('GET', '/obj/cond;versions', { as: owner })).json).toHaveLength(3);
  });

  it('deletes versions (the previous becomes current), then the object; deleted names are never reused (409)', async () => {
    const v1 = await put('/obj/del', 'one');
    const v2 = await put('/obj/del', 'two');
    expect((await H('DELETE', `/obj/del:${v2}`, { as: owner, headers: { 'If-Match': '"nope"' } })).status).toBe(412);
    expect((await H('DELETE', `/obj/del:${v2}`, { as: owner, headers: { 'If-None-Match': '*' } })).status).toBe(412);
    const d = await H('DELETE', `/obj/del:${v2}`, { as: owner });
    expect(d.status).toBe(204);
    expect(d.body.length).toBe(0);
    expect((await H('GET', `/obj/del:${v2}`, { as: owner })).status).toBe(404);
    expect((await H('DELETE', `/obj/del:${v2}`, { as: owner })).status).toBe(404);
    const cur = await H('GET', '/obj/del', { as: owner });
    expect(cur.text).toBe('one');
    expect(cur.headers['content-location']).toBe(`/hatrac/obj/del:${v1}`);
    expect((await H('GET', '/obj/del;versions', { as: owner })).json).toEqual([`/hatrac/obj/del:${v1}`]);
    expect((await H('DELETE', `/obj/del:${v1}`, { as: owner, headers: { 'If-Match': `"${v1}"` } })).status).toBe(204);
    // no versions left: the object has no content
    expect((await H('GET', '/obj/del', { as: owner })).status).toBe(409);
    expect((await H('GET', '/obj/del;versions', { as: owner })).json).toEqual([]);
    expect((await H('DELETE', '/obj/del', { as: owner, headers: { 'If-Match': '*' } })).status).toBe(412);
    const v3 = await put('/obj/del', 'three');
    expect((await H('GET', '/obj/del', { as: owner })).text).toBe('three');
    expect((await H('DELETE', '/obj/del', { as: owner, headers: { 'If-Match': '"nope"' } })).status).toBe(412);
    expect((await H('DELETE', '/obj/del', { as: owner, headers: { 'If-None-Match': `"${v3}"` } })).status).toBe(412);
    expect((await H('DELETE', '/obj/del', { as: owner, headers: { 'If-Match': `"${v3}"` } })).status).toBe(204);
    // gone for good
    expect((await H('GET', '/obj/del', { as: owner })).status).toBe(404);
    expect((await H('HEAD', '/obj/del', { as: owner })).status).toBe(404);
    expect((await H('GET', `/obj/del:${v3}`, { as: owner })).status).toBe(404);
    expect((await H('DELETE', '/obj/del', { as: owner })).status).toBe(404);
    expect((await H('GET', '/obj', { as: owner })).json).not.toContain('/hatrac/obj/del');
    expect((await H('PUT', '/obj/del', { as: owner, body: 'again' })).status).toBe(409);
    expect((await H('PUT', '/obj/del', { as: owner, headers: { 'Content-Type': NS_TYPE } })).status).toBe(409);
    expect((await H('POST', '/obj/del;upload', { as: owner, json: { 'chunk-length': 4, 'content-length': 4 } })).status).toBe(409);
    await put('/obj/del-src', 'src');
    expect((await H('POST', '/obj/del', { as: owner, json: { command: 'rename_from', source_name: '/obj/del-src' } })).status).toBe(409);
    // an object with no version can be deleted too
    await job('/obj/del-empty', { 'chunk-length': 1, 'content-length': 1 });
    expect((await H('DELETE', '/obj/del-empty', { as: owner })).status).toBe(204);
  });

  it('rejects bodies beyond the default limit of 128 MiB with 413', async () => {
    const res = await streamingPut(t.url, '/hatrac/obj/huge', 134217728 + 1, { ...authHeaders(owner), 'Content-Type': 'application/octet-stream' });
    expect(res.status).toBe(413);
  });
});

describe('metadata', () => {
  let v1: string;
  let v2: string;
  const body = Buffer.from('metadata body');

  beforeAll(async () => {
    await mkns('/meta');
    v1 = await put('/meta/obj', body, owner, { 'Content-Type': 'text/csv', 'Content-MD5': b64(md5(body)) });
    v2 = await put('/meta/obj', 'v2', owner, { 'Content-Type': 'text/plain' });
  });

  it('reads the stored fields as JSON (checksums base64), on the object (current version) and on a version', async () => {
    const cur = await H('GET', '/meta/obj;metadata', { as: owner });
    expect(cur.status).toBe(200);
    expect(cur.headers['content-type']).toMatch(/^application\/json/);
    expect(cur.json).toEqual({ 'content-type': 'text/plain' });
    expect(cur.headers.etag).toBeDefined();
    expect((await H('GET', '/meta/obj;metadata/', { as: owner })).json).toEqual(cur.json);
    expect((await H('GET', '/meta/obj;metadata', { as: owner, headers: { 'If-None-Match': cur.headers.etag } })).status).toBe(304);
    const old = await H('GET', `/meta/obj:${v1};metadata`, { as: owner });
    expect(old.json).toEqual({ 'content-type': 'text/csv', 'content-md5': b64(md5(body)) });
    expect((await H('GET', `/meta/obj:${v1};metadata/`, { as: owner })).json).toEqual(old.json);
    const field = await H('GET', `/meta/obj:${v1};metadata/content-md5`, { as: owner });
    expect(field.status).toBe(200);
    expect(field.headers['content-type']).toMatch(/^text\/plain/);
    expect(field.text).toBe(`${b64(md5(body))}\n`);
    expect((await H('GET', '/meta/obj;metadata/content-type', { as: owner })).text).toBe('text/plain\n');
    expect((await H('HEAD', '/meta/obj;metadata/content-type', { as: owner })).status).toBe(200);
    // unset → 404, unknown field → 400, both decided before authorization
    expect((await H('GET', '/meta/obj;metadata/content-md5', { as: owner })).status).toBe(404);
    expect((await H('GET', '/meta/obj;metadata/content-md5', { as: anon })).status).toBe(404);
    expect((await H('GET', '/meta/obj;metadata/bogus', { as: owner })).status).toBe(400);
    expect((await H('GET', '/meta/obj;metadata/bogus', { as: anon })).status).toBe(400);
    expectDenied(await H('GET', '/meta/obj;metadata', { as: anon }), anon);
    expectDenied(await H('GET', '/meta/obj;metadata/content-type', { as: other }), other);
    // not for namespaces or unknown names
    expect((await H('GET', '/meta;metadata', { as: owner })).status).toBe(404);
    expect((await H('GET', '/meta/none;metadata', { as: owner })).status).toBe(404);
    expect((await H('GET', '/meta/obj:NOSUCH;metadata', { as: owner })).status).toBe(404);
  });

  it('sets content-type and content-disposition with text/plain bodies (trimmed), and deletes them back to defaults', async () => {
    expect((await H('PUT', '/meta/obj;metadata/content-type', { as: owner, body: '  application/json \n', headers: { 'Content-Type': 'text/plain' } })).status).toBe(204);
    expect((await H('HEAD', '/meta/obj', { as: owner })).headers['content-type']).toBe('application/json');
    expect((await H('PUT', '/meta/obj;metadata/content-type', { as: owner, body: 'text/x', headers: { 'Content-Type': 'application/json' } })).status).toBe(400);
    expect((await H('PUT', '/meta/obj;metadata/bogus', { as: owner, body: 'x', headers: { 'Content-Type': 'text/plain' } })).status).toBe(400);
    expect((await H('PUT', '/meta/obj;metadata/content-disposition', { as: owner, body: 'attachment', headers: { 'Content-Type': 'text/plain' } })).status).toBe(400);
    expect((await H('PUT', '/meta/obj;metadata/content-disposition', { as: owner, body: "filename*=UTF-8''renamed.txt", headers: { 'Content-Type': 'text/plain' } })).status).toBe(204);
    expect((await H('HEAD', '/meta/obj', { as: owner })).headers['content-disposition']).toBe("filename*=UTF-8''renamed.txt");
    expect((await H('DELETE', '/meta/obj;metadata/content-disposition', { as: owner })).status).toBe(204);
    expect((await H('HEAD', '/meta/obj', { as: owner })).headers['content-disposition']).toBe("filename*=UTF-8''obj");
    expect((await H('DELETE', `/meta/obj:${v2};metadata/content-type`, { as: owner })).status).toBe(204);
    expect((await H('HEAD', '/meta/obj', { as: owner })).headers['content-type']).toBe('application/octet-stream');
    expect((await H('GET', '/meta/obj;metadata/content-type', { as: owner })).status).toBe(404);
    // deleting an unset or unknown field is fine
    expect((await H('DELETE', '/meta/obj;metadata/content-type', { as: owner })).status).toBe(204);
    expect((await H('DELETE', '/meta/obj;metadata/bogus', { as: owner })).status).toBe(204);
    // the old version's metadata is its own
    expect((await H('GET', `/meta/obj:${v1};metadata/content-type`, { as: owner })).text).toBe('text/csv\n');
  });

  it('checksums are write-once: the same value again (any encoding) → 204, a different one → 409; DELETE then set anew', async () => {
    const a = md5('anything');
    const b = md5('something else');
    const s = sha256('anything');
    const plain = { 'Content-Type': 'text/plain' };
    expect((await H('PUT', '/meta/obj;metadata/content-md5', { as: owner, body: b64(a), headers: plain })).status).toBe(204); // not verified against the bytes
    expect((await H('PUT', '/meta/obj;metadata/content-md5', { as: owner, body: b64(a), headers: plain })).status).toBe(204);
    expect((await H('PUT', '/meta/obj;metadata/content-md5', { as: owner, body: hex(a), headers: plain })).status).toBe(204);
    expect((await H('GET', '/meta/obj;metadata/content-md5', { as: owner })).text).toBe(`${b64(a)}\n`);
    expect((await H('PUT', '/meta/obj;metadata/content-md5', { as: owner, body: b64(b), headers: plain })).status).toBe(409);
    expect((await H('PUT', '/meta/obj;metadata/content-md5', { as: owner, body: 'zz', headers: plain })).status).toBe(400);
    expect((await H('PUT', '/meta/obj;metadata/content-sha256', { as: owner, body: b64(a), headers: plain })).status).toBe(400);
    expect((await H('PUT', '/meta/obj;metadata/content-sha256', { as: owner, body: hex(s), headers: plain })).status).toBe(204);
    expect((await H('GET', '/meta/obj;metadata/content-sha256', { as: owner })).text).toBe(`${b64(s)}\n`);
    expect((await H('HEAD', '/meta/obj', { as: owner })).headers['content-sha256']).toBe(b64(s));
    expect((await H('PUT', '/meta/obj;metadata/content-sha256', { as: owner, body: b64(sha256('x')), headers: plain })).status).toBe(409);
    expect((await H('DELETE', '/meta/obj;metadata/content-md5', { as: owner })).status).toBe(204);
    expect((await H('PUT', '/meta/obj;metadata/content-md5', { as: owner, body: b64(b), headers: plain })).status).toBe(204);
    expect((await H('GET', '/meta/obj;metadata/content-md5', { as: owner })).text).toBe(`${b64(b)}\n`);
  });

  it('applies preconditions to metadata writes, and metadata rights (owner/ancestor_owner to write)', async () => {
    const cur = await H('GET', '/meta/obj;metadata/content-md5', { as: owner });
    expect(cur.headers.etag).toBeDefined();
    expect((await H('GET', '/meta/obj;metadata/content-md5', { as: owner, headers: { 'If-None-Match': cur.headers.etag } })).status).toBe(304);
    expect((await H('PUT', '/meta/obj;metadata/content-type', { as: owner, body: 'a/b', headers: { 'Content-Type': 'text/plain', 'If-Match': '"nope"' } })).status).toBe(412);
    expectDenied(await H('PUT', '/meta/obj;metadata/content-type', { as: other, body: 'a/b', headers: { 'Content-Type': 'text/plain' } }), other);
    expectDenied(await H('PUT', '/meta/obj;metadata/content-type', { as: anon, body: 'a/b', headers: { 'Content-Type': 'text/plain' } }), anon);
    expectDenied(await H('DELETE', '/meta/obj;metadata/content-type', { as: other }), other);
    expect((await H('PUT', '/meta/obj;metadata/content-type', { as: admin, body: 'a/b', headers: { 'Content-Type': 'text/plain' } })).status).toBe(204);
  });
});

describe('ACL resources', () => {
  let v: string;
  beforeAll(async () => {
    await mkns('/acl');
    v = await put('/acl/obj', 'acl body');
  });

  it('lists every ACL valid for the kind, empty ones included; the creator owns new namespaces, objects and versions', async () => {
    const ns = await H('GET', '/acl;acl', { as: owner });
    expect(ns.status).toBe(200);
    expect(ns.headers['content-type']).toMatch(/^application\/json/);
    expect(ns.json).toEqual({ owner: ['howner'], create: [], read: [], 'subtree-owner': [], 'subtree-create': [], 'subtree-read': [], 'subtree-update': [] });
    expect((await H('GET', '/acl;acl/', { as: owner })).json).toEqual(ns.json);
    const obj = await H('GET', '/acl/obj;acl', { as: owner });
    expect(obj.json).toEqual({ owner: ['howner'], update: [], read: [], 'subtree-owner': [], 'subtree-read': [] });
    const ver = await H('GET', `/acl/obj:${v};acl`, { as: owner });
    expect(ver.json).toEqual({ owner: ['howner'], read: [] });
    expect((await H('HEAD', `/acl/obj:${v};acl`, { as: owner })).status).toBe(200);
    expect((await H('GET', '/acl/none;acl', { as: owner })).status).toBe(404);
    expect((await H('GET', '/acl/obj:NOSUCH;acl', { as: owner })).status).toBe(404);
  });

  it('refuses ACL names that are not valid for the kind with 400, before authorization', async () => {
    for (const [p, name] of [
      ['/acl', 'update'],
      ['/acl/obj', 'create'],
      ['/acl/obj', 'subtree-create'],
      [`/acl/obj:${v}`, 'update'],
      [`/acl/obj:${v}`, 'subtree-owner'],
      ['/acl', 'bogus'],
    ]) {
      expect((await H('GET', `${p};acl/${name}`, { as: owner })).status).toBe(400);
      expect((await H('GET', `${p};acl/${name}`, { as: anon })).status).toBe(400);
      expect((await H('PUT', `${p};acl/${name}`, { as: owner, json: [] })).status).toBe(400);
      expect((await H('DELETE', `${p};acl/${name}`, { as: owner })).status).toBe(400);
      expect((await H('PUT', `${p};acl/${name}/x`, { as: owner })).status).toBe(400);
    }
  });

  it('replaces, reads, empties a whole ACL; validates the JSON body', async () => {
    expect((await H('PUT', '/acl/obj;acl/read', { as: owner, json: ['hother', 'g:lab members'] })).status).toBe(204);
    const got = await H('GET', '/acl/obj;acl/read', { as: owner });
    expect(got.status).toBe(200);
    expect([...got.json].sort()).toEqual(['g:lab members', 'hother']);
    expect(got.headers.etag).toBeDefined();
    expect((await H('GET', '/acl/obj;acl/read/', { as: owner })).json.sort()).toEqual(['g:lab members', 'hother']);
    expect((await H('GET', '/acl/obj;acl/read', { as: owner, headers: { 'If-None-Match': got.headers.etag } })).status).toBe(304);
    expect((await H('PUT', '/acl/obj;acl/read', { as: owner, json: ['x'], headers: { 'If-Match': '"stale"' } })).status).toBe(412);
    expect((await H('PUT', '/acl/obj;acl/read', { as: owner, json: ['x'], headers: { 'If-None-Match': got.headers.etag } })).status).toBe(412);
    expect((await H('PUT', '/acl/obj;acl/read', { as: owner, body: '["x"]', headers: { 'Content-Type': 'text/plain' } })).status).toBe(400);
    expect((await H('PUT', '/acl/obj;acl/read', { as: owner, json: { roles: ['x'] } })).status).toBe(400);
    expect((await H('PUT', '/acl/obj;acl/read', { as: owner, json: [1, 2] })).status).toBe(400);
    expect((await H('PUT', '/acl/obj;acl/read', { as: owner, body: '[not json', headers: { 'Content-Type': 'application/json' } })).status).toBe(400);
    expect((await H('GET', '/acl/obj;acl/read', { as: owner })).json.sort()).toEqual(['g:lab members', 'hother']);
    const all = await H('GET', '/acl/obj;acl', { as: owner });
    expect((await H('GET', '/acl/obj;acl', { as: owner, headers: { 'If-None-Match': all.headers.etag } })).status).toBe(304);
    expect((await H('PUT', '/acl/obj;acl/read', { as: owner, json: ['x'], headers: { 'If-Match': got.headers.etag } })).status).toBe(204);
    expect((await H('DELETE', '/acl/obj;acl/read', { as: owner })).status).toBe(204);
    expect((await H('GET', '/acl/obj;acl/read', { as: owner })).json).toEqual([]);
    expect((await H('DELETE', '/acl/obj;acl/read', { as: owner, headers: { 'If-Match': '"stale"' } })).status).toBe(412);
  });

  it('adds, reads and removes single roles (URL-decoded), idempotently; 404 for an absent role even before authorization', async () => {
    const role = 'g%3Alab%20members';
    expect((await H('PUT', `/acl/obj;acl/read/${role}`, { as: owner })).status).toBe(204);
    expect((await H('PUT', `/acl/obj;acl/read/${role}`, { as: owner })).status).toBe(204);
    expect((await H('PUT', '/acl/obj;acl/read/%2A', { as: owner, headers: { 'Content-Type': 'application/json' } })).status).toBe(204);
    expect((await H('PUT', '/acl/obj;acl/read/scheme%3A%2F%2Fauthority%2Fpath', { as: owner })).status).toBe(204);
    expect((await H('GET', '/acl/obj;acl/read', { as: owner })).json.sort()).toEqual(['*', 'g:lab members', 'scheme://authority/path']);
    const one = await H('GET', `/acl/obj;acl/read/${role}`, { as: owner });
    expect(one.status).toBe(200);
    expect(one.headers['content-type']).toMatch(/^text\/plain/);
    expect(one.text.trimEnd()).toBe('g:lab members');
    expect(one.text.startsWith('g:lab members\n')).toBe(true);
    expect((await H('HEAD', `/acl/obj;acl/read/${role}`, { as: owner })).status).toBe(200);
    expect((await H('GET', '/acl/obj;acl/read/nobody', { as: owner })).status).toBe(404);
    expect((await H('GET', '/acl/obj;acl/read/nobody', { as: anon })).status).toBe(404);
    expectDenied(await H('GET', `/acl/obj;acl/read/${role}`, { as: anon }), anon);
    expectDenied(await H('GET', `/acl/obj;acl/read/${role}`, { as: other }), other);
    // preconditions: the role's presence is "the resource exists"
    expect((await H('PUT', `/acl/obj;acl/read/${role}`, { as: owner, headers: { 'If-None-Match': '*' } })).status).toBe(412);
    expect((await H('PUT', '/acl/obj;acl/read/newrole', { as: owner, headers: { 'If-Match': '*' } })).status).toBe(412);
    expect((await H('DELETE', '/acl/obj;acl/read/nobody', { as: owner, headers: { 'If-Match': '*' } })).status).toBe(412);
    expect((await H('DELETE', `/acl/obj;acl/read/${role}`, { as: owner, headers: { 'If-Match': '*' } })).status).toBe(204);
    expect((await H('DELETE', `/acl/obj;acl/read/${role}`, { as: owner })).status).toBe(404);
    expect((await H('DELETE', '/acl/obj;acl/read/scheme%3A%2F%2Fauthority%2Fpath', { as: owner })).status).toBe(204);
    expect((await H('GET', '/acl/obj;acl/read', { as: owner })).json).toEqual(['*']);
  });

  it('lets only owners (and ancestor owners, and admins) read or change ACLs; nothing stops removing the last owner', async () => {
    for (const as of [other, member, anon]) {
      expectDenied(await H('GET', '/acl/obj;acl', { as }), as);
      expectDenied(await H('GET', '/acl/obj;acl/owner', { as }), as);
      expectDenied(await H('PUT', '/acl/obj;acl/owner', { as, json: ['hother'] }), as);
      expectDenied(await H('PUT', '/acl/obj;acl/owner/hother', { as }), as);
      expectDenied(await H('DELETE', '/acl/obj;acl/owner/howner', { as }), as);
      expectDenied(await H('DELETE', '/acl/obj;acl/owner', { as }), as);
    }
    expect((await H('GET', '/acl/obj;acl', { as: admin })).status).toBe(200);
    await put('/acl/orphan', 'o');
    expect((await H('PUT', '/acl/orphan;acl/owner', { as: owner, json: [] })).status).toBe(204);
    expect((await H('GET', '/acl/orphan;acl', { as: owner })).status).toBe(403);
    expect((await H('GET', '/acl/orphan;acl/owner', { as: admin })).json).toEqual([]);
  });

  it('root ACL at /hatrac/;acl', async () => {
    const root = await H('GET', '/;acl', { as: owner });
    expect(Object.keys(root.json).sort()).toEqual(['create', 'owner', 'read', 'subtree-create', 'subtree-owner', 'subtree-read', 'subtree-update']);
    expect((await H('GET', '/;acl/owner', { as: owner })).json).toContain('howner');
    expect((await H('GET', '/;acl/update', { as: owner })).status).toBe(400);
  });
});

describe('ACL matrix (anonymous, a second user, a group member, the owner, a site admin)', () => {
  beforeAll(async () => {
    await mkns('/m');
  });

  it('namespace listing: owner or read (login, group role, *), else 401/403; admins always', async () => {
    await mkns('/m/list');
    expect((await H('GET', '/m/list', { as: owner })).status).toBe(200);
    expectDenied(await H('GET', '/m/list', { as: other }), other);
    expectDenied(await H('GET', '/m/list', { as: member }), member);
    expectDenied(await H('GET', '/m/list', { as: anon }), anon);
    expect((await H('GET', '/m/list', { as: admin })).status).toBe(200);
    await setAcl('/m/list', 'read', ['hother']);
    expect((await H('GET', '/m/list', { as: other })).status).toBe(200);
    expectDenied(await H('GET', '/m/list', { as: member }), member);
    await H('PUT', '/m/list;acl/read/g%3Alab%20members', { as: owner });
    expect((await H('GET', '/m/list', { as: member })).status).toBe(200);
    expectDenied(await H('GET', '/m/list', { as: anon }), anon);
    await H('PUT', '/m/list;acl/read/%2A', { as: owner });
    expect((await H('GET', '/m/list', { as: anon })).status).toBe(200);
    // reading is not owning
    expectDenied(await H('GET', '/m/list;acl', { as: other }), other);
  });

  it('accepts every auth carrier: Girder-Token, Bearer, girderToken and webauthn cookies, Basic (password and token:)', async () => {
    await mkns('/m/auth');
    const carriers: Auth[] = [
      { token: ownerToken },
      { bearer: ownerToken },
      { cookie: `girderToken=${ownerToken}` },
      { cookie: `webauthn=${ownerToken}` },
      { basic: ['howner', 'password-1'] },
      { basic: ['howner', `token:${ownerToken}`] },
    ];
    for (const as of carriers) expect([as, (await H('GET', '/m/auth', { as })).status]).toEqual([as, 200]);
    // the webauthn cookie (deriva-hatrac-cli's carrier) works for writes too
    expect((await H('PUT', '/m/auth/by-cookie', { as: { cookie: `webauthn=${ownerToken}` }, body: 'c' })).status).toBe(201);
    expect((await H('DELETE', '/m/auth/by-cookie', { as: { cookie: `webauthn=${ownerToken}` } })).status).toBe(204);
    expect((await H('PUT', '/m/auth/by-bearer', { as: { bearer: ownerToken }, body: 'b' })).status).toBe(201);
    expect((await H('PUT', '/m/auth/by-basic', { as: { basic: ['howner', 'password-1'] }, body: 'b' })).status).toBe(201);
    expect((await H('GET', '/m/auth/by-basic;acl/owner', { as: owner })).json).toEqual(['howner']);
    // a wrong password or an unknown token is not the owner
    expect((await H('GET', '/m/auth', { as: { bearer: 'not-a-token' } })).status).toBe(401);
    expect((await H('GET', '/m/auth', { as: { basic: ['howner', 'wrong-password'] } })).status).toBe(401);
  });

  it('subtree-read on a namespace applies strictly below it', async () => {
    await mkns('/m/sr');
    await mkns('/m/sr/child');
    await put('/m/sr/obj', 'sr');
    await setAcl('/m/sr', 'subtree-read', ['hother']);
    expectDenied(await H('GET', '/m/sr', { as: other }), other);
    expect((await H('GET', '/m/sr/child', { as: other })).status).toBe(200);
    expect((await H('GET', '/m/sr/obj', { as: other })).text).toBe('sr');
    expect((await H('GET', '/m/sr/obj;versions', { as: other })).status).toBe(200);
    expect((await H('GET', '/m/sr/obj;metadata', { as: other })).status).toBe(200);
    expectDenied(await H('GET', '/m/sr/obj;acl', { as: other }), other);
    expectDenied(await H('GET', '/m/sr/obj', { as: anon }), anon);
    expectDenied(await H('GET', '/m/sr/obj', { as: member }), member);
    await setAcl('/m/sr', 'subtree-read', ['*']);
    expect((await H('GET', '/m/sr/obj', { as: anon })).text).toBe('sr');
    expectDenied(await H('GET', '/m/sr', { as: anon }), anon);
  });

  it('creating a child needs the parent\'s owner or create (or ancestors\' subtree-create); subtree-create does not cover direct children', async () => {
    await mkns('/m/sc');
    await mkns('/m/sc/child');
    expectDenied(await H('PUT', '/m/sc/o1', { as: other, body: 'x' }), other);
    expectDenied(await H('PUT', '/m/sc/o1', { as: anon, body: 'x' }), anon);
    await setAcl('/m/sc', 'subtree-create', ['hother']);
    expectDenied(await H('PUT', '/m/sc/o1', { as: other, body: 'x' }), other);
    expect((await H('PUT', '/m/sc/child/o1', { as: other, body: 'x' })).status).toBe(201);
    expect((await H('PUT', '/m/sc/child/n1', { as: other, headers: { 'Content-Type': NS_TYPE } })).status).toBe(201);
    await setAcl('/m/sc', 'create', ['g:lab members']);
    const made = await H('PUT', '/m/sc/o2', { as: member, body: 'by member' });
    expect(made.status).toBe(201);
    const mv = versionOf(made);
    // the creator owns what it made: object and version
    expect((await H('GET', '/m/sc/o2;acl/owner', { as: member })).json).toEqual(['hmember']);
    expect((await H('GET', `/m/sc/o2:${mv};acl/owner`, { as: member })).json).toEqual(['hmember']);
    expect((await H('GET', '/m/sc/o2', { as: member })).text).toBe('by member');
    // the namespace's owner does not own it (owner is not inherited without subtree-owner)
    expect((await H('GET', '/m/sc/o2', { as: owner })).status).toBe(403);
    expectDenied(await H('PUT', '/m/sc/o3', { as: other, body: 'x' }), other);
    // creating a new child does not allow updating someone else's object
    expectDenied(await H('PUT', '/m/sc/o2', { as: other, body: 'x' }), other);
  });

  it('new versions need the object\'s owner or update, or an ancestor\'s subtree-update; a new version belongs to its creator only', async () => {
    await mkns('/m/up');
    const v1 = await put('/m/up/obj', 'v1');
    expectDenied(await H('PUT', '/m/up/obj', { as: other, body: 'x' }), other);
    expectDenied(await H('PUT', '/m/up/obj', { as: anon, body: 'x' }), anon);
    expect((await H('PUT', '/m/up/obj;acl/update/hother', { as: owner })).status).toBe(204);
    const v2 = await put('/m/up/obj', 'v2 by other', other);
    expect((await H('GET', '/m/up/obj', { as: other })).text).toBe('v2 by other');
    expectDenied(await H('GET', `/m/up/obj:${v1}`, { as: other }), other);
    expect((await H('GET', `/m/up/obj:${v2};acl`, { as: other })).json).toEqual({ owner: ['hother'], read: [] });
    expectDenied(await H('GET', '/m/up/obj;versions', { as: other }), other);
    // subtree-update on the namespace covers objects directly in it, but not new names
    await put('/m/up/obj2', 'v1');
    await setAcl('/m/up', 'subtree-update', ['g:lab members']);
    expect((await H('PUT', '/m/up/obj2', { as: member, body: 'by member' })).status).toBe(201);
    expectDenied(await H('PUT', '/m/up/new', { as: member, body: 'x' }), member);
  });

  it('object read lists versions only; version read gives content and metadata only; object subtree-read gives content and metadata', async () => {
    await mkns('/m/rd');
    const v = await put('/m/rd/obj', 'secret', owner, { 'Content-Type': 'text/plain' });
    const who: Auth[] = [other, anon];
    for (const as of who) {
      expectDenied(await H('GET', '/m/rd/obj', { as }), as);
      expectDenied(await H('HEAD', '/m/rd/obj', { as }), as);
      expectDenied(await H('GET', '/m/rd/obj;versions', { as }), as);
      expectDenied(await H('GET', '/m/rd/obj;metadata', { as }), as);
    }
    await setAcl('/m/rd/obj', 'read', ['hother', '*']);
    for (const as of who) {
      expect((await H('GET', '/m/rd/obj;versions', { as })).json).toEqual([`/hatrac/m/rd/obj:${v}`]);
      expectDenied(await H('GET', '/m/rd/obj', { as }), as);
      expectDenied(await H('GET', '/m/rd/obj;metadata', { as }), as);
    }
    await H('DELETE', '/m/rd/obj;acl/read', { as: owner });
    await setAcl(`/m/rd/obj:${v}`, 'read', ['hother']);
    expect((await H('GET', '/m/rd/obj', { as: other })).text).toBe('secret');
    expect((await H('GET', `/m/rd/obj:${v}`, { as: other })).text).toBe('secret');
    expect((await H('GET', '/m/rd/obj;metadata', { as: other })).json).toEqual({ 'content-type': 'text/plain' });
    expect((await H('GET', `/m/rd/obj:${v};metadata/content-type`, { as: other })).text).toBe('text/plain\n');
    expectDenied(await H('GET', '/m/rd/obj;versions', { as: other }), other);
    expectDenied(await H('GET', '/m/rd/obj', { as: anon }), anon);
    expectDenied(await H('GET', `/m/rd/obj:${v};acl`, { as: other }), other);
    await H('DELETE', `/m/rd/obj:${v};acl/read`, { as: owner });
    expectDenied(await H('GET', '/m/rd/obj', { as: other }), other);
    await setAcl('/m/rd/obj', 'subtree-read', ['g:lab members']);
    expect((await H('GET', '/m/rd/obj', { as: member })).text).toBe('secret');
    expect((await H('GET', '/m/rd/obj;metadata', { as: member })).status).toBe(200);
    expectDenied(await H('GET', '/m/rd/obj;versions', { as: member }), member);
    expectDenied(await H('GET', '/m/rd/obj', { as: other }), other);
    // a later version is covered by the object's subtree-read as well
    await put('/m/rd/obj', 'newer');
    expect((await H('GET', '/m/rd/obj', { as: member })).text).toBe('newer');
  });

  it('object subtree-owner: reads every version, but neither deletes a single version nor edits version ACLs or metadata', async () => {
    await mkns('/m/so');
    const v1 = await put('/m/so/obj', 'one');
    const v2 = await put('/m/so/obj', 'two');
    await setAcl('/m/so/obj', 'subtree-owner', ['hother']);
    expect((await H('GET', '/m/so/obj', { as: other })).text).toBe('two');
    expect((await H('GET', `/m/so/obj:${v1}`, { as: other })).text).toBe('one');
    expectDenied(await H('GET', '/m/so/obj;metadata', { as: other }), other);
    expectDenied(await H('DELETE', `/m/so/obj:${v2}`, { as: other }), other);
    expectDenied(await H('GET', `/m/so/obj:${v2};acl`, { as: other }), other);
    expectDenied(await H('PUT', `/m/so/obj:${v2};acl/read/%2A`, { as: other }), other);
    expectDenied(await H('PUT', `/m/so/obj:${v2};metadata/content-type`, { as: other, body: 'a/b', headers: { 'Content-Type': 'text/plain' } }), other);
    expectDenied(await H('GET', '/m/so/obj;acl', { as: other }), other);
    // deleting the object needs the object's owner too; with it, subtree-owner covers the versions
    expectDenied(await H('DELETE', '/m/so/obj', { as: other }), other);
    expect((await H('PUT', '/m/so/obj;acl/owner/hother', { as: owner })).status).toBe(204);
    expect((await H('DELETE', '/m/so/obj', { as: other })).status).toBe(204);
    expect((await H('GET', '/m/so/obj', { as: owner })).status).toBe(404);
  });

  it('the object\'s owner alone cannot delete it while live versions belong to someone else', async () => {
    await mkns('/m/od');
    await put('/m/od/obj', 'theirs');
    await setAcl('/m/od/obj', 'owner', ['howner', 'hother']);
    expect((await H('GET', '/m/od/obj;acl', { as: other })).status).toBe(200);
    expectDenied(await H('DELETE', '/m/od/obj', { as: other }), other);
    expect((await H('GET', '/m/od/obj', { as: owner })).text).toBe('theirs');
    expect((await H('PUT', '/m/od/obj;acl/subtree-owner/hother', { as: other })).status).toBe(204);
    expect((await H('DELETE', '/m/od/obj', { as: other })).status).toBe(204);
  });

  it('namespace subtree-owner owns everything below (not the namespace itself)', async () => {
    await mkns('/m/nso');
    await mkns('/m/nso/deep');
    const v = await put('/m/nso/deep/obj', 'deep one');
    await setAcl('/m/nso', 'subtree-owner', ['g:lab members']);
    expectDenied(await H('GET', '/m/nso', { as: member }), member);
    expectDenied(await H('GET', '/m/nso;acl', { as: member }), member);
    expect((await H('GET', '/m/nso/deep', { as: member })).status).toBe(200);
    expect((await H('GET', '/m/nso/deep;acl', { as: member })).status).toBe(200);
    expect((await H('GET', '/m/nso/deep/obj', { as: member })).text).toBe('deep one');
    expect((await H('GET', '/m/nso/deep/obj;versions', { as: member })).status).toBe(200);
    expect((await H('GET', '/m/nso/deep/obj;metadata', { as: member })).status).toBe(200);
    expect((await H('GET', `/m/nso/deep/obj:${v};acl`, { as: member })).status).toBe(200);
    expect((await H('PUT', `/m/nso/deep/obj:${v};metadata/content-type`, { as: member, body: 'text/plain', headers: { 'Content-Type': 'text/plain' } })).status).toBe(204);
    expect((await H('PUT', '/m/nso/deep/made-by-member', { as: member, body: 'm' })).status).toBe(201);
    expectDenied(await H('PUT', '/m/nso/made-by-member', { as: member, body: 'm' }), member); // the namespace's own subtree-owner does not cover it
    expect((await H('DELETE', `/m/nso/deep/obj:${v}`, { as: member })).status).toBe(204);
    expect((await H('DELETE', '/m/nso/deep', { as: member })).status).toBe(204);
    expectDenied(await H('DELETE', '/m/nso', { as: member }), member);
  });

  it('deleting a namespace needs ownership of every descendant; one missing right aborts the whole delete', async () => {
    await mkns('/m/del');
    await mkns('/m/del/sub');
    await put('/m/del/sub/mine', 'mine');
    await setAcl('/m/del', 'subtree-create', ['hother']);
    const theirs = await put('/m/del/sub/theirs', 'theirs', other);
    expectDenied(await H('DELETE', '/m/del', { as: other }), other);
    expectDenied(await H('DELETE', '/m/del', { as: anon }), anon);
    expect((await H('DELETE', '/m/del', { as: owner })).status).toBe(403);
    expect((await H('GET', '/m/del/sub', { as: owner })).json).toEqual(['/hatrac/m/del/sub/mine', '/hatrac/m/del/sub/theirs']);
    expect((await H('GET', '/m/del/sub/mine', { as: owner })).text).toBe('mine');
    expect((await H('GET', `/m/del/sub/theirs:${theirs}`, { as: other })).text).toBe('theirs');
    await setAcl('/m/del', 'subtree-owner', ['howner']);
    expect((await H('DELETE', '/m/del', { as: owner })).status).toBe(204);
    expect((await H('GET', '/m/del/sub/theirs', { as: other })).status).toBe(404);
  });

  it('preconditions, absent ACL roles, unknown metadata fields and multi-ranges are decided before authorization', async () => {
    await mkns('/m/pre');
    const v = await put('/m/pre/obj', 'private');
    for (const as of [anon, other]) {
      expect((await H('GET', '/m/pre/obj', { as, headers: { 'If-None-Match': `"${v}"` } })).status).toBe(304);
      expect((await H('GET', '/m/pre/obj', { as, headers: { 'If-Match': '"other"' } })).status).toBe(304);
      expect((await H('PUT', '/m/pre/obj', { as, body: 'x', headers: { 'If-Match': '"other"' } })).status).toBe(412);
      expect((await H('GET', '/m/pre/obj;acl/owner/nobody', { as })).status).toBe(404);
      expect((await H('GET', '/m/pre/obj;metadata/bogus', { as })).status).toBe(400);
      expect((await H('GET', '/m/pre/obj', { as, headers: { Range: 'bytes=0-1,3-4' } })).status).toBe(501);
      expectDenied(await H('GET', '/m/pre/obj', { as }), as);
    }
  });

  it('site admins pass every ACL check, but nobody deletes the root (403)', async () => {
    await mkns('/m/adm');
    const v = await put('/m/adm/obj', 'x');
    await setAcl('/m/adm/obj', 'owner', []);
    await setAcl('/m/adm', 'owner', []);
    expect((await H('GET', '/m/adm', { as: admin })).status).toBe(200);
    expect((await H('GET', '/m/adm/obj', { as: admin })).text).toBe('x');
    expect((await H('GET', '/m/adm/obj;versions', { as: admin })).status).toBe(200);
    expect((await H('PUT', '/m/adm/obj', { as: admin, body: 'y' })).status).toBe(201);
    expect((await H('PUT', '/m/adm/new', { as: admin, body: 'y' })).status).toBe(201);
    expect((await H('PUT', `/m/adm/obj:${v};acl/read/%2A`, { as: admin })).status).toBe(204);
    expect((await H('DELETE', `/m/adm/obj:${v}`, { as: admin })).status).toBe(204);
    expect((await H('DELETE', '/m/adm', { as: admin })).status).toBe(204);
    expect((await H('DELETE', '/', { as: admin })).status).toBe(403);
    expect((await H('DELETE', '/', { as: owner })).status).toBe(403);
    expect((await H('GET', '/', { as: owner })).status).toBe(200);
  });
});

describe('chunked uploads', () => {
  beforeAll(async () => {
    await mkns('/up');
  });

  it('creates a job (201, Location, job URL + one newline), creating the object; status; chunks in any order, re-sent; finalize', async () => {
    const data = Buffer.from('0123456789');
    const res = await H('POST', '/up/obj;upload', {
      as: owner,
      json: { 'chunk-length': 4, 'content-length': 10, 'content-type': 'text/plain', 'content-md5': b64(md5(data)), 'content-sha256': hex(sha256(data)) },
    });
    expect(res.status).toBe(201);
    expect(res.text).toMatch(/^\/hatrac\/up\/obj;upload\/[^/\n]+\n$/);
    const url = res.text.slice(0, -1);
    const id = url.split('/').pop()!;
    expect(pathOf(res.headers.location)).toBe(url);
    expect(res.headers['content-type']).toMatch(/^text\/uri-list/);
    // the object exists, without content
    expect((await H('GET', '/up', { as: owner })).json).toContain('/hatrac/up/obj');
    expect((await H('GET', '/up/obj', { as: owner })).status).toBe(409);

    const list = await H('GET', '/up/obj;upload', { as: owner });
    expect(list.status).toBe(200);
    expect(list.json).toEqual([url]);
    expect((await H('GET', '/up/obj;upload/', { as: owner })).json).toEqual([url]);
    expect((await H('GET', '/up/obj;upload', { as: owner, headers: { Accept: 'text/uri-list' } })).text.split('\n').filter(Boolean)).toEqual([url]);
    const status = await H('GET', `/up/obj;upload/${id}`, { as: owner });
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({
      url,
      target: '/hatrac/up/obj',
      owner: ['howner'],
      'chunk-length': 4,
      'content-length': 10,
      'content-type': 'text/plain',
      'content-md5': b64(md5(data)),
      'content-sha256': b64(sha256(data)),
    });
    expect((await H('GET', `/up/obj;upload/${id}/`, { as: owner })).json).toEqual(status.json);
    expect((await H('HEAD', `/up/obj;upload/${id}`, { as: owner })).status).toBe(200);

    const chunk = (n: number, b: Buffer, headers: Record<string, string> = {}) =>
      H('PUT', `/up/obj;upload/${id}/${n}`, { as: owner, body: b, headers: { 'Content-Type': 'application/octet-stream', ...headers } });
    expect((await chunk(2, data.subarray(8))).status).toBe(204);
    expect((await chunk(0, data.subarray(0, 4), { 'Content-MD5': b64(md5(data.subarray(0, 4))) })).status).toBe(204);
    expect((await chunk(1, Buffer.from('XXXX'))).status).toBe(204);
    expect((await chunk(1, data.subarray(4, 8), { 'Content-SHA256': b64(sha256(data.subarray(4, 8))) })).status).toBe(204); // re-sent
    expect((await H('GET', `/up/obj;upload/${id}/0`, { as: owner })).status).toBe(405);

    const fin = await H('POST', `/up/obj;upload/${id}`, { as: owner });
    expect(fin.status).toBe(201);
    const v = versionOf(fin);
    expect(fin.text).toBe(`/hatrac/up/obj:${v}\n`);
    expect(pathOf(fin.headers.location)).toBe(`/hatrac/up/obj:${v}`);
    const got = await H('GET', '/up/obj', { as: owner });
    expect(got.text).toBe('0123456789');
    expect(got.headers['content-type']).toBe('text/plain');
    expect(got.headers['content-md5']).toBe(b64(md5(data)));
    expect(got.headers['content-sha256']).toBe(b64(sha256(data)));
    expect(got.headers['content-location']).toBe(`/hatrac/up/obj:${v}`);
    expect((await H('GET', `/up/obj:${v};acl/owner`, { as: owner })).json).toEqual(['howner']);
    // a finalized job is gone
    expect((await H('GET', `/up/obj;upload/${id}`, { as: owner })).status).toBe(404);
    expect((await H('POST', `/up/obj;upload/${id}`, { as: owner })).status).toBe(404);
    expect((await H('PUT', `/up/obj;upload/${id}/0`, { as: owner, body: '0123' })).status).toBe(404);
    expect((await H('GET', '/up/obj;upload', { as: owner })).json).toEqual([]);
    // a second job on the existing object adds a version
    const j2 = await job('/up/obj', { chunk_bytes: 3, total_bytes: 5, content_type: 'text/x-second', content_md5: hex(md5('abcde')) });
    expect((await H('GET', `/up/obj;upload/${j2.id}`, { as: owner })).json).toMatchObject({ 'chunk-length': 3, 'content-length': 5, 'content-type': 'text/x-second', 'content-md5': b64(md5('abcde')) });
    expect((await H('PUT', `/up/obj;upload/${j2.id}/1`, { as: owner, body: 'de' })).status).toBe(204);
    expect((await H('PUT', `/up/obj;upload/${j2.id}/0`, { as: owner, body: 'abc' })).status).toBe(204);
    expect((await H('POST', `/up/obj;upload/${j2.id}`, { as: owner })).status).toBe(201);
    expect((await H('GET', '/up/obj', { as: owner })).text).toBe('abcde');
    expect((await H('GET', '/up/obj;versions', { as: owner })).json).toHaveLength(2);
  });

  it('enforces chunk numbers and sizes: index ≥ ceil(N/K) → 409, not a non-negative integer → 400, wrong length → 409, checksum mismatch → 400', async () => {
    const { id } = await job('/up/rules', { 'chunk-length': 4, 'content-length': 10 });
    const c = (n: string, b: string | Buffer, headers: Record<string, string> = {}) => H('PUT', `/up/rules;upload/${id}/${n}`, { as: owner, body: b, headers });
    expect((await c('3', 'ab')).status).toBe(409);
    expect((await c('99', 'abcd')).status).toBe(409);
    expect((await c('-1', 'abcd')).status).toBe(400);
    expect((await c('x', 'abcd')).status).toBe(400);
    expect((await c('1.5', 'abcd')).status).toBe(400);
    expect((await c('0', 'abc')).status).toBe(409); // a non-final chunk must be exactly K
    expect((await c('0', 'abcde')).status).toBe(409);
    expect((await c('2', 'abc')).status).toBe(409); // the final chunk must be N − (n−1)·K = 2
    expect((await c('2', 'a')).status).toBe(409);
    expect((await c('0', 'abcd', { 'Content-MD5': b64(md5('wxyz')) })).status).toBe(400);
    expect((await c('0', 'abcd', { 'Content-MD5': 'bad' })).status).toBe(400);
    const nolen = await rawExchange(t.url, rawHead('PUT', `/hatrac/up/rules;upload/${id}/0`, { ...authHeaders(owner) }), undefined, false);
    expect(nolen?.status).toBe(411);
    // none of that stored anything: finalize with every chunk missing → 409, and the job stays
    expect((await H('POST', `/up/rules;upload/${id}`, { as: owner })).status).toBe(409);
    expect((await H('GET', `/up/rules;upload/${id}`, { as: owner })).status).toBe(200);
    expect((await c('0', 'abcd')).status).toBe(204);
    expect((await c('2', 'ij')).status).toBe(204);
    expect((await H('POST', `/up/rules;upload/${id}`, { as: owner })).status).toBe(409); // chunk 1 missing
    expect((await c('1', 'efgh')).status).toBe(204);
    expect((await H('POST', `/up/rules;upload/${id}`, { as: owner })).status).toBe(201);
    expect((await H('GET', '/up/rules', { as: owner })).text).toBe('abcdefghij');
    // N = 0 accepts no chunk and finalizes to an empty version
    const z = await job('/up/zero', { 'chunk-length': 4, 'content-length': 0 });
    expect((await H('PUT', `/up/zero;upload/${z.id}/0`, { as: owner, body: '' })).status).toBe(409);
    expect((await H('POST', `/up/zero;upload/${z.id}`, { as: owner })).status).toBe(201);
    const empty = await H('GET', '/up/zero', { as: owner });
    expect(empty.status).toBe(200);
    expect(empty.body.length).toBe(0);
  });

  it('verifies a chunk\'s Content-SHA256 like its Content-MD5 (400 on mismatch, format checked)', async () => {
    const { id } = await job('/up/chunksha', { 'chunk-length': 4, 'content-length': 8 });
    const c = (n: string, b: string, headers: Record<string, string>) => H('PUT', `/up/chunksha;upload/${id}/${n}`, { as: owner, body: b, headers });
    expect((await c('0', 'abcd', { 'Content-SHA256': b64(md5('abcd')) })).status).toBe(400);
    expect((await c('0', 'abcd', { 'Content-SHA256': hex(sha256('wxyz')) })).status).toBe(400);
    expect((await c('0', 'abcd', { 'Content-SHA256': b64(sha256('wxyz')) })).status).toBe(400);
    expect((await c('0', 'abcd', { 'Content-SHA256': hex(sha256('abcd')) })).status).toBe(204);
    expect((await c('1', 'efgh', { 'Content-SHA256': b64(sha256('efgh')) })).status).toBe(204);
    expect((await H('POST', `/up/chunksha;upload/${id}`, { as: owner })).status).toBe(201);
    expect((await H('GET', '/up/chunksha', { as: owner })).text).toBe('abcdefgh');
  });

  it('verifies the whole upload at finalize: MD5 or SHA-256 mismatch → 409 and the job remains; cancel removes it', async () => {
    for (const sums of [{ 'content-md5': b64(md5('nope')) }, { 'content-md5': hex(md5('nope')) }, { 'content-sha256': b64(sha256('nope')) }, { 'content-sha256': hex(sha256('nope')) }]) {
      const { id } = await job('/up/mismatch', { 'chunk-length': 8, 'content-length': 8, ...sums });
      expect((await H('PUT', `/up/mismatch;upload/${id}/0`, { as: owner, body: 'abcdefgh' })).status).toBe(204);
      expect((await H('POST', `/up/mismatch;upload/${id}`, { as: owner })).status).toBe(409);
      expect((await H('GET', `/up/mismatch;upload/${id}`, { as: owner })).status).toBe(200);
      expect((await H('DELETE', `/up/mismatch;upload/${id}/`, { as: owner })).status).toBe(204);
      expect((await H('GET', `/up/mismatch;upload/${id}`, { as: owner })).status).toBe(404);
      expect((await H('DELETE', `/up/mismatch;upload/${id}`, { as: owner })).status).toBe(404);
    }
    expect((await H('GET', '/up/mismatch', { as: owner })).status).toBe(409);
    expect((await H('GET', '/up/mismatch;versions', { as: owner })).json).toEqual([]);
  });

  it('validates the job request: JSON content type and body, required integers, chunk-length > 0, checksum and disposition forms', async () => {
    const bad: [string, ReqOpts][] = [
      ['text/plain type', { body: JSON.stringify({ 'chunk-length': 4, 'content-length': 4 }), headers: { 'Content-Type': 'text/plain' } }],
      ['a body that is not JSON', { body: '{not json', headers: { 'Content-Type': 'application/json' } }],
      ['a JSON array', { json: [4, 4] }],
      ['no chunk-length', { json: { 'content-length': 4 } }],
      ['no content-length', { json: { 'chunk-length': 4 } }],
      ['a string chunk-length', { json: { 'chunk-length': '4', 'content-length': 4 } }],
      ['a fractional content-length', { json: { 'chunk-length': 4, 'content-length': 4.5 } }],
      ['chunk-length 0', { json: { 'chunk-length': 0, 'content-length': 4 } }],
      ['a negative chunk-length', { json: { 'chunk-length': -4, 'content-length': 4 } }],
      ['a negative content-length', { json: { 'chunk-length': 4, 'content-length': -1 } }],
      ['a bad md5', { json: { 'chunk-length': 4, 'content-length': 4, 'content-md5': 'xyz' } }],
      ['a bad sha256', { json: { 'chunk-length': 4, 'content-length': 4, 'content-sha256': b64(md5('x')) } }],
      ['a bad disposition', { json: { 'chunk-length': 4, 'content-length': 4, 'content-disposition': 'attachment' } }],
    ];
    for (const [label, opts] of bad) {
      const res = await H('POST', '/up/v;upload', { as: owner, ...opts });
      expect([label, res.status]).toEqual([label, 400]);
    }
    expect((await H('POST', '/up/v2;upload', { as: owner, json: { 'chunk-length': 4, 'content-length': 4 }, headers: { 'If-Match': '*' } })).status).toBe(412);
    expect((await H('POST', '/up;upload', { as: owner, json: { 'chunk-length': 4, 'content-length': 4 } })).status).toBe(409);
    expect((await H('POST', '/up/nope/x;upload', { as: owner, json: { 'chunk-length': 4, 'content-length': 4 } })).status).toBe(404);
    const deep = await H('POST', '/up/made/by/job;upload?parents=true', { as: owner, json: { 'chunk-length': 4, 'content-length': 4 } });
    expect(deep.status).toBe(201);
    expect((await H('GET', '/up/made/by', { as: owner })).json).toEqual(['/hatrac/up/made/by/job']);
    expect((await H('GET', '/up;upload', { as: owner })).status).toBe(404);
    expectDenied(await H('POST', '/up/anon;upload', { as: anon, json: { 'chunk-length': 4, 'content-length': 4 } }), anon);
    expectDenied(await H('POST', '/up/other;upload', { as: other, json: { 'chunk-length': 4, 'content-length': 4 } }), other);
  });

  it('job rights: list needs the object\'s owner, status/chunks/finalize the job\'s owner, cancel also an ancestor owner', async () => {
    await mkns('/up/acl');
    await put('/up/acl/obj', 'v1');
    await setAcl('/up/acl/obj', 'update', ['hother']);
    const mine = await job('/up/acl/obj', { 'chunk-length': 2, 'content-length': 2 });
    const theirs = await job('/up/acl/obj', { 'chunk-length': 2, 'content-length': 2 }, other);
    expect((await H('GET', `/up/acl/obj;upload/${theirs.id}`, { as: other })).json.owner).toEqual(['hother']);
    expect((await H('GET', '/up/acl/obj;upload', { as: owner })).json.sort()).toEqual([mine.url, theirs.url].sort());
    expectDenied(await H('GET', '/up/acl/obj;upload', { as: other }), other);
    expectDenied(await H('GET', '/up/acl/obj;upload', { as: anon }), anon);
    for (const as of [other, anon]) {
      expectDenied(await H('GET', `/up/acl/obj;upload/${mine.id}`, { as }), as);
      expectDenied(await H('PUT', `/up/acl/obj;upload/${mine.id}/0`, { as, body: 'xx' }), as);
      expectDenied(await H('POST', `/up/acl/obj;upload/${mine.id}`, { as }), as);
      expectDenied(await H('DELETE', `/up/acl/obj;upload/${mine.id}`, { as }), as);
    }
    // the object's owner is not the job's owner
    expect((await H('GET', `/up/acl/obj;upload/${theirs.id}`, { as: owner })).status).toBe(403);
    expect((await H('PUT', `/up/acl/obj;upload/${theirs.id}/0`, { as: owner, body: 'xx' })).status).toBe(403);
    expect((await H('PUT', `/up/acl/obj;upload/${theirs.id}/0`, { as: other, body: 'zz' })).status).toBe(204);
    const fin = await H('POST', `/up/acl/obj;upload/${theirs.id}`, { as: other });
    expect(fin.status).toBe(201);
    expect((await H('GET', `/up/acl/obj:${versionOf(fin)};acl/owner`, { as: owner })).status).toBe(403);
    expect((await H('GET', `/up/acl/obj:${versionOf(fin)};acl/owner`, { as: other })).json).toEqual(['hother']);
    // an ancestor owner may cancel, but not list or inspect
    const third = await job('/up/acl/obj', { 'chunk-length': 2, 'content-length': 2 }, other);
    await setAcl('/up/acl', 'subtree-owner', ['g:lab members']);
    expect((await H('GET', `/up/acl/obj;upload/${third.id}`, { as: member })).status).toBe(403);
    expect((await H('GET', '/up/acl/obj;upload', { as: member })).status).toBe(403);
    expect((await H('DELETE', `/up/acl/obj;upload/${third.id}`, { as: member })).status).toBe(204);
    // admins pass
    expect((await H('GET', `/up/acl/obj;upload/${mine.id}`, { as: admin })).status).toBe(200);
  });

  it('jobs are cancelled with their object or an ancestor namespace', async () => {
    await mkns('/up/gone');
    const a = await job('/up/gone/obj', { 'chunk-length': 2, 'content-length': 4 });
    const b = await job('/up/gone/sub/obj2', { 'chunk-length': 2, 'content-length': 4 }, owner, '?parents=true');
    expect((await H('PUT', `/up/gone/obj;upload/${a.id}/0`, { as: owner, body: 'ab' })).status).toBe(204);
    expect((await H('DELETE', '/up/gone/obj', { as: owner })).status).toBe(204);
    expect((await H('GET', `/up/gone/obj;upload/${a.id}`, { as: owner })).status).toBe(404);
    expect((await H('PUT', `/up/gone/obj;upload/${a.id}/1`, { as: owner, body: 'cd' })).status).toBe(404);
    expect((await H('POST', `/up/gone/obj;upload/${a.id}`, { as: owner })).status).toBe(404);
    expect((await H('GET', `/up/gone/sub/obj2;upload/${b.id}`, { as: owner })).status).toBe(200);
    expect((await H('DELETE', '/up/gone', { as: owner })).status).toBe(204);
    expect((await H('GET', `/up/gone/sub/obj2;upload/${b.id}`, { as: owner })).status).toBe(404);
    expect((await H('POST', `/up/gone/sub/obj2;upload/${b.id}`, { as: owner })).status).toBe(404);
  });
});

describe('conditional requests on reads', () => {
  let v: string;
  beforeAll(async () => {
    await mkns('/cond');
    v = await put('/cond/obj', 'conditional');
  });

  it('If-None-Match (tag, weak tag, list, *) → 304 with ETag; If-Match failing → 304 too; passing → 200', async () => {
    for (const inm of [`"${v}"`, `W/"${v}"`, `"a", "${v}"`, '*']) {
      for (const method of ['GET', 'HEAD']) {
        const res = await H(method, '/cond/obj', { as: owner, headers: { 'If-None-Match': inm } });
        expect([method, inm, res.status]).toEqual([method, inm, 304]);
        expect(res.headers.etag).toBe(`"${v}"`);
        expect(res.body.length).toBe(0);
      }
    }
    expect((await H('GET', `/cond/obj:${v}`, { as: owner, headers: { 'If-None-Match': `"${v}"` } })).status).toBe(304);
    expect((await H('GET', '/cond/obj', { as: owner, headers: { 'If-None-Match': '"other"' } })).status).toBe(200);
    for (const im of ['"other"', 'W/"other"', '"a", "b"']) {
      expect((await H('GET', '/cond/obj', { as: owner, headers: { 'If-Match': im } })).status).toBe(304);
      expect((await H('HEAD', '/cond/obj', { as: owner, headers: { 'If-Match': im } })).status).toBe(304);
    }
    for (const im of [`"${v}"`, `W/"${v}"`, `"a", "${v}"`, '*']) {
      const res = await H('GET', '/cond/obj', { as: owner, headers: { 'If-Match': im } });
      expect([im, res.status, res.text]).toEqual([im, 200, 'conditional']);
    }
    // after a new version the old tag no longer matches
    const v2 = await put('/cond/obj', 'newer');
    expect((await H('GET', '/cond/obj', { as: owner, headers: { 'If-None-Match': `"${v}"` } })).text).toBe('newer');
    expect((await H('GET', '/cond/obj', { as: owner, headers: { 'If-None-Match': `"${v2}"` } })).status).toBe(304);
    // on a missing resource If-None-Match never fails
    expect((await H('GET', '/cond/nothing', { as: owner, headers: { 'If-None-Match': '*' } })).status).toBe(404);
  });

  it('DELETE of a namespace checks preconditions against its listing etag', async () => {
    await mkns('/cond/ns');
    const ls = await H('GET', '/cond/ns', { as: owner });
    expect((await H('DELETE', '/cond/ns', { as: owner, headers: { 'If-Match': '"stale"' } })).status).toBe(412);
    expect((await H('DELETE', '/cond/ns', { as: owner, headers: { 'If-None-Match': ls.headers.etag } })).status).toBe(412);
    expect((await H('DELETE', '/cond/ns', { as: owner, headers: { 'If-None-Match': '*' } })).status).toBe(412);
    expect((await H('DELETE', '/cond/ns', { as: owner, headers: { 'If-Match': ls.headers.etag } })).status).toBe(204);
  });
});

describe('ranges', () => {
  let v: string;
  const body = Buffer.from('0123456789');
  beforeAll(async () => {
    await mkns('/rng');
    v = await put('/rng/obj', body, owner, { 'Content-Type': 'text/plain', 'Content-MD5': b64(md5(body)), 'Content-SHA256': b64(sha256(body)) });
  });

  it('serves one byte range as 206 with Content-Range, no checksums, ETag and Content-Location kept', async () => {
    const cases: [string, string, string][] = [
      ['bytes=2-5', '2345', 'bytes 2-5/10'],
      ['bytes=7-', '789', 'bytes 7-9/10'],
      ['bytes=-3', '789', 'bytes 7-9/10'],
      ['bytes=5-100', '56789', 'bytes 5-9/10'],
      ['bytes=0-0', '0', 'bytes 0-0/10'],
      ['bytes=9-9', '9', 'bytes 9-9/10'],
    ];
    for (const [range, text, cr] of cases) {
      const res = await H('GET', '/rng/obj', { as: owner, headers: { Range: range } });
      expect([range, res.status, res.text, res.headers['content-range']]).toEqual([range, 206, text, cr]);
      expect(res.headers['content-length']).toBe(String(text.length));
      expect(res.headers['content-md5']).toBeUndefined();
      expect(res.headers['content-sha256']).toBeUndefined();
      expect(res.headers['content-type']).toBe('text/plain');
      expect(res.headers.etag).toBe(`"${v}"`);
      expect(res.headers['content-location']).toBe(`/hatrac/rng/obj:${v}`);
    }
    const byVersion = await H('GET', `/rng/obj:${v}`, { as: owner, headers: { Range: 'bytes=1-2' } });
    expect([byVersion.status, byVersion.text]).toEqual([206, '12']);
    expect((await H('HEAD', '/rng/obj', { as: owner, headers: { Range: 'bytes=1-2' } })).status).toBe(206);
  });

  it('a range covering the whole entity (or a suffix beyond it) is a plain 200 with checksums', async () => {
    for (const range of ['bytes=0-9', 'bytes=0-', 'bytes=-20', 'bytes=0-99']) {
      const res = await H('GET', '/rng/obj', { as: owner, headers: { Range: range } });
      expect([range, res.status, res.text]).toEqual([range, 200, '0123456789']);
      expect(res.headers['content-md5']).toBe(b64(md5(body)));
    }
  });

  it('416 with Content-Range: bytes */N for a start at or beyond the end', async () => {
    for (const range of ['bytes=10-', 'bytes=10-20', 'bytes=100-200']) {
      const res = await H('GET', '/rng/obj', { as: owner, headers: { Range: range } });
      expect([range, res.status]).toEqual([range, 416]);
      expect(res.headers['content-range']).toBe('bytes */10');
    }
  });

  it('501 for several ranges or another unit; a malformed range is ignored (200, full body)', async () => {
    for (const range of ['bytes=0-1,3-4', 'bytes=0-1, 5-6', 'items=0-1', 'lines=1-2']) {
      expect([range, (await H('GET', '/rng/obj', { as: owner, headers: { Range: range } })).status]).toEqual([range, 501]);
    }
    for (const range of ['bytes=5-2', 'bytes=-0', 'bytes=abc', 'bytes=', 'bytes=1-x']) {
      const res = await H('GET', '/rng/obj', { as: owner, headers: { Range: range } });
      expect([range, res.status, res.text]).toEqual([range, 200, '0123456789']);
    }
    // a satisfied If-None-Match wins over the range
    expect((await H('GET', '/rng/obj', { as: owner, headers: { Range: 'bytes=0-1', 'If-None-Match': `"${v}"` } })).status).toBe(304);
  });
});

describe('rename', () => {
  let v1: string;
  let v2: string;
  const rename = (target: string, body: unknown, as: Auth = owner, headers: Record<string, string> = {}) => H('POST', target, { as, json: body, headers });

  beforeAll(async () => {
    await mkns('/ren');
    v1 = await put('/ren/src', 'one', owner, { 'Content-Type': 'text/x-one', 'Content-MD5': b64(md5('one')) });
    v2 = await put('/ren/src', 'two', owner, { 'Content-Type': 'text/x-two' });
  });

  it('copies every version under the new name with the same ids (201, uri-list, no Location); old URLs follow the rename', async () => {
    const res = await rename('/ren/dst', { command: 'rename_from', source_name: '/ren/src' });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBeUndefined();
    expect(res.headers['content-type']).toMatch(/^text\/uri-list/);
    expect(res.text.endsWith('\n')).toBe(true);
    expect(res.text.split('\n').filter(Boolean).sort()).toEqual([`/hatrac/ren/dst:${v1}`, `/hatrac/ren/dst:${v2}`].sort());
    expect((await H('GET', '/ren/dst;versions', { as: owner })).json.sort()).toEqual([`/hatrac/ren/dst:${v1}`, `/hatrac/ren/dst:${v2}`].sort());
    // metadata came along
    expect((await H('GET', `/ren/dst:${v1};metadata`, { as: owner })).json).toEqual({ 'content-type': 'text/x-one', 'content-md5': b64(md5('one')) });
    expect((await H('GET', `/ren/dst:${v2}`, { as: owner })).headers['content-type']).toBe('text/x-two');
    // the source's URLs serve the target's bytes and name the target
    const old = await H('GET', '/ren/src', { as: owner });
    expect(old.status).toBe(200);
    expect(old.text).toBe('two');
    expect(old.headers['content-location']).toBe(`/hatrac/ren/dst:${v2}`);
    const oldV1 = await H('GET', `/ren/src:${v1}`, { as: owner });
    expect(oldV1.text).toBe('one');
    expect(oldV1.headers['content-location']).toBe(`/hatrac/ren/dst:${v1}`);
    // the same rename again creates nothing: 204
    expect((await rename('/ren/dst', { command: 'rename_from', source_name: '/ren/src' })).status).toBe(204);
    // the same source to another target: 409
    expect((await rename('/ren/elsewhere', { command: 'rename_from', source_name: '/ren/src' })).status).toBe(409);
  });

  it('keeps the source\'s current version current on the target (a deliberate fix: the reference copies newest first, making the oldest current)', async () => {
    expect((await H('GET', '/ren/dst;versions', { as: owner })).json).toEqual([`/hatrac/ren/dst:${v2}`, `/hatrac/ren/dst:${v1}`]);
    const cur = await H('GET', '/ren/dst', { as: owner });
    expect(cur.text).toBe('two');
    expect(cur.headers['content-location']).toBe(`/hatrac/ren/dst:${v2}`);
  });

  it('follows chains of renames; access and Content-Location are the final target\'s; deleting the target breaks old URLs (409)', async () => {
    const res = await rename('/ren/dst2', { command: 'rename_from', source_name: '/ren/dst', copy_acls: false });
    expect(res.status).toBe(201);
    const old = await H('GET', `/ren/src:${v1}`, { as: owner });
    expect(old.text).toBe('one');
    expect(old.headers['content-location']).toBe(`/hatrac/ren/dst2:${v1}`);
    expect((await H('GET', `/ren/dst:${v2}`, { as: owner })).headers['content-location']).toBe(`/hatrac/ren/dst2:${v2}`);
    expectDenied(await H('GET', `/ren/src:${v1}`, { as: anon }), anon);
    await setAcl(`/ren/dst2:${v1}`, 'read', ['*']);
    expect((await H('GET', `/ren/src:${v1}`, { as: anon })).text).toBe('one');
    expect((await H('GET', `/ren/dst:${v1}`, { as: anon })).text).toBe('one');
    // deleting a source only removes names; deleting the final target breaks the chain
    expect((await H('DELETE', `/ren/dst2:${v1}`, { as: owner })).status).toBe(204);
    expect((await H('GET', `/ren/src:${v1}`, { as: owner })).status).toBe(409);
    expect((await H('GET', `/ren/dst:${v1}`, { as: owner })).status).toBe(409);
    expect((await H('DELETE', '/ren/src', { as: owner })).status).toBe(204);
    expect((await H('GET', `/ren/dst2:${v2}`, { as: owner })).text).toBe('two');
  });

  it('renames listed versions only (source_versions, or deriva\'s "versions"), with parents=true, with or without copy_acls', async () => {
    await mkns('/ren/sel');
    const a1 = await put('/ren/sel/a', 'a1');
    const a2 = await put('/ren/sel/a', 'a2');
    await setAcl('/ren/sel/a', 'read', ['hother']);
    await setAcl(`/ren/sel/a:${a2}`, 'read', ['*']);
    const one = await rename('/ren/sel/b', { command: 'rename_from', source_name: '/ren/sel/a', source_versions: [a2], copy_acls: true });
    expect(one.status).toBe(201);
    expect(one.text).toBe(`/hatrac/ren/sel/b:${a2}\n`);
    expect((await H('GET', '/ren/sel/b;versions', { as: owner })).json).toEqual([`/hatrac/ren/sel/b:${a2}`]);
    expect((await H('GET', '/ren/sel/b;acl/read', { as: owner })).json).toEqual(['hother']);
    expect((await H('GET', `/ren/sel/b:${a2};acl/read`, { as: owner })).json).toEqual(['*']);
    expect((await H('GET', '/ren/sel/b', { as: anon })).text).toBe('a2');
    const two = await rename('/ren/sel/deep/c?parents=true', { command: 'rename_from', source_name: '/ren/sel/a', versions: [a1] });
    expect(two.status).toBe(201);
    expect(two.text).toBe(`/hatrac/ren/sel/deep/c:${a1}\n`);
    expect((await H('GET', '/ren/sel/deep/c;acl/read', { as: owner })).json).toEqual([]);
    expect((await H('GET', `/ren/sel/deep/c:${a1};acl`, { as: owner })).json).toEqual({ owner: ['howner'], read: [] });
  });

  it('refuses bad rename requests with 400 and impossible ones with 409; rights on both names', async () => {
    await mkns('/ren/bad');
    const s1 = await put('/ren/bad/s', 's1');
    await put('/ren/bad/t', 't1');
    const bad400: [string, ReqOpts][] = [
      ['text/plain', { body: JSON.stringify({ command: 'rename_from', source_name: '/ren/bad/s' }), headers: { 'Content-Type': 'text/plain' } }],
      ['not JSON', { body: '{oops', headers: { 'Content-Type': 'application/json' } }],
      ['no command', { json: { source_name: '/ren/bad/s' } }],
      ['another command', { json: { command: 'copy_from', source_name: '/ren/bad/s' } }],
      ['no source', { json: { command: 'rename_from' } }],
      ['a numeric source', { json: { command: 'rename_from', source_name: 7 } }],
      ['an unknown key', { json: { command: 'rename_from', source_name: '/ren/bad/s', extra: 1 } }],
      ['versions not a list', { json: { command: 'rename_from', source_name: '/ren/bad/s', source_versions: s1 } }],
      ['copy_acls not a boolean', { json: { command: 'rename_from', source_name: '/ren/bad/s', copy_acls: 'yes' } }],
      ['a JSON array', { json: ['rename_from'] }],
    ];
    for (const [label, opts] of bad400) expect([label, (await H('POST', '/ren/bad/n1', { as: owner, ...opts })).status]).toEqual([label, 400]);
    const bad409: [string, unknown, string][] = [
      ['a missing source', { command: 'rename_from', source_name: '/ren/bad/none' }, '/ren/bad/n2'],
      ['a namespace source', { command: 'rename_from', source_name: '/ren/bad' }, '/ren/bad/n3'],
      ['source = target', { command: 'rename_from', source_name: '/ren/bad/s' }, '/ren/bad/s'],
      ['a namespace target', { command: 'rename_from', source_name: '/ren/bad/s' }, '/ren'],
      ['a missing source version', { command: 'rename_from', source_name: '/ren/bad/s', source_versions: ['NOSUCHVERSION'] }, '/ren/bad/n4'],
    ];
    for (const [label, body, target] of bad409) expect([label, (await rename(target, body)).status]).toEqual([label, 409]);
    expect((await rename('/ren/bad/t', { command: 'rename_from', source_name: '/ren/bad/s' }, owner, { 'If-Match': '"nope"' })).status).toBe(412);
    expect((await rename('/ren/nope/x', { command: 'rename_from', source_name: '/ren/bad/s' })).status).toBe(404);
    // rights: the source's owner and the target's
    await setAcl('/ren/bad', 'create', ['hother']);
    expectDenied(await rename('/ren/bad/by-other', { command: 'rename_from', source_name: '/ren/bad/s' }, other), other);
    expectDenied(await rename('/ren/bad/by-anon', { command: 'rename_from', source_name: '/ren/bad/s' }, anon), anon);
    const theirs = await put('/ren/bad/theirs', 'theirs', other);
    expectDenied(await rename('/ren/bad/t', { command: 'rename_from', source_name: '/ren/bad/theirs' }, other), other);
    // onto an existing object of the caller's: adds versions there
    const ok = await rename('/ren/bad/theirs2', { command: 'rename_from', source_name: '/ren/bad/theirs' }, other);
    expect(ok.status).toBe(201);
    expect(ok.text).toBe(`/hatrac/ren/bad/theirs2:${theirs}\n`);
    const onto = await rename('/ren/bad/t', { command: 'rename_from', source_name: '/ren/bad/s' });
    expect(onto.status).toBe(201);
    expect(onto.text).toBe(`/hatrac/ren/bad/t:${s1}\n`);
    expect((await H('GET', '/ren/bad/t;versions', { as: owner })).json).toHaveLength(2);
    expect((await H('GET', '/ren/bad/t', { as: owner })).text).toBe('s1');
  });
});

describe('namespace deletion', () => {
  it('is recursive and permanent: descendants gone, names never reused, parents=true under a deleted ancestor → 409', async () => {
    await mkns('/gone');
    await mkns('/gone/a/b', owner, '?parents=true');
    const v = await put('/gone/a/b/obj', 'x');
    await put('/gone/top', 'y');
    const pending = await job('/gone/a/pending', { 'chunk-length': 2, 'content-length': 2 });
    expect((await H('DELETE', '/gone/a', { as: owner })).status).toBe(204);
    expect((await H('GET', '/gone', { as: owner })).json).toEqual(['/hatrac/gone/top']);
    for (const p of ['/gone/a', '/gone/a/b', '/gone/a/b/obj', `/gone/a/b/obj:${v}`, '/gone/a/pending', `/gone/a/pending;upload/${pending.id}`]) {
      expect([p, (await H('GET', p, { as: owner })).status]).toEqual([p, 404]);
    }
    expect((await H('DELETE', '/gone/a', { as: owner })).status).toBe(404);
    expect((await H('PUT', '/gone/a', { as: owner, headers: { 'Content-Type': NS_TYPE } })).status).toBe(409);
    expect((await H('PUT', '/gone/a', { as: owner, body: 'obj' })).status).toBe(409);
    // a deleted name under a deleted parent: the reference names no order between 404 (parent) and 409 (name)
    expect([404, 409]).toContain((await H('PUT', '/gone/a/b/obj', { as: owner, body: 'again' })).status);
    expect((await H('PUT', '/gone/a/b/obj?parents=true', { as: owner, body: 'again' })).status).toBe(409);
    expect((await H('PUT', '/gone/a/b/fresh', { as: owner, body: 'x' })).status).toBe(404);
    expect((await H('PUT', '/gone/a/b/fresh?parents=true', { as: owner, body: 'x' })).status).toBe(409);
    expect((await H('PUT', '/gone/a/new', { as: owner, body: 'x' })).status).toBe(404);
    expect((await H('PUT', '/gone/a/new?parents=true', { as: owner, body: 'x' })).status).toBe(409);
    expect((await H('POST', '/gone/a/new;upload?parents=true', { as: owner, json: { 'chunk-length': 1, 'content-length': 1 } })).status).toBe(409);
  });
});

describe('over the tree', () => {
  const lookup = (p: string, token = adminToken) => call(t.api, 'GET', '/resource/lookup', { token, query: { path: p } });

  it('shows namespaces as folders, objects as items and versions as files of the hatrac collection', async () => {
    await mkns('/tree/ns', owner, '?parents=true');
    const v1 = await put('/tree/ns/obj', 'version one');
    const v2 = await put('/tree/ns/obj', 'version two!');
    const coll = await lookup('/collection/hatrac');
    expect(coll.status).toBe(200);
    expect(coll.body._modelType).toBe('collection');
    const folder = await lookup('/collection/hatrac/tree/ns');
    expect(folder.status).toBe(200);
    expect(folder.body._modelType).toBe('folder');
    const item = await lookup('/collection/hatrac/tree/ns/obj');
    expect(item.status).toBe(200);
    expect(item.body._modelType).toBe('item');
    const files = await call(t.api, 'GET', `/item/${item.body._id}/files`, { token: adminToken });
    expect(files.status).toBe(200);
    expect(files.body.map((f: any) => f.size).sort()).toEqual([11, 12]);
    // the stored documents carry the Hatrac kind and version ids
    const fdoc = await t.db.collection('folder').findOne({ _id: new ObjectId(folder.body._id) });
    expect(fdoc?.hatrac?.kind).toBe('namespace');
    const idoc = await t.db.collection('item').findOne({ _id: new ObjectId(item.body._id) });
    expect(idoc?.hatrac?.kind).toBe('object');
    const fileDocs = await t.db.collection('file').find({ itemId: new ObjectId(item.body._id) }).toArray();
    expect(fileDocs.map((f) => f.hatrac?.version).sort()).toEqual([v1, v2].sort());
    // a version's bytes through REST are the version's, even after later versions
    const f1 = files.body.find((f: any) => f.size === 11);
    const dl = await call(t.api, 'GET', `/file/${f1._id}/download`, { token: adminToken });
    expect(dl.text).toBe('version one');
  });

  it('decides REST access to Hatrac nodes by their Hatrac ACLs, never granting more than Hatrac does', async () => {
    await mkns('/tree/acl', owner, '?parents=true');
    await put('/tree/acl/obj', 'private');
    const folder = await lookup('/collection/hatrac/tree/acl');
    const item = await lookup('/collection/hatrac/tree/acl/obj');
    const file = (await call(t.api, 'GET', `/item/${item.body._id}/files`, { token: adminToken })).body[0];
    const rest = (p: string, token?: string) => call(t.api, 'GET', p, { token });
    expect((await rest(`/folder/${folder.body._id}`, ownerToken)).status).toBe(200);
    expect((await rest(`/folder/${folder.body._id}`, otherToken)).status).toBe(403);
    expect((await rest(`/item/${item.body._id}`, otherToken)).status).toBe(403);
    expect((await rest(`/file/${file._id}/download`, otherToken)).status).toBe(403);
    expect((await rest(`/folder/${folder.body._id}`)).status).toBe(401);
    // listing alone does not let REST hand out the bytes Hatrac would refuse
    await setAcl('/tree/acl', 'read', ['hother']);
    expect((await H('GET', '/tree/acl/obj', { as: other })).status).toBe(403);
    expect([403, 404]).toContain((await rest(`/file/${file._id}/download`, otherToken)).status);
    // listing and reading below: REST reads the folder, the item and its bytes
    await setAcl('/tree/acl', 'subtree-read', ['hother', '*']);
    await setAcl('/tree/acl', 'read', ['hother', '*']);
    expect((await H('GET', '/tree/acl/obj', { as: other })).text).toBe('private');
    expect((await rest(`/folder/${folder.body._id}`, otherToken)).status).toBe(200);
    expect((await rest(`/item/${item.body._id}`, otherToken)).status).toBe(200);
    expect((await rest(`/file/${file._id}/download`, otherToken)).text).toBe('private');
    expect((await rest(`/file/${file._id}/download`)).text).toBe('private');
    // and loses them again with the Hatrac ACL
    await H('DELETE', '/tree/acl;acl/subtree-read', { as: owner });
    await H('DELETE', '/tree/acl;acl/read', { as: owner });
    expect((await rest(`/folder/${folder.body._id}`, otherToken)).status).toBe(403);
    expect((await rest(`/file/${file._id}/download`, otherToken)).status).toBe(403);
  });

  it('refuses REST writes to Hatrac nodes with 4xx, even from admins, and leaves them intact', async () => {
    await mkns('/tree/ro', owner, '?parents=true');
    const v = await put('/tree/ro/obj', 'keep me');
    const coll = await lookup('/collection/hatrac');
    const folder = await lookup('/collection/hatrac/tree/ro');
    const item = await lookup('/collection/hatrac/tree/ro/obj');
    const files = await call(t.api, 'GET', `/item/${item.body._id}/files`, { token: adminToken });
    const file = files.body[0];
    const attempts: [string, string, any][] = [
      ['PUT', `/folder/${folder.body._id}`, { query: { name: 'renamed' } }],
      ['PUT', `/folder/${folder.body._id}/metadata`, { json: { a: 1 } }],
      ['PUT', `/folder/${folder.body._id}/access`, { query: { access: JSON.stringify({ users: [], groups: [] }), public: true } }],
      ['DELETE', `/folder/${folder.body._id}/contents`, {}],
      ['POST', '/folder', { query: { parentType: 'folder', parentId: folder.body._id, name: 'restdir' } }],
      ['POST', '/item', { query: { folderId: folder.body._id, name: 'restitem' } }],
      ['POST', '/file', { query: { parentType: 'folder', parentId: folder.body._id, name: 'restfile', size: 1 }, body: 'x' }],
      ['POST', '/file', { query: { parentType: 'item', parentId: item.body._id, name: 'restfile', size: 1 }, body: 'x' }],
      ['PUT', `/item/${item.body._id}`, { query: { name: 'renamed' } }],
      ['PUT', `/item/${item.body._id}/metadata`, { json: { a: 1 } }],
      ['DELETE', `/item/${item.body._id}`, {}],
      ['PUT', `/file/${file._id}`, { query: { name: 'renamed' } }],
      ['PUT', `/file/${file._id}/contents`, { query: { size: 1 }, body: 'x' }],
      ['DELETE', `/file/${file._id}`, {}],
      ['DELETE', `/folder/${folder.body._id}`, {}],
      ['DELETE', `/collection/${coll.body._id}`, {}],
    ];
    for (const [method, p, opts] of attempts) {
      const res = await call(t.api, method, p, { token: adminToken, ...opts });
      expect([method, p, res.status >= 400 && res.status < 500]).toEqual([method, p, true]);
    }
    expect((await H('GET', '/tree/ro/obj', { as: owner })).text).toBe('keep me');
    expect((await H('GET', '/tree/ro/obj;versions', { as: owner })).json).toEqual([`/hatrac/tree/ro/obj:${v}`]);
    expect((await H('GET', '/tree/ro', { as: owner })).json).toEqual(['/hatrac/tree/ro/obj']);
    expect((await call(t.api, 'GET', `/folder/${folder.body._id}`, { token: adminToken })).body.name).toBe('ro');
  });

  it('stores identical bytes once in the filesystem assetstore, keeps each version\'s bytes, and frees them with the last reference', async () => {
    const stores = await call(t.api, 'GET', '/assetstore', { token: adminToken });
    const root: string = stores.body.find((s: any) => s.type === 'filesystem' && s.current)?.root ?? stores.body.find((s: any) => s.type === 'filesystem').root;
    expect(root).toBeTruthy();
    const blobs = () => {
      const out: string[] = [];
      const walk = (d: string) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) {
            if (e.name !== 'temp') walk(path.join(d, e.name));
          } else out.push(e.name);
        }
      };
      if (existsSync(root)) walk(root);
      return out;
    };
    await mkns('/tree/dedup', owner, '?parents=true');
    const content = randomBytes(4096);
    const hash = createHash('sha512').update(content).digest('hex');
    const before = blobs().length;
    const a = await put('/tree/dedup/a', content);
    const b = await put('/tree/dedup/b', content);
    const a2 = await put('/tree/dedup/a', content);
    const { id } = await job('/tree/dedup/c', { 'chunk-length': 1024, 'content-length': 4096 });
    for (let i = 3; i >= 0; i--) await H('PUT', `/tree/dedup/c;upload/${id}/${i}`, { as: owner, body: content.subarray(i * 1024, (i + 1) * 1024) });
    const c = versionOf(await H('POST', `/tree/dedup/c;upload/${id}`, { as: owner }));
    expect(blobs().length).toBe(before + 1);
    expect(blobs().filter((n) => n === hash)).toHaveLength(1);
    // a version's bytes never change when later versions come
    const other1 = randomBytes(100);
    await put('/tree/dedup/a', other1);
    expect(blobs().length).toBe(before + 2);
    expect((await H('GET', `/tree/dedup/a:${a}`, { as: owner })).body.equals(content)).toBe(true);
    expect((await H('GET', '/tree/dedup/a', { as: owner })).body.equals(other1)).toBe(true);
    // freed only with the last reference
    await H('DELETE', `/tree/dedup/a:${a}`, { as: owner });
    await H('DELETE', '/tree/dedup/b', { as: owner });
    expect(blobs().filter((n) => n === hash)).toHaveLength(1);
    expect((await H('GET', `/tree/dedup/c:${c}`, { as: owner })).body.equals(content)).toBe(true);
    await H('DELETE', `/tree/dedup/a:${a2}`, { as: owner });
    await H('DELETE', '/tree/dedup/c', { as: owner });
    expect(blobs().filter((n) => n === hash)).toHaveLength(0);
    void b;
  });
});

describe('errors', () => {
  it('are plain text by default', async () => {
    const res = await H('GET', '/no/such/thing', { as: owner });
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
  });
});

// ---------------------------------------------------------------------------------------------
// configuration: firewall ACLs, payload limit, root owners, read-only

describe('configuration', () => {
  describe('defaults (no Hatrac settings)', () => {
    let d: TestServer;
    let dAdmin: Auth;
    let dUser: Auth;
    const D = (method: string, p: string, opts: ReqOpts = {}) => request(d.url, method, P + p, opts);

    beforeAll(async () => {
      d = await startTestServer();
      dAdmin = { token: await login(d.api, 'admin', ADMIN_PASSWORD) };
      dUser = { token: (await registerUser(d.api, 'dflt.user')).token };
    });
    afterAll(() => d?.close());

    it('the root is owned by admins only; the firewall admits everyone, anonymous clients included', async () => {
      expect((await D('PUT', '/mine', { as: dUser, headers: { 'Content-Type': NS_TYPE } })).status).toBe(403);
      expect((await D('PUT', '/mine', { as: anon, headers: { 'Content-Type': NS_TYPE } })).status).toBe(401);
      expect((await D('GET', '/;acl', { as: dUser })).status).toBe(403);
      expect((await D('GET', '/;acl/owner', { as: dAdmin })).json).not.toContain('dflt.user');
      expect((await D('PUT', '/pub', { as: dAdmin, headers: { 'Content-Type': NS_TYPE } })).status).toBe(201);
      expect((await D('PUT', '/pub;acl/create', { as: dAdmin, json: ['*'] })).status).toBe(204);
      expect((await D('PUT', '/pub;acl/read', { as: dAdmin, json: ['*'] })).status).toBe(204);
      // `*` matches anonymous clients: they may create a namespace here
      expect((await D('PUT', '/pub/anon-ns', { as: anon, headers: { 'Content-Type': NS_TYPE } })).status).toBe(201);
      // an anonymous creator owns nothing, so writing an object's content also needs update rights (§3.3)
      expect((await D('PUT', '/pub/by-anon', { as: anon, body: 'anonymous' })).status).toBe(401);
      expect((await D('PUT', '/pub;acl/subtree-update', { as: dAdmin, json: ['*'] })).status).toBe(204);
      expect((await D('PUT', '/pub/by-anon2', { as: anon, body: 'anonymous' })).status).toBe(201);
      expect((await D('PUT', '/pub/by-user', { as: dUser, body: 'user' })).status).toBe(201);
      expect((await D('GET', '/pub', { as: anon })).json).toEqual(expect.arrayContaining(['/hatrac/pub/anon-ns', '/hatrac/pub/by-anon2', '/hatrac/pub/by-user']));
      expect((await D('DELETE', '/pub/by-user', { as: dUser })).status).toBe(204);
    });
  });

  describe('firewall lists and a small payload limit', () => {
    let f: TestServer;
    let fAdmin: string;
    let maker: Auth;
    let plain: Auth;
    let groupie: Auth;
    let makersId: string;
    let groupieId: string;
    const F = (method: string, p: string, opts: ReqOpts = {}) => request(f.url, method, P + p, opts);

    beforeAll(async () => {
      f = await startTestServer({
        HATRAC_ROOT_OWNERS: 'fw.maker',
        HATRAC_FIREWALL_CREATE: 'fw.maker, g:makers',
        HATRAC_FIREWALL_DELETE: 'g:deleters',
        HATRAC_FIREWALL_MANAGE_ACL: 'fw.maker',
        HATRAC_FIREWALL_MANAGE_METADATA: 'fw.maker',
        HATRAC_MAX_PAYLOAD_BYTES: '4096',
      });
      fAdmin = await login(f.api, 'admin', ADMIN_PASSWORD);
      maker = { token: (await registerUser(f.api, 'fw.maker')).token };
      plain = { token: (await registerUser(f.api, 'fw.plain')).token };
      const g = await registerUser(f.api, 'fw.groupie');
      groupieId = g.user._id;
      makersId = (await call(f.api, 'POST', '/group', { token: fAdmin, query: { name: 'makers' } })).body._id;
      await call(f.api, 'POST', `/group/${makersId}/member`, { token: fAdmin, query: { userId: groupieId } });
      groupie = { token: await login(f.api, 'fw.groupie', 'password-1') };
      expect((await F('PUT', '/fw', { as: maker, headers: { 'Content-Type': NS_TYPE } })).status).toBe(201);
      expect((await F('PUT', '/fw;acl/create', { as: maker, json: ['*'] })).status).toBe(204);
    });
    afterAll(() => f?.close());

    it('create: only listed roles (login or group) may create, whatever the ACLs say', async () => {
      expect((await F('PUT', '/fw/by-plain', { as: plain, body: 'x' })).status).toBe(403);
      expect((await F('PUT', '/fw/by-anon', { as: anon, body: 'x' })).status).toBe(401);
      expect((await F('PUT', '/fw/by-plain', { as: plain, headers: { 'Content-Type': NS_TYPE } })).status).toBe(403);
      expect((await F('POST', '/fw/by-plain;upload', { as: plain, json: { 'chunk-length': 4, 'content-length': 4 } })).status).toBe(403);
      expect((await F('PUT', '/fw/by-groupie', { as: groupie, body: 'x' })).status).toBe(201);
      expect((await F('PUT', '/fw/by-maker', { as: maker, body: 'x' })).status).toBe(201);
      expect((await F('GET', '/fw', { as: plain })).status).toBe(403); // reads are not firewalled, but ACLs still apply
    });

    it('delete: only listed roles may delete, even owners', async () => {
      const v = versionOf(await F('PUT', '/fw/del', { as: maker, body: 'x' }));
      expect((await F('DELETE', `/fw/del:${v}`, { as: maker })).status).toBe(403);
      expect((await F('DELETE', '/fw/del', { as: maker })).status).toBe(403);
      const deleters = (await call(f.api, 'POST', '/group', { token: fAdmin, query: { name: 'deleters' } })).body._id;
      const makerUser = (await call(f.api, 'GET', '/user/me', { token: maker!.token! })).body;
      await call(f.api, 'POST', `/group/${deleters}/member`, { token: fAdmin, query: { userId: makerUser._id } });
      const fresh: Auth = { token: await login(f.api, 'fw.maker', 'password-1') };
      expect((await F('DELETE', `/fw/del:${v}`, { as: fresh })).status).toBe(204);
      expect((await F('DELETE', '/fw/del', { as: fresh })).status).toBe(204);
    });

    it('manage_acl and manage_metadata: only listed roles may change ACLs and metadata; reading them is not firewalled', async () => {
      const v = versionOf(await F('PUT', '/fw/meta', { as: groupie, body: 'x' }));
      expect((await F('GET', '/fw/meta;acl', { as: groupie })).status).toBe(200);
      expect((await F('PUT', '/fw/meta;acl/read/%2A', { as: groupie })).status).toBe(403);
      expect((await F('PUT', '/fw/meta;acl/read', { as: groupie, json: ['*'] })).status).toBe(403);
      expect((await F('DELETE', '/fw/meta;acl/owner', { as: groupie })).status).toBe(403);
      expect((await F('DELETE', '/fw/meta;acl/owner/fw.groupie', { as: groupie })).status).toBe(403);
      expect((await F('PUT', '/fw/meta;acl/read/%2A', { as: anon })).status).toBe(401);
      expect((await F('GET', `/fw/meta:${v};metadata`, { as: groupie })).status).toBe(200);
      expect((await F('PUT', `/fw/meta:${v};metadata/content-type`, { as: groupie, body: 'text/plain', headers: { 'Content-Type': 'text/plain' } })).status).toBe(403);
      expect((await F('DELETE', `/fw/meta:${v};metadata/content-type`, { as: groupie })).status).toBe(403);
      const mv = versionOf(await F('PUT', '/fw/meta2', { as: maker, body: 'x' }));
      expect((await F('PUT', '/fw/meta2;acl/read/%2A', { as: maker })).status).toBe(204);
      expect((await F('PUT', `/fw/meta2:${mv};metadata/content-type`, { as: maker, body: 'text/plain', headers: { 'Content-Type': 'text/plain' } })).status).toBe(204);
    });

    it('chunk PUT and job cancel skip the firewall; finalize does not', async () => {
      const a = await F('POST', '/fw/job;upload', { as: groupie, json: { 'chunk-length': 2, 'content-length': 4 } });
      expect(a.status).toBe(201);
      const aId = a.text.trim().split('/').pop();
      const b = await F('POST', '/fw/job;upload', { as: groupie, json: { 'chunk-length': 2, 'content-length': 4 } });
      const bId = b.text.trim().split('/').pop();
      await call(f.api, 'DELETE', `/group/${makersId}/member`, { token: fAdmin, query: { userId: groupieId } });
      const outside: Auth = { token: await login(f.api, 'fw.groupie', 'password-1') };
      expect((await F('PUT', `/fw/job;upload/${aId}/0`, { as: outside, body: 'ab' })).status).toBe(204);
      expect((await F('PUT', `/fw/job;upload/${aId}/1`, { as: outside, body: 'cd' })).status).toBe(204);
      expect((await F('POST', `/fw/job;upload/${aId}`, { as: outside })).status).toBe(403);
      expect((await F('DELETE', `/fw/job;upload/${bId}`, { as: outside })).status).toBe(204);
    });

    it('HATRAC_MAX_PAYLOAD_BYTES: 413 beyond it for PUT and chunks; larger objects go through chunked uploads', async () => {
      expect((await F('PUT', '/fw/limit', { as: maker, body: Buffer.alloc(4097) })).status).toBe(413);
      expect((await F('PUT', '/fw/limit', { as: maker, body: Buffer.alloc(4096, 1) })).status).toBe(201);
      const big = randomBytes(10_000);
      const j = await F('POST', '/fw/big;upload', { as: maker, json: { 'chunk-length': 5000, 'content-length': 10_000, 'content-md5': b64(md5(big)) } });
      expect(j.status).toBe(201);
      const id = j.text.trim().split('/').pop();
      expect((await F('PUT', `/fw/big;upload/${id}/0`, { as: maker, body: big.subarray(0, 5000) })).status).toBe(413);
      const k = await F('POST', '/fw/big2;upload', { as: maker, json: { 'chunk-length': 4000, 'content-length': 10_000, 'content-md5': b64(md5(big)) } });
      const kid = k.text.trim().split('/').pop();
      for (const i of [2, 0, 1]) expect((await F('PUT', `/fw/big2;upload/${kid}/${i}`, { as: maker, body: big.subarray(i * 4000, (i + 1) * 4000) })).status).toBe(204);
      expect((await F('POST', `/fw/big2;upload/${kid}`, { as: maker })).status).toBe(201);
      const got = await F('GET', '/fw/big2', { as: maker });
      expect(got.body.equals(big)).toBe(true);
      expect(got.headers['content-length']).toBe('10000');
    });
  });

  describe('read-only', () => {
    let r: TestServer;
    let ro: Auth;
    let rAdmin: Auth;
    const R = (method: string, p: string, opts: ReqOpts = {}) => request(r.url, method, P + p, opts);

    beforeAll(async () => {
      r = await startTestServer({ HATRAC_READ_ONLY: 'true', HATRAC_ROOT_OWNERS: 'ro.user', HATRAC_FIREWALL_CREATE: 'ro.user', HATRAC_FIREWALL_MANAGE_ACL: '*' });
      ro = { token: (await registerUser(r.api, 'ro.user')).token };
      rAdmin = { token: await login(r.api, 'admin', ADMIN_PASSWORD) };
    });
    afterAll(() => r?.close());

    it('empties every firewall list: reads work, every mutation is refused (401/403)', async () => {
      expect((await R('GET', '/', { as: ro })).status).toBe(200);
      expect((await R('GET', '/;acl', { as: ro })).json.owner).toContain('ro.user');
      expect((await R('GET', '/;acl', { as: rAdmin })).status).toBe(200);
      expect((await R('PUT', '/x', { as: ro, headers: { 'Content-Type': NS_TYPE } })).status).toBe(403);
      expect((await R('PUT', '/x', { as: ro, body: 'x' })).status).toBe(403);
      expect((await R('PUT', '/x', { as: anon, body: 'x' })).status).toBe(401);
      expect((await R('POST', '/x;upload', { as: ro, json: { 'chunk-length': 1, 'content-length': 1 } })).status).toBe(403);
      expect((await R('PUT', '/;acl/read/%2A', { as: ro })).status).toBe(403);
      expect((await R('PUT', '/;acl/read', { as: ro, json: ['*'] })).status).toBe(403);
      expect((await R('DELETE', '/;acl/owner/ro.user', { as: ro })).status).toBe(403);
      expect((await R('GET', '/', { as: ro })).json).toEqual([]);
    });
  });
});

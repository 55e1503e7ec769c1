/**
 * DERIVA's own Hatrac client (PyPI `deriva`, installed unchanged into the test venv by
 * scripts/lib.sh ensure_python_clients) against /hatrac: HatracStore over plain HTTP with a bearer
 * token, and deriva-hatrac-cli over HTTPS on the server's own TLS listener with a self-signed
 * certificate the client trusts through REQUESTS_CA_BUNDLE. See ../shared/reference/hatrac-client.md.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as https from 'node:https';
import { call, login, registerUser } from '../support/http';
import { repoRoot, testCacheDir } from '../support/paths';
import { ADMIN_PASSWORD, startTestServer, TestServer } from '../support/server';

const venv = path.join(testCacheDir(), 'venv', 'bin');
const python = path.join(venv, 'python');
const cli = path.join(venv, 'deriva-hatrac-cli');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeout = 240_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** A REST call over HTTPS trusting `ca` (node's fetch would refuse the self-signed certificate). */
function httpsCall(api: string, ca: Buffer, method: string, p: string, opts: { token?: string; basic?: [string, string]; query?: Record<string, string> } = {}): Promise<{ status: number; body: any }> {
  const url = new URL(api + p);
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = {};
  if (opts.token) headers['Girder-Token'] = opts.token;
  if (opts.basic) headers.Authorization = `Basic ${Buffer.from(opts.basic.join(':')).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: any;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A clean environment for the Python client: no proxies, no stray credentials of the machine. */
function clientEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8', NO_PROXY: '*', no_proxy: '*', ...extra };
  return env;
}

describe('deriva HatracStore (plain HTTP, bearer token)', () => {
  let t: TestServer;
  let admin: string;
  let work: string;

  beforeAll(async () => {
    t = await startTestServer({ HATRAC_ROOT_OWNERS: 'deriva.user' });
    admin = await login(t.api, 'admin', ADMIN_PASSWORD);
    work = mkdtempSync(path.join(tmpdir(), 'strata-deriva-'));
  });
  afterAll(async () => {
    await t?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('creates, lists and deletes namespaces; puts (small, empty, chunked), dedups, gets with checksums, edits ACLs, renames and deletes', async () => {
    expect(existsSync(python)).toBe(true); // scripts/test installs it; run the suites through it
    const user = await registerUser(t.api, 'deriva.user');
    const other = await registerUser(t.api, 'deriva.other');
    const host = new URL(t.url).host; // 127.0.0.1:PORT
    const res = await run(python, [path.join(repoRoot, 'test/clients/deriva_hatrac_store.py'), host, user.token, other.token, work], clientEnv(work));
    const lines = res.stdout.trim().split('\n');
    if (lines.at(-1) !== 'OK') throw new Error(`deriva_hatrac_store.py exited ${res.code}\n${res.stdout}\n${res.stderr}`);
    expect(res.code).toBe(0);

    // the tree shows what the client left: /hatrac/deriva/keep with its objects and versions
    const lookup = (p: string) => call(t.api, 'GET', '/resource/lookup', { token: admin, query: { path: p } });
    const keep = await lookup('/collection/hatrac/deriva/keep');
    expect(keep.body._modelType).toBe('folder');
    const big = await lookup('/collection/hatrac/deriva/keep/big.bin');
    expect(big.body._modelType).toBe('item');
    const bigFiles = await call(t.api, 'GET', `/item/${big.body._id}/files`, { token: admin });
    expect(bigFiles.body.map((f: any) => f.size)).toEqual([3 * 65536 + 12345]);
    const small = await lookup('/collection/hatrac/deriva/keep/sub/small.bin');
    const smallFiles = await call(t.api, 'GET', `/item/${small.body._id}/files`, { token: admin });
    const versions = await fetch(`${t.url}/hatrac/deriva/keep/sub/small.bin;versions`, { headers: { Authorization: `Bearer ${user.token}` } });
    expect(smallFiles.body).toHaveLength(((await versions.json()) as string[]).length);
    expect((await lookup('/collection/hatrac/deriva/scratch')).status).toBe(404);
    expect((await lookup('/collection/hatrac/deriva/keep/tampered')).status).toBe(404);
  }, 300_000);
});

describe('deriva-hatrac-cli (HTTPS, self-signed certificate, credential file and webauthn cookie)', () => {
  let t: TestServer;
  let tls: string;
  let port: string;
  let user: { token: string };
  let admin: string;
  let ca: Buffer;
  const rest = (method: string, p: string, opts: Parameters<typeof httpsCall>[4] = {}) => httpsCall(t.api, ca, method, p, opts);

  beforeAll(async () => {
    tls = mkdtempSync(path.join(tmpdir(), 'strata-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', path.join(tls, 'key.pem'), '-out', path.join(tls, 'cert.pem'),
    ], { stdio: 'ignore' });
    t = await startTestServer({ HATRAC_ROOT_OWNERS: 'cli.user', TLS_CERT: path.join(tls, 'cert.pem'), TLS_KEY: path.join(tls, 'key.pem') });
    expect(t.url.startsWith('https://')).toBe(true);
    port = new URL(t.url).port;
    ca = readFileSync(path.join(tls, 'cert.pem'));
    const auth = await rest('GET', '/user/authentication', { basic: ['admin', ADMIN_PASSWORD] });
    expect(auth.status).toBe(200);
    admin = auth.body.authToken.token;
    const made = await rest('POST', '/user', { query: { login: 'cli.user', email: 'cli.user@example.org', firstName: 'Cli', lastName: 'User', password: 'password-1' } });
    expect(made.status).toBe(200);
    user = { token: made.body.authToken.token };
  });
  afterAll(async () => {
    await t?.close();
    if (tls) rmSync(tls, { recursive: true, force: true });
  });

  /** A fresh HOME holding ~/.deriva/credential.json with `creds`, and the CA bundle trusted. */
  function home(creds: Record<string, unknown>): string {
    const h = mkdtempSync(path.join(tmpdir(), 'strata-deriva-home-'));
    mkdirSync(path.join(h, '.deriva'), { recursive: true });
    writeFileSync(path.join(h, '.deriva', 'credential.json'), JSON.stringify(creds));
    return h;
  }

  async function hatracCli(h: string, hostArgs: string[], args: string[], trust = true): Promise<Run> {
    const env = clientEnv(h, trust ? { REQUESTS_CA_BUNDLE: path.join(tls, 'cert.pem') } : {});
    return run(cli, [...hostArgs, ...args], env);
  }

  function ok(r: Run, what: string): Run {
    if (r.code !== 0) throw new Error(`deriva-hatrac-cli ${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  }

  it('works through a whole session with the bearer token from ~/.deriva/credential.json', async () => {
    expect(existsSync(cli)).toBe(true);
    const hostName = `localhost:${port}`;
    const h = home({ [hostName]: { 'bearer-token': user.token } });
    const hostArgs = ['--host', hostName];
    const files = mkdtempSync(path.join(tmpdir(), 'strata-cli-files-'));
    try {
      const small = path.join(files, 'small.txt');
      writeFileSync(small, 'hello from deriva-hatrac-cli\n');
      const big = path.join(files, 'big.bin');
      const bigBytes = randomBytes(5 * 65536 + 777);
      writeFileSync(big, bigBytes);

      ok(await hatracCli(h, hostArgs, ['mkdir', '-p', '/hatrac/cli/sub']), 'mkdir -p');
      const mkdirAgain = await hatracCli(h, hostArgs, ['mkdir', '/hatrac/cli/sub']);
      expect(mkdirAgain.code).toBe(1);
      expect(mkdirAgain.stderr).toMatch(/Namespace exists/);
      const ls = ok(await hatracCli(h, hostArgs, ['ls', '/hatrac/cli']), 'ls');
      expect(ls.stdout.trim().split('\n')).toEqual(['/hatrac/cli/sub']);

      const put = ok(await hatracCli(h, hostArgs, ['put', small, '/hatrac/cli/sub/small.txt']), 'put');
      expect(put.stdout.trim()).toMatch(/^\/hatrac\/cli\/sub\/small\.txt:[^:/]+$/);
      const putAgain = ok(await hatracCli(h, hostArgs, ['put', small, '/hatrac/cli/sub/small.txt']), 'put (same bytes)');
      expect(putAgain.stdout.trim()).toBe(put.stdout.trim());
      const putBig = ok(await hatracCli(h, hostArgs, ['put', big, '/hatrac/cli/deep/er/big.bin', '--parents', '--chunk-size', '65536']), 'put (chunked)');
      expect(putBig.stdout.trim()).toMatch(/^\/hatrac\/cli\/deep\/er\/big\.bin:[^:/]+$/);

      const out = path.join(files, 'big.out');
      ok(await hatracCli(h, hostArgs, ['get', '/hatrac/cli/deep/er/big.bin', out]), 'get');
      expect(createHash('sha256').update(readFileSync(out)).digest('hex')).toBe(createHash('sha256').update(bigBytes).digest('hex'));
      const cat = ok(await hatracCli(h, hostArgs, ['get', '/hatrac/cli/sub/small.txt', '-']), 'get -');
      expect(cat.stdout).toBe('hello from deriva-hatrac-cli\n');

      const acl = ok(await hatracCli(h, hostArgs, ['getacl', '/hatrac/cli/sub/small.txt']), 'getacl');
      expect(acl.stdout).toContain('owner:\n  cli.user');
      ok(await hatracCli(h, hostArgs, ['setacl', '/hatrac/cli/sub/small.txt', 'read', 'alice', 'g:lab members']), 'setacl');
      ok(await hatracCli(h, hostArgs, ['setacl', '/hatrac/cli/sub/small.txt', 'read', '*', '--add']), 'setacl --add');
      const readAcl = ok(await hatracCli(h, hostArgs, ['getacl', '/hatrac/cli/sub/small.txt', '--access', 'read']), 'getacl --access');
      expect(readAcl.stdout.split('\n').map((l) => l.trim()).filter((l) => l && l !== 'read:').sort()).toEqual(['*', 'alice', 'g:lab members']);
      ok(await hatracCli(h, hostArgs, ['getacl', '/hatrac/cli/sub/small.txt', '--access', 'read', '--role', 'g:lab members']), 'getacl --role');
      ok(await hatracCli(h, hostArgs, ['delacl', '/hatrac/cli/sub/small.txt', 'read', 'alice']), 'delacl role');
      const missing = await hatracCli(h, hostArgs, ['getacl', '/hatrac/cli/sub/small.txt', '--access', 'read', '--role', 'alice']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/No such object or namespace or ACL entry/);
      const badAcl = await hatracCli(h, hostArgs, ['getacl', '/hatrac/cli/sub/small.txt', '--access', 'create']);
      expect(badAcl.code).toBe(1);
      expect(badAcl.stderr).toMatch(/Invalid ACL name/);
      ok(await hatracCli(h, hostArgs, ['delacl', '/hatrac/cli/sub/small.txt', 'read']), 'delacl');

      const ren = ok(await hatracCli(h, hostArgs, ['rename', '/hatrac/cli/sub/small.txt', '/hatrac/cli/sub/renamed.txt', '--copy-acls']), 'rename');
      expect(ren.stdout.trim()).toMatch(/^\/hatrac\/cli\/sub\/renamed\.txt:[^:/]+$/);
      const renamedOut = ok(await hatracCli(h, hostArgs, ['get', '/hatrac/cli/sub/renamed.txt', '-']), 'get renamed');
      expect(renamedOut.stdout).toBe('hello from deriva-hatrac-cli\n');
      ok(await hatracCli(h, hostArgs, ['del', '/hatrac/cli/sub/renamed.txt']), 'del');
      const gone = await hatracCli(h, hostArgs, ['get', '/hatrac/cli/sub/renamed.txt', '-']);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toMatch(/No such object/);
      const reuse = await hatracCli(h, hostArgs, ['put', small, '/hatrac/cli/sub/renamed.txt']);
      expect(reuse.code).toBe(1);
      expect(reuse.stderr).toMatch(/object name is in use/);

      ok(await hatracCli(h, hostArgs, ['rmdir', '/hatrac/cli/sub']), 'rmdir');
      expect(ok(await hatracCli(h, hostArgs, ['ls', '/hatrac/cli']), 'ls after rmdir').stdout.trim().split('\n')).toEqual(['/hatrac/cli/deep']);
      const noSuch = await hatracCli(h, hostArgs, ['ls', '/hatrac/cli/sub']);
      expect(noSuch.code).toBe(1);
      expect(noSuch.stderr).toMatch(/No such object or namespace/);

      // without credentials: anonymous, refused with 401
      const hAnon = home({});
      const denied = await hatracCli(hAnon, hostArgs, ['mkdir', '/hatrac/anon']);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/Authentication required/);
      rmSync(hAnon, { recursive: true, force: true });

      // the tree shows the object left behind, with its one version
      const lookup = await rest('GET', '/resource/lookup', { token: admin, query: { path: '/collection/hatrac/cli/deep/er/big.bin' } });
      expect(lookup.body._modelType).toBe('item');
      const bigFiles = await rest('GET', `/item/${lookup.body._id}/files`, { token: admin });
      expect(bigFiles.body.map((f: any) => f.size)).toEqual([bigBytes.length]);
    } finally {
      rmSync(files, { recursive: true, force: true });
      rmSync(h, { recursive: true, force: true });
    }
  }, 600_000);

  it('authenticates with the webauthn cookie (--token) when the host is localhost:PORT', async () => {
    const h = home({});
    try {
      const hostArgs = ['--host', `localhost:${port}`, '--token', user.token];
      ok(await hatracCli(h, hostArgs, ['mkdir', '/hatrac/by-cookie']), 'mkdir with --token');
      const acl = ok(await hatracCli(h, hostArgs, ['getacl', '/hatrac/by-cookie', '--access', 'owner']), 'getacl with --token');
      expect(acl.stdout).toContain('cli.user');
      ok(await hatracCli(h, hostArgs, ['rmdir', '/hatrac/by-cookie']), 'rmdir with --token');
    } finally {
      rmSync(h, { recursive: true, force: true });
    }
  }, 300_000);

  it('verifies the server certificate: trusted through REQUESTS_CA_BUNDLE at 127.0.0.1:PORT, refused without it', async () => {
    const hostName = `127.0.0.1:${port}`;
    const h = home({ [hostName]: { 'bearer-token': user.token } });
    try {
      ok(await hatracCli(h, ['--host', hostName], ['mkdir', '/hatrac/by-ip']), 'mkdir at 127.0.0.1 with the CA bundle');
      const ls = ok(await hatracCli(h, ['--host', hostName], ['ls', '/hatrac/by-ip']), 'ls at 127.0.0.1');
      expect(ls.stdout.trim()).toBe('');
      // the CLI retries a refused certificate for minutes: the store, with retries off, shows the refusal
      const check = path.join(repoRoot, 'test/clients/deriva_tls_check.py');
      const trusted = await run(python, [check, hostName, user.token], clientEnv(h, { REQUESTS_CA_BUNDLE: path.join(tls, 'cert.pem') }));
      expect([trusted.stdout.trim(), trusted.stderr]).toEqual(['TRUSTED', trusted.stderr]);
      const untrusted = await run(python, [check, hostName, user.token], clientEnv(h));
      expect([untrusted.stdout.trim(), untrusted.stderr]).toEqual(['UNTRUSTED', untrusted.stderr]);
    } finally {
      rmSync(h, { recursive: true, force: true });
    }
  }, 300_000);
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { call } from '../support/http';
import { pidsMatching, spawnServer, waitFor } from '../support/process';

/**
 * The server as an operator runs it: `node dist/main.js` with no MONGO_URI, so it starts the
 * embedded database itself under DATA_DIR.
 */
describe('the server process with its embedded database', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strata-proc-'));
  const dbFile = path.join(dataDir, 'db', 'strata.mv.db');
  afterAll(() => {
    for (const pid of pidsMatching(dataDir)) process.kill(pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  let token = '';
  let adminPassword = '';

  it('starts, prints its URLs and a generated admin password once, and answers', async () => {
    const server = await spawnServer({ DATA_DIR: dataDir, PORT: '0' });
    try {
      expect(server.output()).toContain(`${server.url}/api/v1/docs`);
      const m = /Initial admin: login "admin", password "([^"]+)"/.exec(server.output());
      expect(m).not.toBeNull();
      adminPassword = m![1];
      expect(adminPassword.length).toBeGreaterThanOrEqual(16);
      expect(pidsMatching(dbFile)).toHaveLength(1);

      const version = await call(`${server.url}/api/v1`, 'GET', '/system/version');
      expect(version.body).toMatchObject({ release: '5.0.0', database: 'embedded' });
      const auth = await call(`${server.url}/api/v1`, 'GET', '/user/authentication', { basic: ['admin', adminPassword] });
      expect(auth.status).toBe(200);
      token = auth.body.authToken.token;
      const user = await call(`${server.url}/api/v1`, 'POST', '/user', {
        query: { login: 'persisted', email: 'p@example.org', firstName: 'P', lastName: 'S', password: 'persisted-1' },
      });
      expect(user.status).toBe(200);
      expect((await call(`${server.url}/api/v1`, 'PUT', '/system/setting', { token, query: { key: 'core.brand_name', value: '"Kept"' } })).status).toBe(200);

      // a second server on the same data directory refuses, naming the problem
      const second = spawnServer({ DATA_DIR: dataDir, PORT: '0' });
      const err = await second.then(
        () => null,
        (e: Error & { code?: number }) => e,
      );
      expect(err?.message).toMatch(/in use by another server/);
      expect(err?.code).not.toBe(0);
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
    // SIGTERM stopped the database too
    expect(await waitFor(() => pidsMatching(dbFile).length === 0, 15_000)).toBe(true);
  });

  it('finds every user, token and setting again after a restart, and prints no new password', async () => {
    const server = await spawnServer({ DATA_DIR: dataDir, PORT: '0' });
    try {
      expect(server.output()).not.toMatch(/Initial admin/);
      const api = `${server.url}/api/v1`;
      expect((await call(api, 'GET', '/user/me', { token })).body.login).toBe('admin');
      expect((await call(api, 'GET', '/user/authentication', { basic: ['persisted', 'persisted-1'] })).status).toBe(200);
      expect((await call(api, 'GET', '/system/setting', { token, query: { key: 'core.brand_name' } })).body).toBe('Kept');
    } finally {
      // killed without a chance to clean up: the database must still go away with it
      server.child.kill('SIGKILL');
      await server.exited;
    }
    expect(await waitFor(() => pidsMatching(dbFile).length === 0, 20_000)).toBe(true);
  });

  it('starts again after a SIGKILL with the data intact', async () => {
    const server = await spawnServer({ DATA_DIR: dataDir, PORT: '0' });
    try {
      expect((await call(`${server.url}/api/v1`, 'GET', '/user/me', { token })).body.login).toBe('admin');
    } finally {
      server.child.kill('SIGINT');
      expect(await server.exited).toBe(0);
    }
  });
});

describe('configuration errors and warnings', () => {
  it('stops with one line naming each bad key', async () => {
    const err = await spawnServer({ PORT: 'eighty', REGISTRATION: 'maybe' }).catch((e) => e);
    expect(err.code).toBe(2);
    const lines = err.output.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Invalid configuration: PORT .*; REGISTRATION /);
  });

  it('warns once when bound to a non-loopback address without TLS', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'strata-warn-'));
    const server = await spawnServer({ DATA_DIR: dataDir, PORT: '0', HOST: '0.0.0.0', MONGO_URI: process.env.TEST_MONGO_URI!, MONGO_DB: 'warn_test', ADMIN_PASSWORD: 'admin-pass' });
    try {
      expect(server.output().match(/without TLS/g)).toHaveLength(1);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('speaks HTTPS itself with TLS_CERT and TLS_KEY', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'strata-tls-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const server = await spawnServer({ DATA_DIR: dir, PORT: '0', TLS_CERT: cert, TLS_KEY: key, MONGO_URI: process.env.TEST_MONGO_URI!, MONGO_DB: 'tls_test', ADMIN_PASSWORD: 'admin-pass' });
    try {
      expect(server.url).toMatch(/^https:/);
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get(`${server.url}/api/v1/system/version`, { rejectUnauthorized: false }, (res) => {
            let data = '';
            res.on('data', (d) => (data += d));
            res.on('end', () => resolve(data));
          })
          .on('error', reject);
      });
      expect(JSON.parse(body).release).toBe('5.0.0');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

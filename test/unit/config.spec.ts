import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadConfig } from '../../src/modules/config/load-config';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.host).toBe('127.0.0.1');
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.registrationOpen).toBe(true);
    expect(c.adminLogin).toBe('admin');
    expect(c.adminPassword).toBeUndefined();
    expect(c.tokenLifetimeMs).toBe(180 * 86_400_000);
    expect(c.mongoUri).toBeUndefined();
    expect(c.tls).toBeUndefined();
  });

  it('reads a JSON file and lets the environment win', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'strata-cfg-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ PORT: 9000, REGISTRATION: 'closed', HOST: '127.0.0.2' }));
    const c = loadConfig({ CONFIG_FILE: file, HOST: '127.0.0.3' });
    expect(c.port).toBe(9000);
    expect(c.registrationOpen).toBe(false);
    expect(c.host).toBe('127.0.0.3');
  });

  it.each([
    [{ PORT: 'abc' }, /^Invalid configuration: PORT must be a number/],
    [{ PORT: '70000' }, /PORT must be at most 65535/],
    [{ REGISTRATION: 'sometimes' }, /REGISTRATION/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ MONGO_URI: 'postgres://x' }, /MONGO_URI must start with mongodb:\/\//],
    [{ ADMIN_LOGIN: 'Ad' }, /ADMIN_LOGIN must be a valid login/],
    [{ ADMIN_PASSWORD: '123' }, /ADMIN_PASSWORD must be at least 6 characters$/],
    [{ TLS_CERT: '/etc/hostname' }, /TLS_KEY TLS_CERT and TLS_KEY must be given together/],
    [{ TLS_CERT: '/no/such/cert', TLS_KEY: '/no/such/key' }, /TLS_CERT names a file that does not exist/],
    [{ PLUGINS: 'nonesuch' }, /PLUGINS names unknown plugin\(s\) nonesuch/],
    [{ CONFIG_FILE: '/no/such/file.json' }, /CONFIG_FILE \/no\/such\/file.json cannot be read/],
  ])('refuses %p with one line naming the key', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env as Record<string, string>);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('never echoes a secret in an error', () => {
    expect(() => loadConfig({ ADMIN_PASSWORD: 'abc' })).toThrow(/^(?!.*abc).*$/);
  });
});

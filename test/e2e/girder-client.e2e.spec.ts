import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { registerUser, call, login } from '../support/http';
import { repoRoot, testCacheDir } from '../support/paths';
import { ADMIN_PASSWORD, startTestServer, TestServer } from '../support/server';

const run = promisify(execFile);
const python = path.join(testCacheDir(), 'venv', 'bin', 'python');

describe('girder-client (Girder’s own Python client)', () => {
  let t: TestServer;
  beforeAll(async () => (t = await startTestServer()));
  afterAll(() => t.close());

  it('logs in with a password and with an API key, and reads /user/me', async () => {
    expect(existsSync(python)).toBe(true); // scripts/test installs it; run the suites through it
    const { token, user } = await registerUser(t.api, 'pyclient', 'py:pass/word+1');
    const key = await call(t.api, 'POST', '/api_key', { token, query: { name: 'python' } });
    const { stdout } = await run(python, [path.join(repoRoot, 'test/clients/girder_client_auth.py'), t.api, 'pyclient', 'py:pass/word+1', key.body.key]);
    expect(stdout.trim()).toBe(`OK ${user._id} ${user._id}`);
  });

  it('uploads a tree with a file over 100 MiB in chunks, lists, tags, downloads it back byte for byte, reuses and deletes', async () => {
    const admin = await login(t.api, 'admin', ADMIN_PASSWORD);
    const work = mkdtempSync(path.join(tmpdir(), 'strata-gc-'));
    try {
      const { stdout } = await run(python, [path.join(repoRoot, 'test/clients/girder_client_tree.py'), t.api, admin, work, '130'], { maxBuffer: 1 << 20 });
      expect(stdout.trim().split('\n').at(-1)).toBe('OK');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 300_000);
});

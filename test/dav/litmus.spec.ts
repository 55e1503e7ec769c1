import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startTestServer, TestServer } from '../support/server';
import { call, registerUser } from '../support/http';

const run = promisify(execFile);

/**
 * litmus, the WebDAV conformance suite (Debian package, installed by scripts/test), against a
 * home: every suite passes in full, without warnings (Apache mod_dav passes all 104 tests here too).
 */
const SUITES = ['basic', 'copymove', 'props', 'locks', 'http'];

describe('litmus against /homes/<login>/', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    const u = await registerUser(t.api, 'litmus', 'litmus-account-1');
    await call(t.api, 'PUT', '/homedirpass/set', { token: u.token, form: { password: 'litmus-dav-pass' } });
  });
  afterAll(() => t.close());

  it(`passes every test of ${SUITES.join(', ')}`, async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'litmus-'));
    const { stdout } = await run('litmus', ['-k', `${t.url}/homes/litmus/`, 'litmus', 'litmus-dav-pass'], {
      cwd,
      env: { ...process.env, TESTS: SUITES.join(' ') },
      maxBuffer: 4 << 20,
    }).catch((err) => err as { stdout: string });
    const summaries = [...stdout.matchAll(/<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed/g)].map((m) => ({
      suite: m[1],
      run: Number(m[2]),
      passed: Number(m[3]),
      failed: Number(m[4]),
    }));
    expect(summaries.map((s) => s.suite)).toEqual(SUITES);
    for (const s of summaries) expect({ ...s, failures: s.failed ? stdout.split('\n').filter((l) => l.includes('FAIL')) : [] }).toEqual({ ...s, failed: 0, failures: [] });
    expect(stdout).not.toMatch(/WARNING/);
  }, 120_000);
});

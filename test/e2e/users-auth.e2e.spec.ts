import { ADMIN_PASSWORD, startTestServer, TestServer } from '../support/server';
import { call, client, login, registerUser } from '../support/http';

let t: TestServer;
let adminToken: string;

beforeAll(async () => {
  t = await startTestServer();
  adminToken = await login(t.api, 'admin', ADMIN_PASSWORD);
});
afterAll(() => t.close());

describe('registration', () => {
  it('registers a user, logs them in and shows Girder’s fields', async () => {
    const res = await call(t.api, 'POST', '/user', {
      query: { login: '  Alice.B ', email: 'Alice@Example.org', firstName: 'Alice', lastName: 'B', password: 'secret-1' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ login: 'alice.b', email: 'alice@example.org', _modelType: 'user', admin: false, _accessLevel: 2 });
    expect(res.body._id).toMatch(/^[0-9a-f]{24}$/);
    expect(typeof res.body.created).toBe('string');
    expect(res.body.passwordHash).toBeUndefined();
    expect(res.body.authToken.token).toHaveLength(64);
    expect(res.headers.get('set-cookie')).toMatch(/girderToken=.*HttpOnly/i);
  });

  it.each([
    ['abc', 'too short'],
    ['1abc', 'starts with a digit'],
    ['ab_cd', 'underscore'],
    ['ab cd', 'space'],
    ['a@bcd', 'at sign'],
  ])('refuses the login %p (%s)', async (loginName) => {
    const res = await call(t.api, 'POST', '/user', {
      query: { login: loginName, email: 'x1@example.org', firstName: 'X', lastName: 'Y', password: 'secret-1' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: 'validation', field: 'login' });
  });

  it('refuses a taken login or email with 409, in any case', async () => {
    await registerUser(t.api, 'dupuser');
    const sameLogin = await call(t.api, 'POST', '/user', {
      query: { login: 'DupUser', email: 'other@example.org', firstName: 'a', lastName: 'b', password: 'secret-1' },
    });
    expect(sameLogin.status).toBe(409);
    expect(sameLogin.body.field).toBe('login');
    const sameEmail = await call(t.api, 'POST', '/user', {
      query: { login: 'another', email: 'DUPUSER@example.org', firstName: 'a', lastName: 'b', password: 'secret-1' },
    });
    expect(sameEmail.status).toBe(409);
    expect(sameEmail.body.field).toBe('email');
  });

  it('lets exactly one of concurrent registrations of one login win', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call(t.api, 'POST', '/user', { query: { login: 'racer', email: `racer${i}@example.org`, firstName: 'R', lastName: 'R', password: 'secret-1' } }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(9);
  });

  it('refuses missing fields, bad emails and short passwords with 400', async () => {
    const base = { login: 'fields', email: 'fields@example.org', firstName: 'F', lastName: 'L', password: 'secret-1' };
    for (const [key, value] of [['email', 'not-an-email'], ['password', '123'], ['firstName', '  ']] as const) {
      const res = await call(t.api, 'POST', '/user', { query: { ...base, [key]: value } });
      expect(res.status).toBe(400);
      expect(res.body.field).toBe(key);
    }
    const { password: _omit, ...missing } = base;
    expect((await call(t.api, 'POST', '/user', { query: missing })).status).toBe(400);
  });

  it('accepts a registration sent as a form body, as browsers send it', async () => {
    const res = await call(t.api, 'POST', '/user', {
      form: { login: 'formuser', email: 'formuser@example.org', firstName: 'F', lastName: 'U', password: 'secret-1' },
    });
    expect(res.status).toBe(200);
    expect(res.body.login).toBe('formuser');
  });

  it('makes the first user ever registered a site admin, and only the first', async () => {
    const other = await startTestServer();
    try {
      // a database without users: as on a server whose initial admin was never made
      await other.db.collection('user').deleteMany({});
      await other.db.collection('setting').deleteMany({ key: 'core.first_user_created' });
      const [first, second] = [await registerUser(other.api, 'firstone'), await registerUser(other.api, 'secondone')];
      expect(first.user.admin).toBe(true);
      expect(second.user.admin).toBe(false);
    } finally {
      await other.close();
    }
  });

  it('honours REGISTRATION=closed, except for admins', async () => {
    const closed = await startTestServer({ REGISTRATION: 'closed' });
    try {
      const query = { login: 'closeduser', email: 'c@example.org', firstName: 'C', lastName: 'U', password: 'secret-1' };
      const refused = await call(closed.api, 'POST', '/user', { query });
      expect(refused.status).toBe(403);
      const admin = await login(closed.api, 'admin', ADMIN_PASSWORD);
      const made = await call(closed.api, 'POST', '/user', { query, token: admin });
      expect(made.status).toBe(200);
      expect(made.body.authToken).toBeUndefined();
    } finally {
      await closed.close();
    }
  });
});

describe('login and tokens', () => {
  it('logs in by login and by email, and refuses a wrong password with 401', async () => {
    await registerUser(t.api, 'bob.login', 'bob-password');
    const byLogin = await call(t.api, 'GET', '/user/authentication', { basic: ['bob.login', 'bob-password'] });
    expect(byLogin.status).toBe(200);
    expect(byLogin.body.user.login).toBe('bob.login');
    expect(byLogin.body.authToken).toMatchObject({ scope: ['core.user_auth'] });
    expect(Date.parse(byLogin.body.authToken.expires)).toBeGreaterThan(Date.now() + 179 * 86_400_000);
    const byEmail = await call(t.api, 'GET', '/user/authentication', { basic: ['BOB.LOGIN@example.org', 'bob-password'] });
    expect(byEmail.status).toBe(200);
    const wrong = await call(t.api, 'GET', '/user/authentication', { basic: ['bob.login', 'nope-nope'] });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ message: 'Login failed.', type: 'access' });
  });

  it('accepts passwords with colons, slashes, plus signs and UTF-8', async () => {
    const password = 'p:a/ss+wörd:ü✓';
    await registerUser(t.api, 'colonuser', password);
    expect((await call(t.api, 'GET', '/user/authentication', { basic: ['colonuser', password] })).status).toBe(200);
  });

  it('accepts the token as Girder-Token, Bearer, and as cookie only where the route allows it', async () => {
    const { token, user } = await registerUser(t.api, 'tokenuser');
    expect((await call(t.api, 'GET', '/user/me', { token })).body.login).toBe('tokenuser');
    expect((await call(t.api, 'GET', '/user/me', { bearer: token })).body.login).toBe('tokenuser');
    const cookie = `girderToken=${token}`;
    expect((await call(t.api, 'GET', '/user/me', { cookie })).body.login).toBe('tokenuser');
    // a write with the cookie alone is anonymous (CSRF), a read of a non-cookie route too
    expect((await call(t.api, 'PUT', `/user/${user._id}`, { cookie, query: { firstName: 'X' } })).status).toBe(401);
    expect((await call(t.api, 'GET', '/user', { cookie })).status).toBe(401);
  });

  it('treats an empty Girder-Token as anonymous and an unknown token as 401 where a user is needed', async () => {
    const anon = await call(t.api, 'GET', '/user/me', { token: '' });
    expect(anon.status).toBe(200);
    expect(anon.text).toBe('null');
    expect((await call(t.api, 'GET', '/user', { token: 'x'.repeat(64) })).status).toBe(401);
  });

  it('stores only a hash of each token and refuses an expired one', async () => {
    const { token, user } = await registerUser(t.api, 'expiring');
    const stored = await t.db.collection('token').find({ userId: new (require('mongodb').ObjectId)(user._id) }).toArray();
    expect(stored.length).toBeGreaterThan(0);
    expect(JSON.stringify(stored)).not.toContain(token);
    await t.db.collection('token').updateMany({ userId: stored[0].userId }, { $set: { expires: new Date(Date.now() - 1000) } });
    expect((await call(t.api, 'GET', '/user', { token })).status).toBe(401);
    expect((await call(t.api, 'GET', '/token/current', { token })).text).toBe('null');
  });

  it('gives tokens the configured lifetime', async () => {
    const short = await startTestServer({ TOKEN_LIFETIME_DAYS: '2' });
    try {
      const res = await call(short.api, 'GET', '/user/authentication', { basic: ['admin', ADMIN_PASSWORD] });
      const expires = Date.parse(res.body.authToken.expires);
      expect(expires).toBeGreaterThan(Date.now() + 1.9 * 86_400_000);
      expect(expires).toBeLessThan(Date.now() + 2.1 * 86_400_000);
    } finally {
      await short.close();
    }
  });

  it('revokes the token on logout and on DELETE /token/session', async () => {
    await registerUser(t.api, 'logout.user', 'password-1');
    const first = await login(t.api, 'logout.user', 'password-1');
    const current = await call(t.api, 'GET', '/token/current', { token: first });
    expect(current.body).toMatchObject({ _modelType: 'token', scope: ['core.user_auth'] });
    expect(JSON.stringify(current.body)).not.toContain(first);
    const out = await call(t.api, 'DELETE', '/user/authentication', { token: first });
    expect(out.status).toBe(200);
    expect((await call(t.api, 'GET', '/user', { token: first })).status).toBe(401);

    const second = await login(t.api, 'logout.user', 'password-1');
    expect((await call(t.api, 'DELETE', '/token/session', { token: second })).status).toBe(200);
    expect((await call(t.api, 'GET', '/user', { token: second })).status).toBe(401);
  });

  it('changes a password with the old one, ending the other sessions but not this one', async () => {
    await registerUser(t.api, 'pwchange', 'old-password');
    const a = await login(t.api, 'pwchange', 'old-password');
    const b = await login(t.api, 'pwchange', 'old-password');
    expect((await call(t.api, 'PUT', '/user/password', { token: a, query: { old: 'wrong-old', new: 'new-password' } })).status).toBe(403);
    expect((await call(t.api, 'PUT', '/user/password', { token: a, query: { old: 'old-password', new: '123' } })).status).toBe(400);
    expect((await call(t.api, 'PUT', '/user/password', { token: a, query: { old: 'old-password', new: 'new-password' } })).status).toBe(200);
    expect((await call(t.api, 'GET', '/user/me', { token: a })).body.login).toBe('pwchange');
    expect((await call(t.api, 'GET', '/user', { token: b })).status).toBe(401);
    expect((await call(t.api, 'GET', '/user/authentication', { basic: ['pwchange', 'old-password'] })).status).toBe(401);
    expect((await call(t.api, 'GET', '/user/authentication', { basic: ['pwchange', 'new-password'] })).status).toBe(200);
  });

  it('accepts HTTP Basic with token:<token> and key:<api key> on API routes', async () => {
    const { token } = await registerUser(t.api, 'basicalt');
    expect((await call(t.api, 'GET', '/user/me', { basic: ['basicalt', `token:${token}`] })).body.login).toBe('basicalt');
    const key = await call(t.api, 'POST', '/api_key', { token, query: { name: 'k' } });
    expect((await call(t.api, 'GET', '/user/me', { basic: ['basicalt', `key:${key.body.key}`] })).body.login).toBe('basicalt');
    // another user's token does not log in as this user
    expect((await call(t.api, 'GET', '/user/me', { basic: ['basicalt', `token:${adminToken}`] })).status).toBe(401);
  });
});

describe('API keys', () => {
  it('creates a key shown once, trades it for a token, and revokes its tokens when deactivated', async () => {
    const { token, user } = await registerUser(t.api, 'keyowner');
    const api = client(t.api, { token });
    const created = await api.post('/api_key', { query: { name: 'script', tokenDuration: 1 } });
    expect(created.status).toBe(200);
    expect(created.body.key).toHaveLength(40);
    const listed = await api.get('/api_key');
    expect(listed.body).toHaveLength(1);
    expect(listed.body[0].key).toBeUndefined();
    expect(listed.headers.get('girder-total-count')).toBe('1');

    const traded = await call(t.api, 'POST', '/api_key/token', { query: { key: created.body.key } });
    expect(traded.status).toBe(200);
    expect(traded.body.user._id).toBe(user._id);
    expect(Date.parse(traded.body.authToken.expires)).toBeLessThan(Date.now() + 1.01 * 86_400_000);
    const keyToken = traded.body.authToken.token;
    expect((await call(t.api, 'GET', '/user/me', { token: keyToken })).body.login).toBe('keyowner');

    expect((await api.put(`/api_key/${created.body._id}`, { query: { active: false } })).body.active).toBe(false);
    expect((await call(t.api, 'GET', '/user', { token: keyToken })).status).toBe(401);
    expect((await call(t.api, 'POST', '/api_key/token', { query: { key: created.body.key } })).status).toBe(401);

    expect((await api.delete(`/api_key/${created.body._id}`)).status).toBe(200);
    expect((await api.get('/api_key')).body).toHaveLength(0);
  });

  it('limits a key’s tokens to its scope', async () => {
    const { token } = await registerUser(t.api, 'scopeuser');
    const key = await call(t.api, 'POST', '/api_key', { token, query: { name: 'ro', scope: JSON.stringify(['core.user_info.read']) } });
    const scoped = (await call(t.api, 'POST', '/api_key/token', { query: { key: key.body.key } })).body.authToken.token;
    expect((await call(t.api, 'GET', '/user/me', { token: scoped })).body.login).toBe('scopeuser');
    const me = (await call(t.api, 'GET', '/user/me', { token })).body;
    // an update needs full rights: the scoped token counts as anonymous there
    expect((await call(t.api, 'PUT', `/user/${me._id}`, { token: scoped, query: { firstName: 'Z' } })).status).toBe(401);
    // the same key or token sent as an HTTP Basic password keeps its scope
    expect((await call(t.api, 'PUT', `/user/${me._id}`, { basic: ['scopeuser', `key:${key.body.key}`], query: { firstName: 'Z' } })).status).toBe(401);
    expect((await call(t.api, 'PUT', `/user/${me._id}`, { basic: ['scopeuser', `token:${scoped}`], query: { firstName: 'Z' } })).status).toBe(401);
    expect((await call(t.api, 'GET', '/user/me', { basic: ['scopeuser', `key:${key.body.key}`] })).body.login).toBe('scopeuser');
    expect((await call(t.api, 'POST', '/api_key', { token, query: { scope: '["no.such.scope"]' } })).status).toBe(400);
    expect((await call(t.api, 'POST', '/api_key', { token, query: { scope: '[not json' } })).status).toBe(400);
  });

  it('hides other users’ keys', async () => {
    const a = await registerUser(t.api, 'keya');
    const b = await registerUser(t.api, 'keyb');
    const key = await call(t.api, 'POST', '/api_key', { token: a.token, query: { name: 'a' } });
    expect((await call(t.api, 'DELETE', `/api_key/${key.body._id}`, { token: b.token })).status).toBe(404);
    expect((await call(t.api, 'GET', '/api_key', { token: b.token, query: { userId: a.user._id } })).status).toBe(403);
    expect((await call(t.api, 'GET', '/api_key', { token: adminToken, query: { userId: a.user._id } })).body).toHaveLength(1);
  });
});

describe('rights of users and admins', () => {
  it('lets users edit themselves only, and only admins grant admin or disable', async () => {
    const a = await registerUser(t.api, 'rights.a');
    const b = await registerUser(t.api, 'rights.b');
    expect((await call(t.api, 'PUT', `/user/${a.user._id}`, { token: a.token, query: { firstName: 'Ann' } })).body.firstName).toBe('Ann');
    expect((await call(t.api, 'PUT', `/user/${b.user._id}`, { token: a.token, query: { firstName: 'X' } })).status).toBe(403);
    expect((await call(t.api, 'PUT', `/user/${a.user._id}`, { token: a.token, query: { admin: true } })).status).toBe(403);
    expect((await call(t.api, 'DELETE', `/user/${b.user._id}`, { token: a.token })).status).toBe(403);
    const promoted = await call(t.api, 'PUT', `/user/${a.user._id}`, { token: adminToken, query: { admin: 'True' } });
    expect(promoted.body.admin).toBe(true);
    const disabled = await call(t.api, 'PUT', `/user/${b.user._id}`, { token: adminToken, query: { status: 'disabled' } });
    expect(disabled.body.status).toBe('disabled');
    expect((await call(t.api, 'GET', '/user/me', { token: b.token })).text).toBe('null');
    expect((await call(t.api, 'GET', '/user/authentication', { basic: ['rights.b', 'password-1'] })).status).toBe(401);
  });

  it('shows email only to the user and admins', async () => {
    const a = await registerUser(t.api, 'privacy.a');
    const b = await registerUser(t.api, 'privacy.b');
    expect((await call(t.api, 'GET', `/user/${a.user._id}`, { token: b.token })).body.email).toBeUndefined();
    expect((await call(t.api, 'GET', `/user/${a.user._id}`, { token: a.token })).body.email).toBe('privacy.a@example.org');
    expect((await call(t.api, 'GET', `/user/${a.user._id}`, { token: adminToken })).body.email).toBe('privacy.a@example.org');
    expect((await call(t.api, 'GET', `/user/${a.user._id}`)).status).toBe(401);
  });

  it('lists and searches users with paging and Girder-Total-Count', async () => {
    for (const n of ['list.one', 'list.two', 'list.three']) await registerUser(t.api, n);
    const page = await call(t.api, 'GET', '/user', { token: adminToken, query: { text: 'list.', limit: 2, sort: 'login' } });
    expect(page.status).toBe(200);
    expect(page.body.map((u: any) => u.login)).toEqual(['list.one', 'list.three']);
    expect(page.headers.get('girder-total-count')).toBe('3');
    const next = await call(t.api, 'GET', '/user', { token: adminToken, query: { text: 'list.', limit: 2, offset: 2, sort: 'login' } });
    expect(next.body.map((u: any) => u.login)).toEqual(['list.two']);
    expect((await call(t.api, 'GET', '/user', { token: adminToken, query: { sort: 'passwordHash' } })).status).toBe(400);
  });

  it('deletes a user with their tokens and keys, but never the last admin', async () => {
    const d = await registerUser(t.api, 'doomed');
    await call(t.api, 'POST', '/api_key', { token: d.token, query: { name: 'k' } });
    expect((await call(t.api, 'DELETE', `/user/${d.user._id}`, { token: d.token })).status).toBe(200);
    expect((await call(t.api, 'GET', '/user/me', { token: d.token })).text).toBe('null');
    expect(await t.db.collection('api_key').countDocuments({ userId: new (require('mongodb').ObjectId)(d.user._id) })).toBe(0);
    expect((await call(t.api, 'GET', `/user/${d.user._id}`, { token: adminToken })).status).toBe(404);

    const solo = await startTestServer();
    try {
      const admin = await login(solo.api, 'admin', ADMIN_PASSWORD);
      const me = (await call(solo.api, 'GET', '/user/me', { token: admin })).body;
      expect((await call(solo.api, 'DELETE', `/user/${me._id}`, { token: admin })).status).toBe(409);
      expect((await call(solo.api, 'PUT', `/user/${me._id}`, { token: admin, query: { admin: false } })).status).toBe(409);
    } finally {
      await solo.close();
    }
  });

  it('keeps settings for admins', async () => {
    const u = await registerUser(t.api, 'settings.user');
    expect((await call(t.api, 'GET', '/system/setting', { token: u.token, query: { key: 'core.brand_name' } })).status).toBe(403);
    expect((await call(t.api, 'GET', '/system/setting', { query: { key: 'core.brand_name' } })).status).toBe(401);
    expect((await call(t.api, 'GET', '/system/setting', { token: adminToken, query: { key: 'core.brand_name' } })).body).toBe('Strata');
    expect((await call(t.api, 'PUT', '/system/setting', { token: adminToken, query: { key: 'core.brand_name', value: '"Lab Data"' } })).status).toBe(200);
    expect((await call(t.api, 'GET', '/system/setting', { token: adminToken, query: { key: 'core.brand_name' } })).body).toBe('Lab Data');
    expect((await call(t.api, 'PUT', '/system/setting', { token: adminToken, query: { key: 'core.api_keys', value: '"maybe"' } })).status).toBe(400);
    expect((await call(t.api, 'PUT', '/system/setting', { token: adminToken, query: { key: 'no.such', value: '1' } })).status).toBe(400);
    const many = await call(t.api, 'GET', '/system/setting', { token: adminToken, query: { list: '["core.brand_name","core.api_keys"]' } });
    expect(many.body).toEqual({ 'core.brand_name': 'Lab Data', 'core.api_keys': true });
    // a bad entry in a list changes nothing
    const list = JSON.stringify([{ key: 'core.brand_name', value: 'Other' }, { key: 'core.api_keys', value: 'x' }]);
    expect((await call(t.api, 'PUT', '/system/setting', { token: adminToken, query: { list } })).status).toBe(400);
    expect((await call(t.api, 'GET', '/system/setting', { token: adminToken, query: { key: 'core.brand_name' } })).body).toBe('Lab Data');
    // API keys switched off
    await call(t.api, 'PUT', '/system/setting', { token: adminToken, query: { key: 'core.api_keys', value: 'false' } });
    expect((await call(t.api, 'POST', '/api_key', { token: u.token, query: { name: 'k' } })).status).toBe(403);
    await call(t.api, 'PUT', '/system/setting', { token: adminToken, query: { key: 'core.api_keys', value: 'null' } });
    expect((await call(t.api, 'POST', '/api_key', { token: u.token, query: { name: 'k' } })).status).toBe(200);
  });
});

describe('malformed input', () => {
  it('answers malformed ids, bodies and unknown routes with 4xx JSON, never 500', async () => {
    const bad = await call(t.api, 'GET', '/user/not-an-id', { token: adminToken });
    expect(bad.status).toBe(400);
    expect(bad.body.type).toBe('validation');
    expect((await call(t.api, 'GET', '/user/0123456789abcdef01234567', { token: adminToken })).status).toBe(404);
    const json = await call(t.api, 'PUT', '/system/setting', { token: adminToken, body: '{"key": ', headers: { 'Content-Type': 'application/json' } });
    expect(json.status).toBe(400);
    expect(json.body.message).toMatch(/Malformed/);
    const huge = await call(t.api, 'PUT', '/system/setting', { token: adminToken, body: JSON.stringify({ v: 'x'.repeat(2_000_000) }), headers: { 'Content-Type': 'application/json' } });
    expect(huge.status).toBe(400);
    const missing = await call(t.api, 'GET', '/no/such/route');
    expect(missing.status).toBe(404);
    expect(missing.body.type).toBe('rest');
    expect((await call(t.api, 'GET', '/user', { token: adminToken, query: { limit: 'lots' } })).status).toBe(400);
    expect((await call(t.api, 'GET', '/user/authentication', { headers: { Authorization: 'Basic %%%' } })).status).toBe(401);
    expect((await call(t.api, 'GET', '/user/authentication', { headers: { Authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` } })).status).toBe(401);
  });

  it('publishes the OpenAPI document generated from the controllers', async () => {
    const doc = await call(t.url, 'GET', '/api/v1/docs/openapi.json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/v1/user', '/api/v1/user/authentication', '/api/v1/api_key/token', '/api/v1/group/{id}/member']));
    expect((await call(t.url, 'GET', '/api/v1/docs')).text).toMatch(/swagger/i);
  });
});

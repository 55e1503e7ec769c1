import { ADMIN_PASSWORD, startTestServer, TestServer } from '../support/server';
import { call, login, registerUser } from '../support/http';

describe('login throttling', () => {
  let t: TestServer;
  // a short window so "unlocked after the window" is testable; the rule is the same at 60 s
  beforeAll(async () => (t = await startTestServer({ LOGIN_WINDOW_SECONDS: '4' })));
  afterAll(() => t.close());

  it('refuses the 6th failure in a window, refuses the right password while locked, and unlocks after', async () => {
    await registerUser(t.api, 'victim', 'right-password');
    for (let i = 1; i <= 5; i++) {
      expect((await call(t.api, 'GET', '/user/authentication', { basic: ['victim', `wrong-${i}`] })).status).toBe(401);
    }
    const sixth = await call(t.api, 'GET', '/user/authentication', { basic: ['victim', 'wrong-6'] });
    expect(sixth.status).toBe(429);
    expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThan(0);
    const locked = await call(t.api, 'GET', '/user/authentication', { basic: ['victim', 'right-password'] });
    expect(locked.status).toBe(429);
    expect(locked.body.message).toMatch(/Too many failed logins/);
    // the lock holds on every surface that takes a password, e.g. Basic on an API route
    expect((await call(t.api, 'GET', '/user/me', { basic: ['victim', 'right-password'] })).status).toBe(429);
    // other accounts are not affected
    expect((await call(t.api, 'GET', '/user/authentication', { basic: ['admin', ADMIN_PASSWORD] })).status).toBe(200);

    await new Promise((r) => setTimeout(r, Number(locked.headers.get('retry-after')) * 1000 + 300));
    expect((await call(t.api, 'GET', '/user/authentication', { basic: ['victim', 'right-password'] })).status).toBe(200);
  });

  it('counts failures by email against the same account and keeps counters in the database', async () => {
    await registerUser(t.api, 'victim2', 'right-password');
    for (let i = 0; i < 3; i++) await call(t.api, 'GET', '/user/authentication', { basic: ['victim2', 'nope'] });
    for (let i = 0; i < 3; i++) await call(t.api, 'GET', '/user/authentication', { basic: ['victim2@example.org', 'nope'] });
    expect((await call(t.api, 'GET', '/user/authentication', { basic: ['victim2', 'right-password'] })).status).toBe(429);
    const rows = await t.db.collection('login_failures').find({ key: 'login:victim2' }).toArray();
    expect(rows).toHaveLength(1);
    expect(rows[0].points).toBeGreaterThan(5);
  });

  it('shares the lock between two server instances on one database', async () => {
    // a second instance on the same database sees the first one's counter
    const second = await startTestServer({ LOGIN_WINDOW_SECONDS: '60', MONGO_DB: t.server.databaseName });
    try {
      await registerUser(t.api, 'shared.victim', 'right-password');
      for (let i = 0; i < 6; i++) await call(t.api, 'GET', '/user/authentication', { basic: ['shared.victim', 'nope'] });
      expect((await call(second.api, 'GET', '/user/authentication', { basic: ['shared.victim', 'right-password'] })).status).toBe(429);
    } finally {
      await second.close({ keepDatabase: true });
    }
  });
});

describe('groups', () => {
  let t: TestServer;
  let admin: string;
  beforeAll(async () => {
    t = await startTestServer();
    admin = await login(t.api, 'admin', ADMIN_PASSWORD);
  });
  afterAll(() => t.close());

  it('creates a group whose creator is admin and member; moderators add members; strangers cannot see it', async () => {
    const owner = await registerUser(t.api, 'g.owner');
    const mod = await registerUser(t.api, 'g.mod');
    const member = await registerUser(t.api, 'g.member');
    const stranger = await registerUser(t.api, 'g.stranger');

    const group = await call(t.api, 'POST', '/group', { token: owner.token, query: { name: 'Lab One', description: 'the lab' } });
    expect(group.status).toBe(200);
    expect(group.body).toMatchObject({ name: 'Lab One', _modelType: 'group', _accessLevel: 2, public: false });
    const id = group.body._id;
    expect((await call(t.api, 'POST', '/group', { token: mod.token, query: { name: 'lab one' } })).status).toBe(409);

    expect((await call(t.api, 'GET', `/group/${id}`, { token: stranger.token })).status).toBe(404);
    expect((await call(t.api, 'POST', `/group/${id}/member`, { token: stranger.token, query: { userId: member.user._id } })).status).toBe(404);

    expect((await call(t.api, 'POST', `/group/${id}/member`, { token: owner.token, query: { userId: mod.user._id, level: 1 } })).status).toBe(200);
    expect((await call(t.api, 'POST', `/group/${id}/member`, { token: mod.token, query: { userId: member.user._id } })).status).toBe(200);
    // moderators cannot grant roles or delete the group
    expect((await call(t.api, 'POST', `/group/${id}/member`, { token: mod.token, query: { userId: stranger.user._id, level: 2 } })).status).toBe(403);
    expect((await call(t.api, 'DELETE', `/group/${id}`, { token: mod.token })).status).toBe(403);
    // nor demote or remove the group's admin
    expect((await call(t.api, 'POST', `/group/${id}/member`, { token: mod.token, query: { userId: owner.user._id, level: 0 } })).status).toBe(403);
    expect((await call(t.api, 'DELETE', `/group/${id}/member`, { token: mod.token, query: { userId: owner.user._id } })).status).toBe(403);
    expect((await call(t.api, 'GET', `/group/${id}`, { token: owner.token })).body._accessLevel).toBe(2);
    // members see the group but cannot add people
    expect((await call(t.api, 'GET', `/group/${id}`, { token: member.token })).body._accessLevel).toBe(0);
    expect((await call(t.api, 'POST', `/group/${id}/member`, { token: member.token, query: { userId: stranger.user._id } })).status).toBe(403);

    const members = await call(t.api, 'GET', `/group/${id}/member`, { token: member.token, query: { sort: 'login' } });
    expect(members.body.map((u: any) => u.login)).toEqual(['g.member', 'g.mod', 'g.owner']);
    expect(members.headers.get('girder-total-count')).toBe('3');
    expect((await call(t.api, 'GET', '/user/me', { token: member.token })).body.groups).toEqual([id]);

    // leaving, and removal by a moderator
    expect((await call(t.api, 'DELETE', `/group/${id}/member`, { token: member.token, query: { userId: member.user._id } })).status).toBe(200);
    expect((await call(t.api, 'GET', `/group/${id}`, { token: member.token })).status).toBe(404);

    const listed = await call(t.api, 'GET', '/group', { token: mod.token });
    expect(listed.body.map((g: any) => g.name)).toEqual(['Lab One']);
    expect((await call(t.api, 'GET', '/group', { token: stranger.token })).body).toEqual([]);
    expect((await call(t.api, 'GET', '/group', { token: admin })).body).toHaveLength(1);

    expect((await call(t.api, 'PUT', `/group/${id}`, { token: mod.token, query: { description: 'changed', public: 'True' } })).body).toMatchObject({ description: 'changed', public: true });
    expect((await call(t.api, 'GET', `/group/${id}`, { token: stranger.token })).status).toBe(200);

    expect((await call(t.api, 'DELETE', `/group/${id}`, { token: owner.token })).status).toBe(200);
    expect((await call(t.api, 'GET', '/user/me', { token: mod.token })).body.groups).toEqual([]);
  });

  it('refuses bad group input with 400', async () => {
    const u = await registerUser(t.api, 'g.bad');
    expect((await call(t.api, 'POST', '/group', { token: u.token, query: { name: '   ' } })).status).toBe(400);
    expect((await call(t.api, 'POST', '/group', { token: u.token })).status).toBe(400);
    const g = await call(t.api, 'POST', '/group', { token: u.token, query: { name: 'bad-input' } });
    expect((await call(t.api, 'POST', `/group/${g.body._id}/member`, { token: u.token, query: { userId: 'zzz' } })).status).toBe(400);
    expect((await call(t.api, 'POST', `/group/${g.body._id}/member`, { token: u.token, query: { userId: u.user._id, level: 7 } })).status).toBe(400);
    expect((await call(t.api, 'POST', `/group/${g.body._id}/member`, { token: u.token, query: { userId: '0123456789abcdef01234567' } })).status).toBe(404);
    expect((await call(t.api, 'POST', '/group', { query: { name: 'anon' } })).status).toBe(401);
  });
});

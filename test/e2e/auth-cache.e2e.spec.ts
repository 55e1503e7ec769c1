import { Types } from 'mongoose';
import { CredentialCache } from '../../src/modules/auth/credential-cache';
import type { TokenDoc } from '../../src/modules/auth/token.schema';
import type { UserDoc } from '../../src/modules/users/user.schema';
import { ADMIN_PASSWORD, startTestServer, TestServer } from '../support/server';
import { call, login, registerUser } from '../support/http';

/**
 * The verified-credential cache (src/modules/auth/credential-cache.ts): a token that has just
 * authenticated a request is trusted for a few seconds without a database round trip. These tests
 * make sure nothing it keeps outlives a revocation made through the server: every case first uses
 * the token (so that it is cached), then changes the token or its user, then expects the very next
 * request to see the change. No test depends on timing.
 */
describe('CredentialCache', () => {
  const user = (over: Partial<UserDoc> = {}): UserDoc => ({
    _id: new Types.ObjectId(),
    login: 'someone',
    email: 'someone@example.org',
    firstName: 'Some',
    lastName: 'One',
    passwordHash: null,
    admin: false,
    status: 'enabled',
    groups: [],
    size: 0,
    created: new Date(),
    updated: new Date(),
    ...over,
  });
  const token = (u: UserDoc, over: Partial<TokenDoc> = {}): TokenDoc => ({
    _id: new Types.ObjectId(),
    hash: 'h',
    userId: u._id,
    scope: ['core.user_auth'],
    created: new Date(),
    expires: new Date(Date.now() + 86_400_000),
    apiKeyId: null,
    ...over,
  });

  it('keeps a verified token and hands out copies', () => {
    const cache = new CredentialCache();
    const u = user();
    cache.set('a', token(u), u, cache.generation());
    const hit = cache.get('a')!;
    expect(String(hit.user._id)).toBe(String(u._id));
    hit.user.admin = true;
    hit.user.groups.push(new Types.ObjectId());
    hit.token.scope.push('core.data.read');
    const again = cache.get('a')!;
    expect(again.user.admin).toBe(false);
    expect(again.user.groups).toHaveLength(0);
    expect(again.token.scope).toEqual(['core.user_auth']);
  });

  it('does not store what was read before an invalidation (a lookup racing a revocation)', () => {
    const cache = new CredentialCache();
    const u = user();
    const before = cache.generation();
    cache.forgetToken(new Types.ObjectId()); // any revocation, even of another token
    cache.set('a', token(u), u, before);
    expect(cache.get('a')).toBeNull();
    cache.set('a', token(u), u, cache.generation());
    expect(cache.get('a')).not.toBeNull();
  });

  it('forgets by token, by user, by API key and by group, and never keeps disabled users', () => {
    const cache = new CredentialCache();
    const u = user({ groups: [new Types.ObjectId()] });
    const other = user();
    const key = new Types.ObjectId();
    const t1 = token(u);
    const t2 = token(u, { apiKeyId: key });
    const t3 = token(other);
    const fill = () => {
      cache.set('1', t1, u, cache.generation());
      cache.set('2', t2, u, cache.generation());
      cache.set('3', t3, other, cache.generation());
    };
    fill();
    cache.forgetToken(t1._id);
    expect([cache.get('1'), cache.get('2'), cache.get('3')].map(Boolean)).toEqual([false, true, true]);
    fill();
    cache.forgetTokensOfApiKey(key);
    expect([cache.get('1'), cache.get('2'), cache.get('3')].map(Boolean)).toEqual([true, false, true]);
    fill();
    cache.forgetTokensOfUser(u._id, t1._id);
    expect([cache.get('1'), cache.get('2'), cache.get('3')].map(Boolean)).toEqual([true, false, true]);
    fill();
    cache.forgetUser(u._id);
    expect([cache.get('1'), cache.get('2'), cache.get('3')].map(Boolean)).toEqual([false, false, true]);
    fill();
    cache.forgetMembersOf(u.groups[0]);
    expect([cache.get('1'), cache.get('2'), cache.get('3')].map(Boolean)).toEqual([false, false, true]);
    cache.clear();
    expect(cache.size).toBe(0);

    const disabled = user({ status: 'disabled' });
    cache.set('d', token(disabled), disabled, cache.generation());
    expect(cache.get('d')).toBeNull();
  });

  it('drops an entry once its TTL or its token has run out', () => {
    const cache = new CredentialCache();
    const u = user();
    const now = Date.now();
    cache.set('a', token(u), u, cache.generation(), now);
    expect(cache.get('a', now + CredentialCache.TTL_MS - 1)).not.toBeNull();
    expect(cache.get('a', now + CredentialCache.TTL_MS)).toBeNull();
    cache.set('b', token(u, { expires: new Date(now + 10) }), u, cache.generation(), now);
    expect(cache.get('b', now + 10)).toBeNull();
  });

  it('keeps an entry through size changes and hands out the newest size, whatever order the answers come in', () => {
    const cache = new CredentialCache();
    const u = user({ size: 10, sizeVersion: 3 });
    const generation = cache.generation();
    cache.noteSize(u._id, 50, 5); // answered after the lookup read the user: not a reason to refuse it
    cache.set('a', token(u), u, generation);
    expect(cache.get('a')!.user.size).toBe(50);
    cache.noteSize(u._id, 30, 4); // an older change answering late
    expect(cache.get('a')!.user.size).toBe(50);
    cache.noteSize(u._id, 70, 6);
    expect(cache.get('a')!.user).toMatchObject({ size: 70, sizeVersion: 6 });
    const newer = user({ _id: u._id, size: 90, sizeVersion: 7 }); // a later read of the user wins over what was noted
    cache.set('b', token(newer), newer, cache.generation());
    expect(cache.get('b')!.user.size).toBe(90);
    expect(cache.get('a')!.user.size).toBe(90);
    cache.forgetUser(u._id);
    expect(cache.get('a')).toBeNull();
  });

  it('holds at most MAX_ENTRIES', () => {
    const cache = new CredentialCache();
    const u = user();
    const t = token(u);
    for (let i = 0; i < CredentialCache.MAX_ENTRIES + 5; i++) cache.set(`k${i}`, t, u, cache.generation());
    expect(cache.size).toBeLessThanOrEqual(CredentialCache.MAX_ENTRIES);
    expect(cache.get(`k${CredentialCache.MAX_ENTRIES + 4}`)).not.toBeNull();
  });
});

describe('revocations through the server take effect at once', () => {
  let t: TestServer;
  let admin: string;
  beforeAll(async () => {
    t = await startTestServer();
    admin = await login(t.api, 'admin', ADMIN_PASSWORD);
  });
  afterAll(() => t.close());

  const me = async (token: string) => call(t.api, 'GET', '/user/me', { token });
  /** Uses the token a few times, so that it is surely cached. */
  const warm = async (token: string) => {
    for (let i = 0; i < 3; i++) expect((await me(token)).status).toBe(200);
  };

  it('a deleted token (logout, DELETE /token/session) stops working on the next request', async () => {
    await registerUser(t.api, 'cache.logout');
    const a = await login(t.api, 'cache.logout', 'password-1');
    await warm(a);
    expect((await call(t.api, 'DELETE', '/user/authentication', { token: a })).status).toBe(200);
    expect((await call(t.api, 'GET', '/user', { token: a })).status).toBe(401);
    expect((await me(a)).text).toBe('null');

    const b = await login(t.api, 'cache.logout', 'password-1');
    await warm(b);
    expect((await call(t.api, 'DELETE', '/token/session', { token: b })).status).toBe(200);
    expect((await call(t.api, 'GET', '/user', { token: b })).status).toBe(401);
  });

  it('a revocation wins over requests running while it happens', async () => {
    await registerUser(t.api, 'cache.race');
    const token = await login(t.api, 'cache.race', 'password-1');
    await warm(token);
    let stop = false;
    const traffic = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop) await me(token);
      }),
    );
    try {
      expect((await call(t.api, 'DELETE', '/token/session', { token })).status).toBe(200);
    } finally {
      stop = true;
      await traffic;
    }
    for (let i = 0; i < 5; i++) expect((await call(t.api, 'GET', '/user', { token })).status).toBe(401);
  });

  it('a disabled user is refused on the next request, and accepted again once enabled', async () => {
    const { user, token } = await registerUser(t.api, 'cache.disabled');
    await warm(token);
    expect((await call(t.api, 'PUT', `/user/${user._id}`, { token: admin, query: { status: 'disabled' } })).status).toBe(200);
    const refused = await call(t.api, 'GET', '/user', { token });
    expect(refused.status).toBe(401);
    expect(refused.body.message).toMatch(/disabled/);
    expect((await call(t.api, 'PUT', `/user/${user._id}`, { token: admin, query: { status: 'enabled' } })).status).toBe(200);
    expect((await me(token)).body.login).toBe('cache.disabled');
  });

  it('a deleted user is refused on the next request, whether an admin or they themselves deleted the account', async () => {
    const one = await registerUser(t.api, 'cache.deleted1');
    await warm(one.token);
    expect((await call(t.api, 'DELETE', `/user/${one.user._id}`, { token: admin })).status).toBe(200);
    expect((await call(t.api, 'GET', '/user', { token: one.token })).status).toBe(401);

    const two = await registerUser(t.api, 'cache.deleted2');
    await warm(two.token);
    expect((await call(t.api, 'DELETE', `/user/${two.user._id}`, { token: two.token })).status).toBe(200);
    expect((await me(two.token)).text).toBe('null');
  });

  it('a changed user is seen on the next request: profile, admin flag, password change ending other sessions', async () => {
    const { user, token } = await registerUser(t.api, 'cache.changed');
    await warm(token);
    expect((await call(t.api, 'PUT', `/user/${user._id}`, { token, query: { firstName: 'Renamed' } })).status).toBe(200);
    expect((await me(token)).body.firstName).toBe('Renamed');

    expect((await call(t.api, 'GET', '/assetstore', { token })).status).toBe(403);
    expect((await call(t.api, 'PUT', `/user/${user._id}`, { token: admin, query: { admin: true } })).status).toBe(200);
    expect((await call(t.api, 'GET', '/assetstore', { token })).status).toBe(200);
    expect((await call(t.api, 'PUT', `/user/${user._id}`, { token: admin, query: { admin: false } })).status).toBe(200);
    expect((await call(t.api, 'GET', '/assetstore', { token })).status).toBe(403);

    const other = await login(t.api, 'cache.changed', 'password-1');
    await warm(other);
    expect((await call(t.api, 'PUT', '/user/password', { token, query: { old: 'password-1', new: 'password-2' } })).status).toBe(200);
    expect((await me(token)).body.login).toBe('cache.changed');
    expect((await call(t.api, 'GET', '/user', { token: other })).status).toBe(401);

    const third = await login(t.api, 'cache.changed', 'password-2');
    await warm(third);
    expect((await call(t.api, 'PUT', `/user/${user._id}/password`, { token: admin, query: { password: 'password-3' } })).status).toBe(200);
    expect((await call(t.api, 'GET', '/user', { token: third })).status).toBe(401);
    expect((await call(t.api, 'GET', '/user', { token })).status).toBe(401);
  });

  it('group membership changes access on the next request (removed member, deleted group)', async () => {
    const owner = await registerUser(t.api, 'cache.gowner');
    const member = await registerUser(t.api, 'cache.gmember');
    const group = (await call(t.api, 'POST', '/group', { token: owner.token, query: { name: 'cache group' } })).body;
    const folders = await call(t.api, 'GET', '/folder', { token: owner.token, query: { parentType: 'user', parentId: owner.user._id, name: 'Private' } });
    const priv = folders.body[0];
    const access = JSON.stringify({ users: [{ id: owner.user._id, level: 2 }], groups: [{ id: group._id, level: 0 }] });
    expect((await call(t.api, 'PUT', `/folder/${priv._id}/access`, { token: owner.token, query: { access } })).status).toBe(200);
    const list = () => call(t.api, 'GET', '/item', { token: member.token, query: { folderId: priv._id } });

    await warm(member.token);
    expect((await list()).status).toBe(403);
    expect((await call(t.api, 'POST', `/group/${group._id}/member`, { token: owner.token, query: { userId: member.user._id } })).status).toBe(200);
    expect((await list()).status).toBe(200);
    expect((await call(t.api, 'DELETE', `/group/${group._id}/member`, { token: owner.token, query: { userId: member.user._id } })).status).toBe(200);
    expect((await list()).status).toBe(403);

    expect((await call(t.api, 'POST', `/group/${group._id}/member`, { token: owner.token, query: { userId: member.user._id } })).status).toBe(200);
    expect((await list()).status).toBe(200);
    expect((await call(t.api, 'DELETE', `/group/${group._id}`, { token: owner.token })).status).toBe(200);
    expect((await me(member.token)).body.groups).toEqual([]);
  });

  it('tokens of a deactivated or deleted API key stop working on the next request', async () => {
    const { token } = await registerUser(t.api, 'cache.keys');
    const key = (await call(t.api, 'POST', '/api_key', { token, query: { name: 'k' } })).body;
    const trade = async () => (await call(t.api, 'POST', '/api_key/token', { query: { key: key.key } })).body.authToken.token as string;

    const first = await trade();
    await warm(first);
    expect((await call(t.api, 'PUT', `/api_key/${key._id}`, { token, query: { active: false } })).status).toBe(200);
    expect((await call(t.api, 'GET', '/user', { token: first })).status).toBe(401);

    expect((await call(t.api, 'PUT', `/api_key/${key._id}`, { token, query: { active: true } })).status).toBe(200);
    const second = await trade();
    await warm(second);
    expect((await call(t.api, 'DELETE', `/api_key/${key._id}`, { token })).status).toBe(200);
    expect((await call(t.api, 'GET', '/user', { token: second })).status).toBe(401);
  });

  it('a size change keeps the token cached, and the next request shows the new size', async () => {
    const { user, token } = await registerUser(t.api, 'cache.size');
    await warm(token);
    const cache = t.server.app.get(CredentialCache);
    const priv = (await call(t.api, 'GET', '/folder', { token, query: { parentType: 'user', parentId: user._id, name: 'Private' } })).body[0];
    const cached = cache.size;
    const upload = await call(t.api, 'POST', '/file', { token, query: { parentType: 'folder', parentId: priv._id, name: 'sized.txt', size: 5 }, body: 'sized' });
    expect(upload.status).toBe(200);
    expect(cache.size).toBe(cached); // nothing forgotten
    expect((await me(token)).body.size).toBe(5);
    expect((await call(t.api, 'DELETE', `/item/${upload.body.itemId}`, { token })).status).toBe(200);
    expect((await me(token)).body.size).toBe(0);
  });

  it('an expired token is refused even when it was verified a moment ago', async () => {
    const { user, token } = await registerUser(t.api, 'cache.expiry');
    await warm(token);
    // an expiry set through the database (as the TTL index or another instance would see it) is
    // only picked up after the cache TTL; the token's own `expires` is checked on every request
    const stored = await t.db.collection('token').findOne({ userId: new Types.ObjectId(user._id) });
    expect(stored).not.toBeNull();
    const cache = t.server.app.get(CredentialCache);
    cache.clear(); // as once the TTL has run out
    await t.db.collection('token').updateMany({ userId: new Types.ObjectId(user._id) }, { $set: { expires: new Date(Date.now() - 1000) } });
    expect((await call(t.api, 'GET', '/user', { token })).status).toBe(401);
  });
});

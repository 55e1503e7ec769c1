import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { AuthenticationError } from '../../common/errors';
import { EventBus } from '../events/event-bus';
import { Passwords } from '../users/passwords';
import type { UserDoc } from '../users/user.schema';
import { UsersRepository } from '../users/users.repository';
import { ApiKeyService } from './api-key.service';
import { COOKIE_NAME } from './auth-cookie';
import { CredentialCache } from './credential-cache';
import { parseBasicAuth } from './basic-auth';
import { LoginThrottle } from './login-throttle.service';
import { hashSecret } from './secrets';
import type { TokenDoc } from './token.schema';
import { TokenService } from './token.service';

export interface Authenticated {
  user: UserDoc | null;
  token: TokenDoc | null;
  /** Scopes the credentials carry; absent for a password, which grants everything. */
  scope?: string[];
  /** Why credentials that were sent did not authenticate (for a 401 on routes that need a user). */
  failure?: string;
}

/**
 * Checks a second kind of password for HTTP Basic (e.g. the home-dirs plugin's WebDAV password).
 * Returns true when `password` is that user's password of this kind.
 */
export type PasswordVerifier = (user: UserDoc, password: string) => Promise<boolean>;

/**
 * Turns a request into a user (DESIGN §4): `Girder-Token` header, `Authorization: Bearer`, the
 * `girderToken` cookie where the route allows it, or HTTP Basic with the account password, a
 * registered alternative password, `token:<token>` or `key:<api key>`. Every surface uses it.
 */
@Injectable()
export class AuthService {
  private readonly verifiers = new Map<string, PasswordVerifier>();

  constructor(
    private readonly tokens: TokenService,
    private readonly apiKeys: ApiKeyService,
    private readonly users: UsersRepository,
    private readonly passwords: Passwords,
    private readonly throttle: LoginThrottle,
    private readonly events: EventBus,
    private readonly cache: CredentialCache,
  ) {}

  /** Lets a plugin accept another password for Basic logins (not for `GET /user/authentication`). */
  registerPasswordVerifier(name: string, verifier: PasswordVerifier): void {
    this.verifiers.set(name, verifier);
  }

  async authenticateRequest(req: Request, opts: { cookie: boolean }): Promise<Authenticated> {
    const header = req.headers['girder-token'];
    const tokenHeader = Array.isArray(header) ? header[0] : header;
    if (tokenHeader) return this.fromToken(tokenHeader);

    const authorization = req.headers.authorization ?? (req.headers['girder-authorization'] as string | undefined);
    const bearer = authorization && /^\s*bearer\s+(\S+)\s*$/i.exec(authorization);
    if (bearer) return this.fromToken(bearer[1]);

    const basic = parseBasicAuth(authorization);
    if (basic) return this.basicLogin(basic.user, basic.password, req.ip, { alternatives: true });

    const cookie = (req as Request & { cookies?: Record<string, string> }).cookies?.[COOKIE_NAME];
    if (cookie && opts.cookie && (req.method === 'GET' || req.method === 'HEAD')) return this.fromToken(cookie);
    return { user: null, token: null };
  }

  /**
   * HTTP Basic: `login` (or email for the account password) and one of the accepted secrets.
   * Throttled: a locked login is refused before any check, and every failure counts.
   */
  async basicLogin(
    login: string,
    password: string,
    ip: string | undefined,
    opts: { alternatives: boolean; accountPassword?: boolean },
  ): Promise<Authenticated & { user: UserDoc }> {
    const known = await this.users.findByLoginOrEmail(login);
    // one counter per account, whether it is named by login or by email
    const throttleKey = known?.login ?? login;
    await this.throttle.assertAllowed(throttleKey, ip);
    const result = await this.checkBasic(known, login, password, opts.alternatives, opts.accountPassword ?? true);
    if (!result) {
      await this.throttle.recordFailure(throttleKey, ip);
      throw new AuthenticationError('Login failed.');
    }
    if (result.user.status !== 'enabled') throw new AuthenticationError('This account is disabled.');
    return result;
  }

  private async checkBasic(
    user: UserDoc | null,
    login: string,
    password: string,
    alternatives: boolean,
    accountPassword: boolean,
  ): Promise<(Authenticated & { user: UserDoc }) | null> {
    if (password.startsWith('token:') && alternatives) {
      // the token keeps its own scope: a Basic login cannot widen it
      const token = await this.tokens.resolve(password.slice(6));
      return user && token && String(token.userId) === String(user._id) ? { user, token } : null;
    }
    if (password.startsWith('key:') && alternatives) {
      const key = await this.apiKeys.resolve(password.slice(4));
      if (!user || !key || String(key.userId) !== String(user._id)) return null;
      return key.scope ? { user, token: null, scope: key.scope } : { user, token: null };
    }
    if (!user) {
      // let a plugin (LDAP-style) vouch for a login we do not know locally
      const event = await this.events.trigger('model.user.authenticate', { login, password });
      const vouched = event.responses.at(-1) as UserDoc | undefined;
      return vouched ? { user: vouched, token: null } : null;
    }
    if (accountPassword && (await this.passwords.verify(password, user.passwordHash))) return { user, token: null };
    if (alternatives && !login.includes('@')) {
      for (const verify of this.verifiers.values()) if (await verify(user, password)) return { user, token: null };
    }
    return null;
  }

  /**
   * A token and its user: from the CredentialCache when this process verified them within its TTL
   * (no database round trip), otherwise from the database (token by hash, then user), cached when valid.
   */
  private async fromToken(secret: string): Promise<Authenticated> {
    if (!secret || secret.length > 256) return { user: null, token: null, failure: 'Invalid or expired token.' };
    const hash = hashSecret(secret);
    const cached = this.cache.get(hash);
    if (cached) return cached;
    const generation = this.cache.generation();
    const token = await this.tokens.resolveHash(hash);
    if (!token) return { user: null, token: null, failure: 'Invalid or expired token.' };
    const user = await this.users.findById(token.userId);
    if (!user) return { user: null, token: null, failure: 'Invalid or expired token.' };
    if (user.status !== 'enabled') return { user: null, token: null, failure: 'This account is disabled.' };
    this.cache.set(hash, token, user, generation);
    return { user, token };
  }
}

import { Injectable } from '@nestjs/common';
import { Types } from 'mongoose';
import { AppConfig } from '../config/app-config';
import { TokensRepository } from './tokens.repository';
import { TokenDoc, TokenScope } from './token.schema';
import { hashSecret, randomSecret } from './secrets';

export interface IssuedToken {
  /** The secret, shown to the client once. */
  token: string;
  doc: TokenDoc;
}

/** Makes, checks and revokes tokens. */
@Injectable()
export class TokenService {
  constructor(
    private readonly repo: TokensRepository,
    private readonly config: AppConfig,
  ) {}

  async issue(
    userId: Types.ObjectId,
    opts: { scope?: string[]; lifetimeMs?: number; apiKeyId?: Types.ObjectId } = {},
  ): Promise<IssuedToken> {
    const token = randomSecret(64);
    const now = new Date();
    const lifetime = Math.min(opts.lifetimeMs ?? this.config.tokenLifetimeMs, this.config.tokenLifetimeMs);
    const doc = await this.repo.insert({
      hash: hashSecret(token),
      userId,
      scope: [...new Set(opts.scope ?? [TokenScope.USER_AUTH])],
      created: now,
      expires: new Date(now.getTime() + lifetime),
      apiKeyId: opts.apiKeyId ?? null,
    });
    return { token, doc };
  }

  /** The token for a secret, or null when unknown or expired. */
  async resolve(secret: string): Promise<TokenDoc | null> {
    if (!secret || secret.length > 256) return null;
    return this.resolveHash(hashSecret(secret));
  }

  /** The token stored under a secret's hash, or null when unknown or expired. */
  async resolveHash(hash: string): Promise<TokenDoc | null> {
    const doc = await this.repo.findByHash(hash);
    if (!doc || doc.expires.getTime() <= Date.now()) return null;
    return doc;
  }

  revoke(token: TokenDoc): Promise<void> {
    return this.repo.delete(token._id);
  }

  /** Ends every session of a user, except optionally the one making the request. */
  revokeAllForUser(userId: Types.ObjectId, except?: Types.ObjectId): Promise<void> {
    return this.repo.deleteForUser(userId, except);
  }

  revokeAllForApiKey(apiKeyId: Types.ObjectId): Promise<void> {
    return this.repo.deleteForApiKey(apiKeyId);
  }

  /** Whether credentials with `granted` scopes may use a route needing `scope` (null: a password, full rights). */
  static hasScope(granted: string[] | null, scope: string | undefined): boolean {
    if (!granted) return true;
    if (granted.includes(TokenScope.USER_AUTH)) return true;
    return scope !== undefined && granted.includes(scope);
  }
}

export function mapToken(issued: IssuedToken) {
  return { token: issued.token, expires: issued.doc.expires.toISOString(), scope: issued.doc.scope };
}

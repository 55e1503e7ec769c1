import { Injectable } from '@nestjs/common';
import { Types } from 'mongoose';
import { AccessDeniedError, AuthenticationError, NotFoundError, ValidationError } from '../../common/errors';
import { Paging } from '../../common/params';
import { RequestContext } from '../../common/request-context';
import { AccessService } from '../access/access.service';
import { AppEvent } from '../events/event-bus';
import { OnEvent } from '../events/on-event.decorator';
import { CoreSetting } from '../settings/core-settings';
import { SettingsService } from '../settings/settings.service';
import type { UserDoc } from '../users/user.schema';
import { ApiKeyDoc } from './api-key.schema';
import { ApiKeysRepository } from './api-keys.repository';
import { hashSecret, randomSecret } from './secrets';
import { SCOPE_DESCRIPTIONS } from './token.schema';
import { IssuedToken, TokenService } from './token.service';

export interface ApiKeyInput {
  name?: string;
  scope?: string[] | null;
  tokenDuration?: number | null;
  active?: boolean;
}

/** API keys: long-lived secrets a script trades for tokens (`POST /api_key/token`). */
@Injectable()
export class ApiKeyService {
  constructor(
    private readonly repo: ApiKeysRepository,
    private readonly tokens: TokenService,
    private readonly access: AccessService,
    private readonly settings: SettingsService,
  ) {}

  async create(input: ApiKeyInput, ownerId?: Types.ObjectId): Promise<{ key: string; doc: ApiKeyDoc }> {
    const user = this.requireUser();
    if (!(await this.settings.get<boolean>(CoreSetting.API_KEYS))) throw new AccessDeniedError('API keys are disabled on this server.');
    const userId = ownerId ?? user._id;
    this.access.requireSelfOrAdmin({ _id: userId }, user);
    const key = randomSecret(40);
    const doc = await this.repo.insert({
      userId,
      name: (input.name ?? '').trim(),
      keyHash: hashSecret(key),
      scope: checkScope(input.scope ?? null),
      tokenDuration: checkDuration(input.tokenDuration ?? null),
      active: input.active ?? true,
      lastUse: null,
      created: new Date(),
    });
    return { key, doc };
  }

  list(userId: Types.ObjectId, page: Paging) {
    this.access.requireSelfOrAdmin({ _id: userId }, this.requireUser());
    return this.repo.listForUser(userId, page);
  }

  async update(id: Types.ObjectId, input: ApiKeyInput): Promise<ApiKeyDoc> {
    const key = await this.load(id);
    const set: Partial<ApiKeyDoc> = {};
    if (input.name !== undefined) set.name = input.name.trim();
    if (input.scope !== undefined) set.scope = checkScope(input.scope);
    if (input.tokenDuration !== undefined) set.tokenDuration = checkDuration(input.tokenDuration);
    if (input.active !== undefined) set.active = input.active;
    const saved = await this.repo.update(id, set);
    if (!saved) throw new NotFoundError(`API key not found: ${id}`);
    // A deactivated key, or one whose rights shrank, must not leave tokens behind.
    if (set.active === false || set.scope !== undefined || set.tokenDuration !== undefined) await this.tokens.revokeAllForApiKey(id);
    return saved;
  }

  async delete(id: Types.ObjectId): Promise<void> {
    const key = await this.load(id);
    await this.tokens.revokeAllForApiKey(key._id);
    await this.repo.delete(key._id);
  }

  /** The active key for a secret, or null. */
  async resolve(secret: string): Promise<ApiKeyDoc | null> {
    if (!secret || secret.length > 256) return null;
    const key = await this.repo.findByHash(hashSecret(secret));
    return key?.active ? key : null;
  }

  /** Trades a key for a token limited by the key's scope and duration. */
  async issueToken(key: ApiKeyDoc, durationDays?: number): Promise<IssuedToken> {
    const days = Math.min(durationDays ?? Infinity, key.tokenDuration ?? Infinity);
    await this.repo.touch(key._id);
    return this.tokens.issue(key.userId, {
      scope: key.scope ?? undefined,
      lifetimeMs: Number.isFinite(days) ? days * 86_400_000 : undefined,
      apiKeyId: key._id,
    });
  }

  @OnEvent('model.user.remove.after')
  async onUserRemoved(event: AppEvent<UserDoc>): Promise<void> {
    await this.repo.deleteForUser(event.info._id);
  }

  private async load(id: Types.ObjectId): Promise<ApiKeyDoc> {
    const user = this.requireUser();
    const key = await this.repo.findById(id);
    if (!key || !(user.admin || String(key.userId) === String(user._id))) throw new NotFoundError(`API key not found: ${id}`);
    return key;
  }

  private requireUser(): UserDoc {
    const user = RequestContext.user();
    if (!user) throw new AuthenticationError();
    return user;
  }
}

function checkScope(scope: string[] | null): string[] | null {
  if (scope === null) return null;
  if (!Array.isArray(scope) || !scope.every((s) => typeof s === 'string')) throw new ValidationError('scope must be a JSON list of scope names, or null.', 'scope');
  const unknown = scope.filter((s) => !(s in SCOPE_DESCRIPTIONS));
  if (unknown.length) throw new ValidationError(`Unknown scope(s): ${unknown.join(', ')}`, 'scope');
  return [...new Set(scope)];
}

function checkDuration(days: number | null): number | null {
  if (days === null) return null;
  if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0) throw new ValidationError('tokenDuration must be a positive number of days.', 'tokenDuration');
  return days;
}

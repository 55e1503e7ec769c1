import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity } from '@nestjs/swagger';

export const ACCESS_META = 'strata:access';

export interface AccessRule {
  /** Who may call the route at all. */
  level: 'public' | 'user' | 'admin';
  /** Token scope the route needs; a token without it (or `core.user_auth`) counts as anonymous. */
  scope?: string;
  /** Whether the `girderToken` cookie is honoured (GET/HEAD only: downloads and the web UI). */
  cookie?: boolean;
}

const rule = (level: AccessRule['level']) => (opts: Omit<AccessRule, 'level'> = {}) =>
  applyDecorators(
    SetMetadata(ACCESS_META, { level, ...opts } satisfies AccessRule),
    ApiSecurity('Girder-Token'),
    ApiBearerAuth(),
  );

/**
 * Route access, as Girder's `@access.*` decorators. Every route must have one; a route without
 * one is refused to everyone but site admins (fail closed).
 */
export const Access = {
  public: rule('public'),
  user: rule('user'),
  admin: rule('admin'),
};

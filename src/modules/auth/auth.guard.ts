import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AccessDeniedError, AuthenticationError } from '../../common/errors';
import { RequestContext } from '../../common/request-context';
import { ACCESS_META, AccessRule } from './access.decorators';
import { AuthService } from './auth.service';
import { TokenService } from './token.service';

/**
 * Runs before every REST route: authenticates the request, stores the user in the request context
 * and enforces the route's `@Access` rule. A token lacking the route's scope counts as anonymous.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_META, [context.getHandler(), context.getClass()]) ?? {
      level: 'admin',
    };
    const req = context.switchToHttp().getRequest<Request>();
    const result = await this.auth.authenticateRequest(req, { cookie: Boolean(rule.cookie) });
    const scoped = TokenService.hasScope(result.scope ?? result.token?.scope ?? null, rule.scope);
    const user = scoped ? result.user : null;
    RequestContext.setAuth(user, scoped ? result.token : null);

    if (rule.level === 'public') return true;
    if (!user) throw new AuthenticationError(result.failure ?? (result.user ? 'The token does not allow this operation.' : 'You must be logged in.'));
    if (rule.level === 'admin' && !user.admin) throw new AccessDeniedError('Administrator access required.');
    return true;
  }
}

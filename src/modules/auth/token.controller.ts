import { Controller, Delete, Get, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthenticationError } from '../../common/errors';
import { RequestContext } from '../../common/request-context';
import { idString, isoDate } from '../../common/serialize';
import { Access } from './access.decorators';
import { AuthCookie, COOKIE_NAME } from './auth-cookie';
import { SCOPE_DESCRIPTIONS } from './token.schema';
import { TokenService } from './token.service';

@ApiTags('token')
@Controller('token')
export class TokenController {
  constructor(
    private readonly tokens: TokenService,
    private readonly cookie: AuthCookie,
  ) {}

  @Get('current')
  @Access.public({ cookie: true })
  @ApiOperation({ summary: 'The token of this request (never its secret), or null' })
  current() {
    const { token } = RequestContext.current();
    if (!token) return null;
    return {
      _id: idString(token._id),
      _modelType: 'token',
      userId: idString(token.userId),
      scope: token.scope,
      created: isoDate(token.created),
      expires: isoDate(token.expires),
      apiKeyId: idString(token.apiKeyId),
    };
  }

  @Get('session')
  @Access.public({ cookie: true })
  @ApiOperation({ summary: 'The token of the current session (from the cookie or header), for the web UI; null when none' })
  session(@Req() req: Request) {
    const { token } = RequestContext.current();
    if (!token) return null;
    const secret = (req.headers['girder-token'] as string | undefined) ?? (req as Request & { cookies?: Record<string, string> }).cookies?.[COOKIE_NAME];
    return secret ? { token: secret, expires: isoDate(token.expires), scope: token.scope } : null;
  }

  @Delete('session')
  @Access.user()
  @ApiOperation({ summary: 'Revoke the token of this request' })
  async deleteSession(@Res({ passthrough: true }) res: Response) {
    const { token } = RequestContext.current();
    if (!token) throw new AuthenticationError('This request did not use a token.');
    await this.tokens.revoke(token);
    this.cookie.clear(res);
    return { message: 'Token revoked.' };
  }

  @Get('scopes')
  @Access.public()
  @ApiOperation({ summary: 'The token scopes this server knows' })
  scopes() {
    return Object.entries(SCOPE_DESCRIPTIONS).map(([id, description]) => ({ id, description }));
  }
}

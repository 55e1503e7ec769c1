import { Controller, Delete, Get, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthenticationError } from '../../common/errors';
import { RequestContext } from '../../common/request-context';
import { mapUser } from '../users/user.mapper';
import { Access } from './access.decorators';
import { AuthCookie } from './auth-cookie';
import { AuthService } from './auth.service';
import { parseBasicAuth } from './basic-auth';
import { mapToken, TokenService } from './token.service';

@ApiTags('user')
@Controller('user/authentication')
export class AuthenticationController {
  constructor(
    private readonly auth: AuthService,
    private readonly tokens: TokenService,
    private readonly cookie: AuthCookie,
  ) {}

  @Get()
  @Access.public()
  @ApiOperation({
    summary: 'Log in with HTTP Basic (login or email, and the account password); returns a token and sets the girderToken cookie',
  })
  async login(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const header = (req.headers['girder-authorization'] as string | undefined) ?? req.headers.authorization;
    const basic = parseBasicAuth(header);
    if (!basic) {
      // Already authenticated by token: hand back a fresh token, as Girder does.
      const current = RequestContext.user();
      if (!current) throw new AuthenticationError('Use HTTP Basic authentication to log in.');
      return this.respond(current, res);
    }
    const { user } = await this.auth.basicLogin(basic.user, basic.password, req.ip, { alternatives: false });
    return this.respond(user, res);
  }

  @Delete()
  @Access.public()
  @ApiOperation({ summary: 'Log out: revoke the current token and clear the cookie' })
  async logout(@Res({ passthrough: true }) res: Response) {
    const { token } = RequestContext.current();
    if (token) await this.tokens.revoke(token);
    this.cookie.clear(res);
    return { message: 'Logged out.' };
  }

  private async respond(user: Parameters<typeof mapUser>[0], res: Response) {
    const issued = await this.tokens.issue(user._id);
    this.cookie.set(res, issued);
    return { user: mapUser(user, user), authToken: mapToken(issued) };
  }
}

import { Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { AppConfig } from '../config/app-config';
import type { IssuedToken } from './token.service';

export const COOKIE_NAME = 'girderToken';

/** The login cookie: HttpOnly, SameSite=Lax, Secure under TLS; honoured only on GET/HEAD routes that allow it. */
@Injectable()
export class AuthCookie {
  constructor(private readonly config: AppConfig) {}

  set(res: Response, issued: IssuedToken): void {
    res.cookie(COOKIE_NAME, issued.token, {
      httpOnly: true,
      sameSite: 'lax',
      secure: Boolean(this.config.tls),
      path: '/',
      expires: issued.doc.expires,
    });
  }

  clear(res: Response): void {
    res.clearCookie(COOKIE_NAME, { httpOnly: true, sameSite: 'lax', secure: Boolean(this.config.tls), path: '/' });
  }
}

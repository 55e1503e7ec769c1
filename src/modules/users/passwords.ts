import { Injectable } from '@nestjs/common';
import * as bcrypt from 'bcrypt';
import { ValidationError } from '../../common/errors';
import { AppConfig } from '../config/app-config';

export const MIN_PASSWORD_LENGTH = 6;
/** bcrypt reads only the first 72 bytes; longer passwords are refused rather than silently cut. */
export const MAX_PASSWORD_BYTES = 72;

/** Every stored password (account and WebDAV) is a bcrypt hash made here. */
@Injectable()
export class Passwords {
  constructor(private readonly config: AppConfig) {}

  /** Checks the password rules; `field` names the parameter in the error. */
  check(password: unknown, field = 'password', minLength = MIN_PASSWORD_LENGTH): string {
    if (typeof password !== 'string' || password.length === 0) throw new ValidationError(`Parameter ${field} is required.`, field);
    if ([...password].length < minLength) throw new ValidationError(`Password must be at least ${minLength} characters.`, field);
    if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
      throw new ValidationError(`Password must be at most ${MAX_PASSWORD_BYTES} bytes.`, field);
    }
    return password;
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.config.bcryptRounds);
  }

  async verify(password: string, hash: string | null | undefined): Promise<boolean> {
    if (!hash || Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return false;
    return bcrypt.compare(password, hash);
  }
}

import { Body, Controller, Get, Injectable, OnModuleInit, Put, Query } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { createHash } from 'node:crypto';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Model, Schema, Types } from 'mongoose';
import { AuthenticationError } from '../../common/errors';
import { RequestContext } from '../../common/request-context';
import { Access } from '../../modules/auth/access.decorators';
import { AuthService } from '../../modules/auth/auth.service';
import { randomSecret } from '../../modules/auth/secrets';
import { AppEvent } from '../../modules/events/event-bus';
import { OnEvent } from '../../modules/events/on-event.decorator';
import { Passwords } from '../../modules/users/passwords';
import type { UserDoc } from '../../modules/users/user.schema';
import { DavLoginCache } from './dav-logins';

/** One WebDAV password per user (collection `dav_password`), bcrypt-hashed. */
export interface DavPasswordDoc {
  _id: Types.ObjectId;
  userId: Types.ObjectId;
  hash: string;
  created: Date;
}

export const DAV_PASSWORD_MODEL = 'dav_password';
export const DavPasswordSchema = new Schema<DavPasswordDoc>(
  { userId: { type: Schema.Types.ObjectId, required: true }, hash: { type: String, required: true }, created: { type: Date, required: true } },
  { collection: 'dav_password', versionKey: false },
);
DavPasswordSchema.index({ userId: 1 }, { unique: true });

/** Minimum length of a WebDAV password a user sets. */
export const MIN_DAV_PASSWORD = 8;
/** Generated passwords: 20 characters from an alphabet without look-alikes or shell/URL trouble. */
const GENERATED_LENGTH = 20;
const SAFE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/**
 * WebDAV passwords: a second password per user for WebDAV clients (they store it), so the account
 * password is never typed into a mount. Checked by AuthService for HTTP Basic logins by login.
 */
const VERIFIED_MS = 60_000;

@Injectable()
export class DavPasswords implements OnModuleInit {
  private readonly verified = new Map<string, number>();
  /** The user documents `verify` said yes for, with a hash of the password (see `verifiedNow`). */
  private readonly accepted = new WeakMap<UserDoc, string>();

  constructor(
    @InjectModel(DAV_PASSWORD_MODEL) private readonly model: Model<DavPasswordDoc>,
    private readonly passwords: Passwords,
    private readonly auth: AuthService,
    private readonly logins: DavLoginCache,
  ) {}

  onModuleInit(): void {
    this.auth.registerPasswordVerifier('homeDirs.davPassword', (user, password) => this.verify(user, password));
  }

  async set(user: UserDoc, password: unknown): Promise<void> {
    const checked = this.passwords.check(password, 'password', MIN_DAV_PASSWORD);
    const hash = await this.passwords.hash(checked);
    // the new one replaces the old; cached WebDAV logins with the old one end (also when the write failed: it may have happened)
    try {
      await this.model.updateOne({ userId: user._id }, { $set: { hash, created: new Date() } }, { upsert: true }).exec();
    } finally {
      this.logins.forgetUser(user._id);
    }
  }

  async generate(user: UserDoc): Promise<string> {
    const password = randomSecret(GENERATED_LENGTH, SAFE_ALPHABET);
    await this.set(user, password);
    return password;
  }

  /**
   * WebDAV clients send the password with every request; a bcrypt check each time would cost
   * ~0.4 s per request. A password that verified is remembered for a minute, keyed by a hash of
   * the user, the stored hash and the password, so a new password (a new stored hash) never
   * matches an old entry. Failures are never cached: every failure goes through bcrypt and counts.
   */
  async verify(user: UserDoc, password: string): Promise<boolean> {
    const doc = await this.model.findOne({ userId: user._id }).lean<DavPasswordDoc>().exec();
    if (!doc) return false;
    const key = createHash('sha256').update(`${String(user._id)}\0${doc.hash}\0${password}`).digest('hex');
    const until = this.verified.get(key);
    if (!(until && until > Date.now())) {
      if (!(await this.passwords.verify(password, doc.hash))) return false;
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(key, Date.now() + VERIFIED_MS);
    }
    this.accepted.set(user, passwordDigest(password));
    return true;
  }

  /** Whether `verify` accepted `password` as the WebDAV password of this very user document (the one a login just checked). */
  verifiedNow(user: UserDoc, password: string): boolean {
    return this.accepted.get(user) === passwordDigest(password);
  }

  @OnEvent('model.user.remove.after', 'homeDirs.removeDavPassword')
  async onUserRemoved(event: AppEvent<UserDoc>): Promise<void> {
    try {
      await this.model.deleteOne({ userId: event.info._id }).exec();
    } finally {
      this.logins.forgetUser(event.info._id);
    }
  }
}

function passwordDigest(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}

@ApiTags('homedirpass')
@Controller('homedirpass')
export class HomeDirPassController {
  constructor(private readonly davPasswords: DavPasswords) {}

  @Put('set')
  @Access.user()
  @ApiOperation({ summary: 'Set your WebDAV password (form field or JSON `password`, at least 8 characters); it replaces the old one' })
  @ApiBody({ schema: { type: 'object', properties: { password: { type: 'string' } } } })
  async set(@Query('password') query: string | undefined, @Body() body: unknown) {
    const fromBody = body && typeof body === 'object' && !Array.isArray(body) ? (body as { password?: unknown }).password : undefined;
    await this.davPasswords.set(this.user(), fromBody ?? query);
    return { message: 'WebDAV password set.' };
  }

  @Get('generate')
  @Access.user()
  @ApiOperation({ summary: 'Generate a new WebDAV password; it is shown only in this answer and replaces the old one' })
  async generate() {
    return { password: await this.davPasswords.generate(this.user()) };
  }

  private user(): UserDoc {
    const user = RequestContext.user();
    if (!user) throw new AuthenticationError();
    return user;
  }
}

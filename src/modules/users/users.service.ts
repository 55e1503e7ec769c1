import { Injectable, Logger } from '@nestjs/common';
import { Types } from 'mongoose';
import { AccessDeniedError, ConflictError, isDuplicateKeyError, NotFoundError, ValidationError } from '../../common/errors';
import { Paging } from '../../common/params';
import { RequestContext } from '../../common/request-context';
import { AccessService } from '../access/access.service';
import { TokenService } from '../auth/token.service';
import { AppConfig } from '../config/app-config';
import { EventBus } from '../events/event-bus';
import { SettingsRepository } from '../settings/settings.repository';
import { Passwords } from './passwords';
import { UserDoc } from './user.schema';
import { UsersRepository } from './users.repository';

export const LOGIN_PATTERN = /^[a-z][\da-z\-.]{3,}$/;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+$/;
const FIRST_USER_CLAIM = 'core.first_user_created';

export interface NewUser {
  login: string;
  email: string;
  firstName: string;
  lastName: string;
  password: string;
  admin?: boolean;
}

export interface UserChanges {
  login?: string;
  email?: string;
  firstName?: string;
  lastName?: string;
  admin?: boolean;
  status?: UserDoc['status'];
}

/** Users: registration, profile changes, passwords, deletion. Every user write goes through here. */
@Injectable()
export class UsersService {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    private readonly repo: UsersRepository,
    private readonly passwords: Passwords,
    private readonly events: EventBus,
    private readonly tokens: TokenService,
    private readonly settings: SettingsRepository,
    private readonly access: AccessService,
    private readonly config: AppConfig,
  ) {}

  async get(id: Types.ObjectId): Promise<UserDoc> {
    const user = await this.repo.findById(id);
    if (!user) throw new NotFoundError(`User not found: ${id}`);
    return user;
  }

  findByLoginOrEmail(loginOrEmail: string): Promise<UserDoc | null> {
    return this.repo.findByLoginOrEmail(loginOrEmail);
  }

  search(text: string | undefined, page: Paging) {
    return this.repo.search(text, page);
  }

  /** Registration (`POST /user`) and admin-made accounts. The first user ever made is an admin. */
  async register(input: NewUser): Promise<UserDoc> {
    const caller = RequestContext.user();
    if (!this.config.registrationOpen && !caller?.admin) {
      throw new AccessDeniedError('Registration on this server is closed; ask an administrator for an account.');
    }
    return this.create(input, { adminAllowed: Boolean(caller?.admin) });
  }

  async create(input: NewUser, opts: { adminAllowed: boolean }): Promise<UserDoc> {
    const login = normaliseLogin(input.login);
    const email = normaliseEmail(input.email);
    const firstName = requiredName(input.firstName, 'firstName');
    const lastName = requiredName(input.lastName, 'lastName');
    this.passwords.check(input.password);
    await this.assertAvailable(login, email);

    const now = new Date();
    const doc: Omit<UserDoc, '_id'> = {
      login,
      email,
      firstName,
      lastName,
      passwordHash: await this.passwords.hash(input.password),
      admin: Boolean(input.admin && opts.adminAllowed),
      status: 'enabled',
      groups: [],
      size: 0,
      created: now,
      updated: now,
    };
    // Exactly one caller, however many race, wins the claim of being the first user.
    if (await this.settings.claim(FIRST_USER_CLAIM, { login, at: now })) doc.admin = true;

    const event = await this.events.trigger('model.user.save', { doc: doc as UserDoc });
    if (event.defaultPrevented) throw new ValidationError('User creation was refused by the server.');
    let user: UserDoc;
    try {
      user = await this.repo.insert(doc);
    } catch (err) {
      if (isDuplicateKeyError(err)) throw duplicateOf(err);
      throw err;
    }
    await this.events.trigger('model.user.save.created', user);
    await this.events.trigger('model.user.save.after', { doc: user });
    return user;
  }

  /**
   * Makes the initial admin account when the database has no users: ADMIN_LOGIN with
   * ADMIN_PASSWORD, or with a generated password returned so start-up can print it once.
   */
  async ensureInitialAdmin(generatePassword: () => string): Promise<{ login: string; password?: string } | null> {
    if ((await this.repo.count()) > 0) return null;
    const password = this.config.adminPassword ?? generatePassword();
    const login = this.config.adminLogin;
    try {
      await this.create({ login, email: `${login}@localhost.localdomain`, firstName: 'Site', lastName: 'Administrator', password, admin: true }, { adminAllowed: true });
    } catch (err) {
      if (err instanceof ConflictError) return null; // another instance made it first
      throw err;
    }
    return { login, password: this.config.adminPassword ? undefined : password };
  }

  async update(id: Types.ObjectId, changes: UserChanges): Promise<UserDoc> {
    const caller = RequestContext.user();
    const previous = await this.get(id);
    this.access.requireSelfOrAdmin(previous, caller);
    if ((changes.admin !== undefined || changes.status !== undefined) && !caller?.admin) {
      throw new AccessDeniedError('Only site administrators may change admin or status.');
    }
    const set: Partial<UserDoc> = {};
    if (changes.login !== undefined) set.login = normaliseLogin(changes.login);
    if (changes.email !== undefined) set.email = normaliseEmail(changes.email);
    if (changes.firstName !== undefined) set.firstName = requiredName(changes.firstName, 'firstName');
    if (changes.lastName !== undefined) set.lastName = requiredName(changes.lastName, 'lastName');
    if (changes.admin !== undefined) set.admin = changes.admin;
    if (changes.status !== undefined) set.status = changes.status;
    const losesAdmin = previous.admin && (set.admin === false || (set.status && set.status !== 'enabled'));
    if (losesAdmin && (await this.repo.countAdmins()) <= 1) throw new ConflictError('The last site administrator cannot be demoted or disabled.');
    if (set.login !== undefined && set.login !== previous.login) await this.assertAvailable(set.login, undefined);
    if (set.email !== undefined && set.email !== previous.email) await this.assertAvailable(undefined, set.email);
    return this.save(previous, set);
  }

  /** Changes a password after checking the old one; ends the user's other sessions. */
  async changePassword(user: UserDoc, oldPassword: string, newPassword: string, keepToken?: Types.ObjectId): Promise<void> {
    if (!(await this.passwords.verify(oldPassword, user.passwordHash))) throw new AccessDeniedError('Old password is incorrect.');
    await this.setPassword(user, newPassword, keepToken, 'new');
  }

  /** Sets a password and ends every session of the user (their tokens), as a changed password should. */
  async setPassword(user: UserDoc, newPassword: string, keepToken?: Types.ObjectId, field = 'password'): Promise<void> {
    this.passwords.check(newPassword, field);
    await this.save(user, { passwordHash: await this.passwords.hash(newPassword) });
    await this.tokens.revokeAllForUser(user._id, keepToken);
  }

  async delete(id: Types.ObjectId): Promise<void> {
    const caller = RequestContext.user();
    const user = await this.get(id);
    this.access.requireSelfOrAdmin(user, caller);
    if (user.admin && (await this.repo.countAdmins()) <= 1) throw new ConflictError('The last site administrator cannot be deleted.');
    const event = await this.events.trigger('model.user.remove', user);
    if (event.defaultPrevented) throw new ConflictError('Deleting this user was refused by the server.');
    await this.tokens.revokeAllForUser(user._id);
    await this.repo.delete(user._id);
    await this.events.trigger('model.user.remove.after', user);
  }

  /** One write path for user updates, so `model.user.save` sees every change with `previous`. */
  private async save(previous: UserDoc, set: Partial<UserDoc>): Promise<UserDoc> {
    const doc = { ...previous, ...set, updated: new Date() };
    const event = await this.events.trigger('model.user.save', { doc, previous });
    if (event.defaultPrevented) throw new ConflictError('This change was refused by the server.');
    let saved: UserDoc | null;
    try {
      saved = await this.repo.update(previous._id, { $set: { ...set, updated: doc.updated } });
    } catch (err) {
      if (isDuplicateKeyError(err)) throw duplicateOf(err);
      throw err;
    }
    if (!saved) throw new NotFoundError(`User not found: ${previous._id}`);
    await this.events.trigger('model.user.save.after', { doc: saved, previous });
    return saved;
  }

  private async assertAvailable(login: string | undefined, email: string | undefined): Promise<void> {
    if (login && (await this.repo.findByLogin(login))) throw new ConflictError('That login is already registered.', 'login');
    if (email && (await this.repo.findByLoginOrEmail(email))) throw new ConflictError('That email is already registered.', 'email');
  }
}

function normaliseLogin(login: unknown): string {
  if (typeof login !== 'string' || !login.trim()) throw new ValidationError('Parameter login is required.', 'login');
  const l = login.trim().toLowerCase();
  if (!LOGIN_PATTERN.test(l) || l.includes('@')) {
    throw new ValidationError('Login must be at least 4 characters, start with a letter, and contain only letters, digits, "-" and ".".', 'login');
  }
  return l;
}

function normaliseEmail(email: unknown): string {
  if (typeof email !== 'string' || !email.trim()) throw new ValidationError('Parameter email is required.', 'email');
  const e = email.trim().toLowerCase();
  if (!EMAIL_PATTERN.test(e) || e.length > 254) throw new ValidationError('Invalid email address.', 'email');
  return e;
}

function requiredName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !value.trim()) throw new ValidationError(`Parameter ${field} is required.`, field);
  if (value.length > 200) throw new ValidationError(`${field} must be at most 200 characters.`, field);
  return value.trim();
}

/** Tells which unique index refused a write (a concurrent registration of the same login or email). */
function duplicateOf(err: unknown): ConflictError {
  const keys = Object.keys((err as { keyPattern?: object; keyValue?: object }).keyPattern ?? (err as { keyValue?: object }).keyValue ?? {});
  const field = keys.includes('email') || /email/.test(String((err as Error).message)) ? 'email' : 'login';
  return new ConflictError(`That ${field} is already registered.`, field);
}

import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import { Connection } from 'mongoose';
import { RateLimiterMongo, RateLimiterRes } from 'rate-limiter-flexible';
import { TooManyAttemptsError } from '../../common/errors';
import { AppConfig } from '../config/app-config';

/**
 * Throttles failed logins on every surface (DESIGN §4): more than LOGIN_MAX_FAILURES failures for
 * one login within a window lock that login until the window ends, even for the right password;
 * client addresses have a limit of their own. Counters live in the database (collection
 * `login_failures`), so every instance shares them.
 */
@Injectable()
export class LoginThrottle implements OnModuleInit {
  private byLogin!: RateLimiterMongo;
  private byIp!: RateLimiterMongo;

  constructor(
    @InjectConnection() private readonly connection: Connection,
    private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    const { maxFailures, windowSeconds, maxFailuresPerIp } = this.config.loginThrottle;
    const common = {
      storeClient: this.connection.getClient(),
      dbName: this.connection.db!.databaseName,
      tableName: 'login_failures',
      duration: windowSeconds,
      disableIndexesCreation: true,
    };
    this.byLogin = new RateLimiterMongo({ ...common, keyPrefix: 'login', points: maxFailures });
    this.byIp = new RateLimiterMongo({ ...common, keyPrefix: 'ip', points: maxFailuresPerIp });
    await this.byLogin.createIndexes();
  }

  /** Refuses (429) a login that is locked, before its password is even checked. */
  async assertAllowed(login: string, ip: string | undefined): Promise<void> {
    const checks: [RateLimiterMongo, string, number, string][] = [
      [this.byLogin, normalise(login), this.config.loginThrottle.maxFailures, 'this account'],
    ];
    if (ip) checks.push([this.byIp, ip, this.config.loginThrottle.maxFailuresPerIp, 'this address']);
    for (const [limiter, key, max, what] of checks) {
      const state = await limiter.get(key);
      if (state && state.consumedPoints > max) throw locked(what, state);
    }
  }

  /** Counts a failure; throws 429 when this failure is one too many. */
  async recordFailure(login: string, ip: string | undefined): Promise<void> {
    await consume(this.byLogin, normalise(login), 'this account');
    if (ip) await consume(this.byIp, ip, 'this address');
  }
}

async function consume(limiter: RateLimiterMongo, key: string, what: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (err) {
    if (err instanceof RateLimiterRes) throw locked(what, err);
    throw err;
  }
}

function normalise(login: string): string {
  return login.trim().toLowerCase();
}

function locked(what: string, state: RateLimiterRes): TooManyAttemptsError {
  const seconds = Math.ceil(state.msBeforeNext / 1000);
  return new TooManyAttemptsError(`Too many failed logins for ${what}; try again in ${seconds} s.`, seconds);
}

import * as path from 'node:path';
import { LogLevel, RawConfig } from './config.schema';

export interface HatracConfig {
  maxPayloadBytes: number;
  rootOwners: string[];
  firewall: Record<'create' | 'delete' | 'manage_acl' | 'manage_metadata', string[]>;
}

/** The validated configuration, read through typed getters. Nothing else reads process.env. */
export class AppConfig {
  constructor(
    private readonly raw: RawConfig,
    readonly plugins: readonly string[],
  ) {}

  get port(): number {
    return this.raw.PORT;
  }
  get host(): string {
    return this.raw.HOST;
  }
  get dataDir(): string {
    return path.resolve(this.raw.DATA_DIR);
  }
  get cacheDir(): string {
    return path.resolve(this.raw.CACHE_DIR);
  }
  get mongoUri(): string | undefined {
    return this.raw.MONGO_URI;
  }
  get mongoDbName(): string {
    return this.raw.MONGO_DB;
  }
  get logLevel(): LogLevel {
    return this.raw.LOG_LEVEL;
  }
  get logFormat(): 'text' | 'json' {
    return this.raw.LOG_FORMAT;
  }
  get tokenLifetimeMs(): number {
    return this.raw.TOKEN_LIFETIME_DAYS * 86_400_000;
  }
  get registrationOpen(): boolean {
    return this.raw.REGISTRATION === 'open';
  }
  get adminLogin(): string {
    return this.raw.ADMIN_LOGIN;
  }
  get adminPassword(): string | undefined {
    return this.raw.ADMIN_PASSWORD;
  }
  get tls(): { cert: string; key: string } | undefined {
    return this.raw.TLS_CERT && this.raw.TLS_KEY ? { cert: this.raw.TLS_CERT, key: this.raw.TLS_KEY } : undefined;
  }
  get bcryptRounds(): number {
    return this.raw.BCRYPT_ROUNDS;
  }
  get loginThrottle(): { maxFailures: number; windowSeconds: number; maxFailuresPerIp: number } {
    return {
      maxFailures: this.raw.LOGIN_MAX_FAILURES,
      windowSeconds: this.raw.LOGIN_WINDOW_SECONDS,
      maxFailuresPerIp: this.raw.LOGIN_MAX_FAILURES_PER_IP,
    };
  }
  get embeddedDbJavaOptions(): string[] {
    return this.raw.EMBEDDED_DB_JAVA_OPTS.split(/\s+/).filter(Boolean);
  }
  get trustProxy(): boolean {
    return this.raw.TRUST_PROXY;
  }
  get isLoopback(): boolean {
    return ['127.0.0.1', 'localhost', '::1'].includes(this.host) || this.host.startsWith('127.');
  }
  get hatrac(): HatracConfig {
    const firewall = (roles: string[]) => (this.raw.HATRAC_READ_ONLY ? [] : roles);
    return {
      maxPayloadBytes: this.raw.HATRAC_MAX_PAYLOAD_BYTES,
      rootOwners: this.raw.HATRAC_ROOT_OWNERS,
      firewall: {
        create: firewall(this.raw.HATRAC_FIREWALL_CREATE),
        delete: firewall(this.raw.HATRAC_FIREWALL_DELETE),
        manage_acl: firewall(this.raw.HATRAC_FIREWALL_MANAGE_ACL),
        manage_metadata: firewall(this.raw.HATRAC_FIREWALL_MANAGE_METADATA),
      },
    };
  }
  pluginEnabled(name: string): boolean {
    return this.plugins.includes(name);
  }
}

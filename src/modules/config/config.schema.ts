import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';

/** Built-in plugins; `PLUGINS` selects among them (default: all). Kept in sync by plugins/registry.ts. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) =>
  z.coerce
    .number({ invalid_type_error: 'must be a number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const list = z.union([z.array(z.string()), z.string()]).transform((v) =>
  (Array.isArray(v) ? v : v.split(','))
    .map((s) => s.trim())
    .filter(Boolean),
);

const defaultCacheDir = () =>
  path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'strata');

/**
 * Every configuration key, its default and its rule. Values come from the environment and from an
 * optional JSON file (`CONFIG_FILE`) using the same key names; the environment wins.
 */
export const configSchema = z
  .object({
    PORT: int(0, 65535).default(8080),
    HOST: z.string().min(1).default('127.0.0.1'),
    DATA_DIR: z.string().min(1).default('./data'),
    CACHE_DIR: z.string().min(1).default(defaultCacheDir),
    MONGO_URI: z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://')
      .optional(),
    /** Database name when MONGO_URI names none. */
    MONGO_DB: z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, 'must be 1-63 letters, digits, _ or -').default('strata'),
    PLUGINS: list.optional(),
    LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
    LOG_FORMAT: z.enum(['text', 'json']).default('text'),
    TOKEN_LIFETIME_DAYS: z.coerce.number().positive('must be a positive number of days').max(3650).default(180),
    REGISTRATION: z.enum(['open', 'closed']).default('open'),
    ADMIN_LOGIN: z
      .string()
      .transform((s) => s.trim().toLowerCase())
      .pipe(z.string().regex(/^[a-z][\da-z\-.]{3,}$/, 'must be a valid login (a letter, then 3 or more of a-z 0-9 - .)'))
      .default('admin'),
    ADMIN_PASSWORD: z.string().min(6, 'must be at least 6 characters').optional(),
    TLS_CERT: z.string().min(1).optional(),
    TLS_KEY: z.string().min(1).optional(),
    BCRYPT_ROUNDS: int(4, 15).default(11),
    /** Failed logins allowed per login within one window before it locks until the window ends. */
    LOGIN_MAX_FAILURES: int(1, 1000).default(5),
    LOGIN_WINDOW_SECONDS: int(1, 86400).default(60),
    /** Failed logins allowed per client address within one window. */
    LOGIN_MAX_FAILURES_PER_IP: int(1, 100000).default(50),
    /** Extra JVM options for the embedded database (space separated). */
    EMBEDDED_DB_JAVA_OPTS: z.string().default('-Xmx512m -XX:+UseSerialGC'),
    CONFIG_FILE: z.string().optional(),
    TRUST_PROXY: bool.default(false),
    /** Largest Hatrac PUT or chunk body, in bytes (Hatrac's max_request_payload_size). */
    HATRAC_MAX_PAYLOAD_BYTES: int(1, Number.MAX_SAFE_INTEGER).default(134_217_728),
    /** Roles owning the Hatrac root namespace besides site administrators. */
    HATRAC_ROOT_OWNERS: list.default([]),
    /** Hatrac's service-wide firewall ACLs: roles allowed each kind of change at all. */
    HATRAC_FIREWALL_CREATE: list.default(['*']),
    HATRAC_FIREWALL_DELETE: list.default(['*']),
    HATRAC_FIREWALL_MANAGE_ACL: list.default(['*']),
    HATRAC_FIREWALL_MANAGE_METADATA: list.default(['*']),
    /** Empties every Hatrac firewall ACL (Hatrac's read_only). */
    HATRAC_READ_ONLY: bool.default(false),
  })
  .superRefine((c, ctx) => {
    if (Boolean(c.TLS_CERT) !== Boolean(c.TLS_KEY)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [c.TLS_CERT ? 'TLS_KEY' : 'TLS_CERT'],
        message: 'TLS_CERT and TLS_KEY must be given together',
      });
    }
    for (const key of ['TLS_CERT', 'TLS_KEY'] as const) {
      if (c[key] && !existsSync(c[key]!)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: `names a file that does not exist (${c[key]})` });
      }
    }
  });

export type RawConfig = z.infer<typeof configSchema>;

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ZodError } from 'zod';
import { configSchema } from './config.schema';
import { AppConfig } from './app-config';

export class ConfigError extends Error {}

const KEYS = Object.keys(configSchema.innerType().shape);

/**
 * Reads the configuration from the environment and the optional JSON file, validates it once and
 * returns it typed. Throws a ConfigError whose message is one line naming every bad key.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  knownPlugins: readonly string[] = [],
  defaultPlugins: readonly string[] = knownPlugins,
): AppConfig {
  const fromEnv: Record<string, string> = {};
  for (const key of KEYS) {
    const value = env[key];
    if (value !== undefined && value !== '') fromEnv[key] = value;
  }
  const fromFile = fromEnv.CONFIG_FILE ? readConfigFile(fromEnv.CONFIG_FILE) : {};
  let raw;
  try {
    raw = configSchema.parse({ ...fromFile, ...fromEnv });
  } catch (err) {
    if (err instanceof ZodError) throw new ConfigError(`Invalid configuration: ${describe(err, { ...fromFile, ...fromEnv })}`);
    throw err;
  }
  const plugins = raw.PLUGINS ?? [...defaultPlugins];
  const unknown = plugins.filter((p) => !knownPlugins.includes(p));
  if (unknown.length) {
    throw new ConfigError(
      `Invalid configuration: PLUGINS names unknown plugin(s) ${unknown.join(', ')} (known: ${knownPlugins.join(', ') || 'none'})`,
    );
  }
  return new AppConfig(raw, plugins);
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path.resolve(file), 'utf8');
  } catch (err) {
    throw new ConfigError(`Invalid configuration: CONFIG_FILE ${file} cannot be read (${(err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`Invalid configuration: CONFIG_FILE ${file} is not valid JSON (${(err as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`Invalid configuration: CONFIG_FILE ${file} must hold a JSON object of settings`);
  }
  const unknown = Object.keys(parsed).filter((k) => !KEYS.includes(k));
  if (unknown.length) throw new ConfigError(`Invalid configuration: CONFIG_FILE ${file} has unknown key(s) ${unknown.join(', ')}`);
  return parsed as Record<string, unknown>;
}

function describe(err: ZodError, input: Record<string, unknown>): string {
  return err.issues
    .map((issue) => {
      const key = String(issue.path[0] ?? 'config');
      const secret = /PASSWORD|KEY/.test(key);
      const got = input[key] === undefined || secret ? '' : ` (got ${JSON.stringify(input[key])})`;
      return `${key} ${issue.message}${got}`;
    })
    .join('; ');
}

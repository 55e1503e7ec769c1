import { Injectable } from '@nestjs/common';
import { ValidationError } from '../../common/errors';
import { SettingsRepository } from './settings.repository';

export interface SettingDefinition<T> {
  /** The value when none is stored. */
  default: T | (() => T);
  /** Returns the value to store, or throws a ValidationError naming the problem. */
  validate: (value: unknown) => T;
  description?: string;
}

/**
 * Key/value settings with per-key validators and defaults. The core and plugins register their
 * keys at start-up; reads go to the database every time, so several instances agree at once.
 */
@Injectable()
export class SettingsService {
  private readonly definitions = new Map<string, SettingDefinition<unknown>>();

  constructor(private readonly repo: SettingsRepository) {}

  register<T>(key: string, definition: SettingDefinition<T>): void {
    if (this.definitions.has(key)) throw new Error(`setting ${key} is registered twice`);
    this.definitions.set(key, definition as SettingDefinition<unknown>);
  }

  keys(): string[] {
    return [...this.definitions.keys()].sort();
  }

  describe(key: string): SettingDefinition<unknown> | undefined {
    return this.definitions.get(key);
  }

  async get<T = unknown>(key: string): Promise<T> {
    const definition = this.definition(key);
    const stored = await this.repo.get(key);
    if (stored) return stored.value as T;
    const d = definition.default;
    return (typeof d === 'function' ? (d as () => unknown)() : d) as T;
  }

  async set(key: string, value: unknown): Promise<unknown> {
    const definition = this.definition(key);
    if (value === null || value === undefined) {
      await this.repo.unset(key);
      return this.get(key);
    }
    const valid = definition.validate(value);
    await this.repo.set(key, valid);
    return valid;
  }

  private definition(key: string): SettingDefinition<unknown> {
    const definition = this.definitions.get(key);
    if (!definition) throw new ValidationError(`Unknown setting: ${key}`, 'key');
    return definition;
  }
}

/** Validators for common setting shapes. */
export const validators = {
  string:
    (opts: { min?: number; max?: number } = {}) =>
    (value: unknown): string => {
      if (typeof value !== 'string') throw new ValidationError('The value must be a string.', 'value');
      const s = value.trim();
      if (opts.min !== undefined && s.length < opts.min) throw new ValidationError(`The value must be at least ${opts.min} characters.`, 'value');
      if (opts.max !== undefined && s.length > opts.max) throw new ValidationError(`The value must be at most ${opts.max} characters.`, 'value');
      return s;
    },
  boolean: (value: unknown): boolean => {
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    throw new ValidationError('The value must be true or false.', 'value');
  },
  integer:
    (min: number, max: number) =>
    (value: unknown): number => {
      const n = typeof value === 'string' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
        throw new ValidationError(`The value must be a whole number from ${min} to ${max}.`, 'value');
      }
      return n;
    },
  absolutePath: (value: unknown): string => {
    if (typeof value !== 'string' || !value.startsWith('/')) throw new ValidationError('The value must be an absolute path.', 'value');
    return value.replace(/\/+$/, '') || '/';
  },
};

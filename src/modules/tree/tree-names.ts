import { ValidationError } from '../../common/errors';

export const MAX_NAME_BYTES = 255;

/**
 * The one rule for names of collections, folders, items and files: trimmed, Unicode NFC,
 * non-empty, no `/` or NUL, not `.` or `..`, at most 255 bytes of UTF-8. Mapped folders store
 * names on disk unchanged, so the rule is also what every filesystem here accepts.
 */
export function cleanName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string') throw new ValidationError(`Parameter ${field} is required.`, field);
  const clean = name.normalize('NFC').trim();
  if (!clean) throw new ValidationError('Name must not be empty.', field);
  if (clean.includes('/')) throw new ValidationError('Name must not contain "/".', field);
  if (clean.includes('\0')) throw new ValidationError('Name must not contain NUL characters.', field);
  if (clean === '.' || clean === '..') throw new ValidationError('Name must not be "." or "..".', field);
  if (Buffer.byteLength(clean, 'utf8') > MAX_NAME_BYTES) throw new ValidationError(`Name must be at most ${MAX_NAME_BYTES} bytes.`, field);
  return clean;
}

/** The case-insensitive form names are unique in. */
export function lowerNameOf(name: string): string {
  return name.toLowerCase();
}

/** Girder's automatic rename: `name (1)`, `name (2)`, … */
export function numberedName(name: string, n: number): string {
  return n === 0 ? name : `${name} (${n})`;
}

/** Lower-cased extensions, as Girder's `exts` ("a.tar.gz" → ["tar", "gz"]). */
export function extensionsOf(name: string): string[] {
  const parts = name.split('.');
  return parts.length > 1 ? parts.slice(1).map((p) => p.toLowerCase()).filter(Boolean) : [];
}

/** Keys of `meta` must be non-empty, contain no `.` and not start with `$` (MongoDB field rules). */
export function checkMetaKeys(meta: Record<string, unknown>): void {
  for (const key of Object.keys(meta)) {
    if (!key || key.includes('.') || key.startsWith('$')) {
      throw new ValidationError(`Invalid metadata key "${key}": keys must be non-empty, contain no "." and not start with "$".`, 'metadata');
    }
  }
}

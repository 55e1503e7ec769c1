import { HatracError } from './hatrac-errors';

/** The sub-resources a Hatrac URL can address (reference §2.1). */
export type HatracTarget =
  | { kind: 'name'; name: string }
  | { kind: 'version'; name: string; version: string }
  | { kind: 'versions'; name: string }
  | { kind: 'acl'; name: string; version?: string; acl?: string; role?: string }
  | { kind: 'metadata'; name: string; version?: string; field?: string }
  | { kind: 'upload'; name: string; job?: string; chunk?: string };

export const ROOT = '/';

/**
 * Hatrac's legal name characters: unreserved ASCII, `/` and `%XX` escapes. Names are kept and
 * compared exactly as written in the URL, escapes included (reference §1.2).
 */
const LEGAL_NAME = /^(?:[-._~A-Za-z0-9/]|%[0-9A-Fa-f]{2})+$/;

/**
 * Parses the part of a raw request URL after the `/hatrac` prefix (still percent-encoded; the
 * query string removed). Empty segments collapse and a trailing `/` is ignored.
 */
export function parseHatracPath(rawPath: string): HatracTarget {
  const semi = rawPath.indexOf(';');
  const namePart = semi < 0 ? rawPath : rawPath.slice(0, semi);
  const sub = semi < 0 ? null : rawPath.slice(semi + 1);

  let version: string | undefined;
  let path = namePart;
  const colon = namePart.lastIndexOf(':');
  if (colon >= 0) {
    version = decodeSegment(namePart.slice(colon + 1).replace(/\/+$/, ''));
    path = namePart.slice(0, colon);
    if (!version || path.slice(path.lastIndexOf('/') + 1) === '') throw new HatracError(400, 'A version needs an object name before the colon.');
  }
  if (path.includes(':')) throw new HatracError(400, 'The character ":" must be percent-encoded inside names.');
  const name = normalizeName(path);

  if (sub === null) return version ? { kind: 'version', name, version } : { kind: 'name', name };
  const parts = sub.split('/');
  while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  const [keyword, a, b, ...rest] = parts;
  if (rest.length) throw new HatracError(404, 'No such resource.');
  switch (keyword) {
    case 'versions':
      if (version || a !== undefined) throw new HatracError(404, 'No such resource.');
      return { kind: 'versions', name };
    case 'acl':
      return { kind: 'acl', name, version, acl: a || undefined, role: b === undefined ? undefined : decodeSegment(b) };
    case 'metadata':
      if (b !== undefined) throw new HatracError(404, 'No such resource.');
      return { kind: 'metadata', name, version, field: a || undefined };
    case 'upload':
      if (version) throw new HatracError(404, 'No such resource.');
      return { kind: 'upload', name, job: a || undefined, chunk: b };
    default:
      throw new HatracError(404, `Unknown sub-resource ;${keyword}.`);
  }
}

/** `/a//b/` → `/a/b`; the root is `/`. Checks the legal characters. */
function normalizeName(path: string): string {
  const segments = path.split('/').filter(Boolean);
  if (!segments.length) return ROOT;
  const name = `/${segments.join('/')}`;
  if (!LEGAL_NAME.test(name)) {
    throw new HatracError(400, 'Illegal character in name: use only A-Z a-z 0-9 - . _ ~ and %XX escapes (and / between levels).');
  }
  return name;
}

/** New names may not end in `.` or `..` (also ancestors made with `parents=true`). */
export function checkNewName(name: string): void {
  const last = lastSegment(name);
  if (last === '.' || last === '..') throw new HatracError(400, `Illegal name "${name}".`);
}

export function parentOf(name: string): string | null {
  if (name === ROOT) return null;
  const i = name.lastIndexOf('/');
  return i <= 0 ? ROOT : name.slice(0, i);
}

/** Every proper ancestor of `name`, root first. */
export function ancestorsOf(name: string): string[] {
  const out: string[] = [];
  for (let p = parentOf(name); p !== null; p = parentOf(p)) out.unshift(p);
  return out;
}

export function lastSegment(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/** A readable tree name for a Hatrac segment: decoded when that gives a valid name, else as written. */
export function displayName(segment: string): string {
  try {
    const decoded = decodeURIComponent(segment).normalize('NFC');
    return decoded.trim() && !/[/\0]/.test(decoded) && decoded !== '.' && decoded !== '..' ? decoded.trim() : segment;
  } catch {
    return segment;
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HatracError(400, `Malformed percent-escape in "${segment}".`);
  }
}

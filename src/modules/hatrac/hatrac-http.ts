import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { HatracError } from './hatrac-errors';

/** What a Hatrac operation answers; the gateway writes it. */
export interface HatracReply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Readable;
}

export const URI_LIST = 'text/uri-list';
export const NAMESPACE_TYPE = 'application/x-hatrac-namespace';

/** A quoted digest of a resource's representation, as Hatrac's ETags for listings, ACLs and metadata. */
export function digestTag(value: unknown): string {
  return `"${createHash('md5').update(JSON.stringify(value)).digest('base64')}"`;
}

/**
 * Hatrac's preconditions (reference §2.3), evaluated before authorization. `etag` is null when the
 * resource does not exist. A failure is 304 for GET/HEAD (also for If-Match) and 412 otherwise.
 */
export function checkPreconditions(headers: IncomingHttpHeaders, method: string, etag: string | null): void {
  const ifMatch = tagList(headers['if-match']);
  const ifNoneMatch = tagList(headers['if-none-match']);
  let failed = false;
  if (ifMatch) failed = etag === null || !(ifMatch.includes('*') || ifMatch.includes(bare(etag)));
  if (!failed && ifNoneMatch && etag !== null) failed = ifNoneMatch.includes('*') || ifNoneMatch.includes(bare(etag));
  if (!failed) return;
  const extra: Record<string, string> = etag ? { ETag: etag, Vary: 'Accept' } : { Vary: 'Accept' };
  if (method === 'GET' || method === 'HEAD') throw new HatracError(304, '', extra);
  throw new HatracError(412, 'Precondition failed.', extra);
}

function tagList(header: string | undefined): string[] | null {
  if (header === undefined) return null;
  return header
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => (t === '*' ? '*' : bare(t)));
}

/** A tag without its weak marker and quotes, for comparison. */
function bare(tag: string): string {
  return tag.replace(/^W\//i, '').replace(/^"(.*)"$/, '$1');
}

/**
 * A single byte range (reference §2.4): null when there is none or it does not parse (then the
 * header is ignored), `'full'` when it covers everything; 501 for other units or several ranges,
 * 416 when it starts past the end.
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'full' | null {
  if (!header) return null;
  const m = /^\s*([^=\s]+)\s*=\s*(.*)$/.exec(header);
  if (!m) return null;
  if (m[1].toLowerCase() !== 'bytes') throw new HatracError(501, `Range unit "${m[1]}" is not supported; use bytes.`);
  if (m[2].includes(',')) throw new HatracError(501, 'Multiple ranges are not supported.');
  const r = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(m[2]);
  if (!r || (r[1] === '' && r[2] === '')) return null;
  let start: number;
  let end: number;
  if (r[1] === '') {
    const suffix = Number(r[2]);
    if (suffix === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(r[1]);
    end = r[2] === '' ? Infinity : Number(r[2]);
    if (end < start) return null;
    if (start >= size) throw new HatracError(416, 'Requested range not satisfiable.', { 'Content-Range': `bytes */${size}` });
    end = Math.min(end, size - 1);
  }
  if (size === 0) throw new HatracError(416, 'Requested range not satisfiable.', { 'Content-Range': `bytes */${size}` });
  return start === 0 && end === size - 1 ? 'full' : { start, end };
}

/** JSON (default), uri-list or HTML for listings, by the client's Accept header and its q-values. */
export function negotiate(accept: string | undefined): 'json' | 'uri-list' | 'html' {
  const offered = { 'application/json': 'json', [URI_LIST]: 'uri-list', 'text/html': 'html' } as const;
  let best: { kind: 'json' | 'uri-list' | 'html'; q: number } = { kind: 'json', q: 0 };
  for (const part of (accept ?? '').split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const q = Number(params.map((p) => p.trim()).find((p) => p.startsWith('q='))?.slice(2) ?? 1);
    const kind = offered[type as keyof typeof offered];
    if (kind && q > best.q) best = { kind, q };
  }
  return best.kind;
}

/** A listing of URLs in the negotiated form. */
export function listingReply(urls: string[], accept: string | undefined, title: string, etag: string): HatracReply {
  const kind = negotiate(accept);
  const headers = { ETag: etag, Vary: 'Accept' };
  if (kind === 'uri-list') return { status: 200, headers: { ...headers, 'Content-Type': URI_LIST }, body: urls.map((u) => `${u}\n`).join('') };
  if (kind === 'html') {
    const rows = urls.map((u) => `<li><a href="${escapeHtml(u)}">${escapeHtml(u)}</a></li>`).join('\n');
    const html = `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><ul>\n${rows}\n</ul></body></html>\n`;
    return { status: 200, headers: { ...headers, 'Content-Type': 'text/html; charset=utf-8' }, body: html };
  }
  return { status: 200, headers: { ...headers, 'Content-Type': 'application/json' }, body: `${JSON.stringify(urls)}\n` };
}

export function uriListReply(status: number, urls: string[], location?: string): HatracReply {
  return { status, headers: { 'Content-Type': URI_LIST, ...(location ? { Location: location } : {}) }, body: urls.map((u) => `${u}\n`).join('') };
}

// ---------------------------------------------------------------- request headers

/** A Content-MD5 / Content-SHA256 value: base64, or hex of 32/64 characters (reference §4.4). */
export function parseChecksum(value: string | undefined, algorithm: 'md5' | 'sha256'): Buffer | undefined {
  if (value === undefined) return undefined;
  const want = algorithm === 'md5' ? 16 : 32;
  const text = value.trim();
  const bytes = text.length === want * 2 && /^[0-9a-f]+$/i.test(text) ? Buffer.from(text, 'hex') : /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : null;
  if (!bytes || bytes.length !== want) throw new HatracError(400, `Invalid content-${algorithm}: give ${want} bytes in base64 or hex.`);
  return bytes;
}

/** Content-Type as stored: lower case, parameters dropped. */
export function cleanContentType(value: string | undefined): string | undefined {
  const type = value?.split(';')[0].trim().toLowerCase();
  return type || undefined;
}

/** Content-Disposition must be `filename*=UTF-8''<escaped name>` whose name holds no / or \\. */
export function checkDisposition(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^filename\*=UTF-8''([-_.~A-Za-z0-9%]+)$/.exec(value.trim());
  let decoded: string | null = null;
  try {
    decoded = m ? decodeURIComponent(m[1]) : null;
  } catch {
    decoded = null;
  }
  if (!decoded || /[/\\]/.test(decoded)) throw new HatracError(400, `Invalid Content-Disposition "${value}": use filename*=UTF-8''<percent-encoded name> without / or \\.`);
  return value.trim();
}

/** A JSON object from a small request body; anything else is a 400 naming `what`. */
export function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new HatracError(400, `${what} must be a JSON object.`);
  return value as Record<string, unknown>;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

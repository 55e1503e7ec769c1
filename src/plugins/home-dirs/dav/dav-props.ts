import { Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { lstatSync, promises as fs, Stats } from 'node:fs';
import * as path from 'node:path';
import { FolderDoc } from '../../../modules/tree/schemas/folder.schema';
import { Realms } from '../realms';
import { DavDeadProps, DeadPropsDoc, parsePropKey, propKey } from './dav-dead-props';
import { activeLockXml, DavStatus } from './dav-lock-rules';
import { covers, DavLockDoc, DavLocks } from './dav-locks';
import { DavSync, etagOf, isUsable, locate, Location, mimeOf, TEMP_PREFIX, usableStat } from './dav-sync';
import { childElements, emptyElement, encodeHref, encodeSegment, escapeXml, isElement, parseXml, serializeElement, XmlElement, XmlError } from './dav-xml';

const DAV = 'DAV:';
/** Entries stat'ed and written per step of a Depth 1 listing (memory stays flat for huge folders). */
const BATCH = 512;

/** Who asks: what `/homes` and `/tales` list for them. */
export interface DavViewer {
  login: string;
  readableTales: () => Promise<FolderDoc[]>;
}

interface PropName {
  ns: string;
  local: string;
  /** Its key among dead properties, or null for a live property. */
  deadKey: string | null;
}

/** What a PROPFIND asks for: all properties (plus `include`), their names, or the named ones. */
interface PropfindRequest {
  mode: 'allprop' | 'propname' | 'prop';
  names: PropName[];
}

/** One resource in a PROPFIND answer. */
interface Entry {
  name: string;
  href: string;
  /** null for `/`, `/homes` and `/tales`, which exist only in URLs (no dates, size or ETag). */
  stat: Stats | null;
  collection: boolean;
  /** Inside a home or tale (the homes and tales themselves cannot be locked). */
  lockable: boolean;
  dead?: DeadPropsDoc['props'];
  locks: DavLockDoc[];
}

const SUPPORTED_LOCKS = ['exclusive', 'shared']
  .map((scope) => `<D:lockentry><D:lockscope><D:${scope}/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>`)
  .join('');

/**
 * The live properties (DAV: namespace), computed from the disk, which is what GET serves and what
 * reconciliation makes the tree match. A value of null means "not defined for this resource" (a
 * 404 when asked for by name). All of them are protected: PROPPATCH answers 403 for them.
 */
const LIVE: Record<string, (e: Entry) => string | null> = {
  resourcetype: (e) => (e.collection ? '<D:collection/>' : ''),
  displayname: (e) => escapeXml(e.name),
  getcontentlength: (e) => (e.stat && !e.collection ? String(e.stat.size) : null),
  getcontenttype: (e) => (e.collection ? null : escapeXml(mimeOf(e.name))),
  getetag: (e) => (e.stat ? escapeXml(etagOf(e.stat)) : null),
  getlastmodified: (e) => (e.stat ? e.stat.mtime.toUTCString() : null),
  creationdate: (e) => (e.stat ? new Date(e.stat.birthtimeMs || e.stat.ctimeMs).toISOString().replace(/\.\d+Z$/, 'Z') : null),
  supportedlock: (e) => (e.lockable ? SUPPORTED_LOCKS : ''),
  lockdiscovery: (e) => e.locks.map(activeLockXml).join(''),
};

const LIVE_NAMES = Object.keys(LIVE);
const isLive = (n: { ns: string; local: string }) => n.ns === DAV && Object.hasOwn(LIVE, n.local);
const NO_LOCKS: DavLockDoc[] = [];

/**
 * PROPFIND and PROPPATCH, served here rather than by webdav-server (which accepts malformed XML,
 * loses namespaces, keeps properties in memory and lists 14× slower than Apache). Dead properties
 * are kept per tree node in the database (DavDeadProps); a Depth 1 listing reads the directory
 * once, stats its entries, and makes at most one query for dead properties and two for locks,
 * whatever the size of the folder.
 */
@Injectable()
export class DavProps {
  constructor(
    private readonly realms: Realms,
    private readonly sync: DavSync,
    private readonly locks: DavLocks,
    private readonly deadProps: DavDeadProps,
  ) {}

  async propfind(res: Response, segments: string[], depth: 0 | 1, body: string, viewer: DavViewer): Promise<void> {
    const request = parsePropfind(body);
    const loc = locate(this.realms, segments);
    const target = await this.entry(segments);
    if (!loc || !target) throw new DavStatus(404, 'Not found.');
    const names = depth === 1 && target.collection ? await this.childNames(loc, viewer) : [];
    const wantsDead = request.mode !== 'prop' || request.names.some((n) => n.deadKey);
    const dead = wantsDead ? await this.deadPropsOf(loc, names.length > 0, viewer) : new Map<string, DeadPropsDoc['props']>();
    const wantsLocks = request.mode === 'allprop' || request.names.some((n) => n.ns === DAV && n.local === 'lockdiscovery');
    const locks = wantsLocks && loc.kind === 'inside' ? await this.locksAt(pathOf(segments), names.length > 0) : NO_LOCKS;
    /** One response; `key` finds its dead properties, `at` its path for the locks. */
    const render = (e: Entry, key: string, at: string[]): string => {
      e.dead = dead.get(key);
      e.locks = locks.length ? locks.filter((l) => covers(l, pathOf(at))) : NO_LOCKS;
      return responseXml(e, request);
    };

    res.writeHead(207, { 'Content-Type': 'application/xml; charset=utf-8' });
    res.write(`<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">${render(target, '', segments)}`);
    for (let n = 0; n < names.length && !res.destroyed; n += BATCH) {
      if (n) await new Promise(setImmediate); // let other requests in between batches
      let xml = '';
      for (const name of names.slice(n, n + BATCH)) {
        const at = [...segments, name];
        const child = loc.kind === 'inside' ? childEntry(target, loc.at.disk, name) : await this.entry(at);
        if (child) xml += render(child, name.normalize('NFC'), at); // an entry gone since the listing is left out
      }
      if (!res.write(xml)) await writable(res);
    }
    res.end('</D:multistatus>\n');
  }

  /** PROPPATCH: applied in document order, all or nothing (RFC 4918 9.2). */
  async proppatch(res: Response, segments: string[], body: string): Promise<void> {
    const updates = parsePropertyUpdate(body);
    const loc = locate(this.realms, segments);
    if (loc?.kind !== 'inside') throw new DavStatus(403, 'Only resources inside a home or tale have properties you can change.');
    const stat = await usableStat(loc.at.disk);
    if (!stat) throw new DavStatus(404, 'Not found.');
    const node = await this.sync.node(loc.at);
    if (!node) throw new DavStatus(409, 'This resource is not in the data tree yet; a reconciliation adds it.');
    const outcome = new Map<string, { name: string; status: number }>();
    const set = new Map<string, string>();
    const unset = new Set<string>();
    for (const { remove, prop } of updates) {
      const key = propKey(prop.ns, prop.local);
      if (isLive(prop)) {
        outcome.set(key, { name: emptyElement(prop.ns, prop.local), status: 403 });
        continue;
      }
      if (remove) {
        set.delete(key);
        unset.add(key);
      } else {
        set.set(key, serializeElement(prop));
        unset.delete(key);
      }
      if (!outcome.has(key)) outcome.set(key, { name: emptyElement(prop.ns, prop.local), status: 200 });
    }
    if ([...outcome.values()].some((o) => o.status !== 200)) {
      for (const o of outcome.values()) if (o.status === 200) o.status = 424; // not applied: a failure leaves everything as it was
    } else if (set.size || unset.size) await this.deadProps.patch(node, set, [...unset]);
    const byStatus = new Map<number, string[]>();
    for (const o of outcome.values()) byStatus.set(o.status, [...(byStatus.get(o.status) ?? []), o.name]);
    const propstats = [...byStatus].map(([status, props]) => propstat(props.join(''), status)).join('');
    res.status(207).type('application/xml; charset=utf-8');
    res.end(`<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:"><D:response><D:href>${hrefOf(segments, stat.isDirectory())}</D:href>${propstats}</D:response></D:multistatus>\n`);
  }

  /** A resource as PROPFIND shows it; null when there is none (or it is a symlink). */
  private async entry(segments: string[]): Promise<Entry | null> {
    const loc = locate(this.realms, segments);
    const name = segments[segments.length - 1] ?? '';
    if (!loc) return null;
    if (loc.kind !== 'inside') return { name, href: hrefOf(segments, true), stat: null, collection: true, lockable: false, locks: NO_LOCKS };
    const stat = await usableStat(loc.at.disk);
    const lockable = loc.at.segments.length > 0;
    return stat && { name, href: hrefOf(segments, stat.isDirectory()), stat, collection: stat.isDirectory(), lockable, locks: NO_LOCKS };
  }

  /** The names a collection lists: the realms, your home, the tales you may read, or a directory's entries. */
  private async childNames(loc: Location, viewer: DavViewer): Promise<string[]> {
    if (loc.kind === 'root') return ['homes', 'tales'];
    if (loc.kind === 'realm') return loc.realm === 'homes' ? [viewer.login] : (await viewer.readableTales()).map((f) => f.mapping!.key);
    const entries = await fs.readdir(loc.at.disk, { withFileTypes: true });
    return entries.filter((e) => !e.isSymbolicLink() && !e.name.startsWith(TEMP_PREFIX)).map((e) => e.name);
  }

  /** Dead properties by NFC child name ('' for the target itself), in one query. */
  private async deadPropsOf(loc: Location, withChildren: boolean, viewer: DavViewer): Promise<Map<string, DeadPropsDoc['props']>> {
    const found = new Map<string, DeadPropsDoc['props']>();
    if (loc.kind === 'root') return found;
    if (loc.kind === 'realm') {
      if (!withChildren) return found;
      const roots = loc.realm === 'homes' ? [await this.realms.rootFolder('homes', viewer.login)].filter((f): f is FolderDoc => Boolean(f)) : await viewer.readableTales();
      const keyOf = new Map(roots.map((f) => [String(f._id), f.mapping!.key]));
      for (const doc of await this.deadProps.of(roots.map((f) => f._id))) found.set(keyOf.get(String(doc._id))!, doc.props);
      return found;
    }
    const node = await this.sync.node(loc.at);
    if (!node) return found;
    const docs = withChildren && node.kind === 'folder' ? await this.deadProps.ofFolderAndChildren(node.doc._id) : await this.deadProps.of([node.doc._id]);
    for (const doc of docs) found.set(doc._id.equals(node.doc._id) ? '' : doc.name, doc.props);
    return found;
  }

  /** Locks on the target, from its ancestors, and (for a listing) below it. */
  private async locksAt(p: string, below: boolean): Promise<DavLockDoc[]> {
    const all = [...(await this.locks.covering(p)), ...(below ? await this.locks.below(p) : [])];
    return all.filter((l, n) => all.findIndex((m) => m._id === l._id) === n);
  }
}

function parsePropfind(body: string): PropfindRequest {
  if (!body.trim()) return { mode: 'allprop', names: [] }; // RFC 4918 9.1: no body means allprop
  const root = parseBody(body);
  if (!isElement(root, DAV, 'propfind')) throw new DavStatus(400, 'A PROPFIND body must be a DAV:propfind element.');
  const children = childElements(root);
  const names = (el: XmlElement | undefined) => propNames(el ? childElements(el) : []);
  const prop = children.find((c) => isElement(c, DAV, 'prop'));
  if (prop) return { mode: 'prop', names: names(prop) };
  if (children.some((c) => isElement(c, DAV, 'allprop'))) return { mode: 'allprop', names: names(children.find((c) => isElement(c, DAV, 'include'))) };
  if (children.some((c) => isElement(c, DAV, 'propname'))) return { mode: 'propname', names: [] };
  throw new DavStatus(400, 'A PROPFIND body needs DAV:prop, DAV:allprop or DAV:propname.');
}

/** The set and remove instructions of a PROPPATCH body, in document order. */
function parsePropertyUpdate(body: string): { remove: boolean; prop: XmlElement }[] {
  const root = parseBody(body);
  if (!isElement(root, DAV, 'propertyupdate')) throw new DavStatus(400, 'A PROPPATCH body must be a DAV:propertyupdate element.');
  const updates: { remove: boolean; prop: XmlElement }[] = [];
  for (const instruction of childElements(root)) {
    const remove = isElement(instruction, DAV, 'remove');
    if (!remove && !isElement(instruction, DAV, 'set')) continue; // unknown elements are ignored (RFC 4918 17)
    const prop = childElements(instruction).find((c) => isElement(c, DAV, 'prop'));
    if (!prop) throw new DavStatus(400, `DAV:${instruction.local} needs a DAV:prop element.`);
    for (const p of childElements(prop)) updates.push({ remove, prop: p });
  }
  if (!updates.length) throw new DavStatus(400, 'The PROPPATCH body sets or removes no property.');
  return updates;
}

function parseBody(body: string): XmlElement {
  try {
    return parseXml(body);
  } catch (err) {
    if (err instanceof XmlError) throw new DavStatus(400, `The XML body is malformed: ${err.message}.`);
    throw err;
  }
}

/** The named properties, each once, with their dead-property keys worked out once per request. */
function propNames(elements: XmlElement[]): PropName[] {
  const seen = new Set<string>();
  const names: PropName[] = [];
  for (const { ns, local } of elements) {
    const key = propKey(ns, local);
    if (seen.has(key)) continue;
    seen.add(key);
    names.push({ ns, local, deadKey: isLive({ ns, local }) ? null : key });
  }
  return names;
}

/**
 * A directory entry of a Depth 1 listing. lstatSync: a listing stats thousands of local entries,
 * and the thread-pool round trip of the asynchronous call costs three to four times the call
 * itself; the listing yields to other requests between batches.
 */
function childEntry(parent: Entry, dir: string, name: string): Entry | null {
  const stat = lstatSync(path.join(dir, name), { throwIfNoEntry: false });
  if (!isUsable(stat)) return null;
  const collection = stat.isDirectory();
  return { name, href: `${parent.href}${encodeSegment(name)}${collection ? '/' : ''}`, stat, collection, lockable: true, locks: NO_LOCKS };
}

/** One DAV:response: what was found (200) and what was asked for but is not there (404). */
function responseXml(e: Entry, request: PropfindRequest): string {
  let found = '';
  let missing = '';
  const live = (local: string) => {
    const value = LIVE[local](e);
    if (value !== null) found += value ? `<D:${local}>${value}</D:${local}>` : `<D:${local}/>`;
    return value !== null;
  };
  if (request.mode === 'propname') {
    for (const local of LIVE_NAMES) if (LIVE[local](e) !== null) found += `<D:${local}/>`;
    for (const key of Object.keys(e.dead ?? {})) found += emptyElement(parsePropKey(key).ns, parsePropKey(key).local);
  } else {
    if (request.mode === 'allprop') {
      for (const local of LIVE_NAMES) live(local);
      for (const value of Object.values(e.dead ?? {})) found += value;
    }
    for (const n of request.names) {
      const dead = n.deadKey === null ? undefined : e.dead?.[n.deadKey];
      if (request.mode === 'allprop') {
        if (n.deadKey !== null && !dead) missing += emptyElement(n.ns, n.local); // included, but not there
        continue;
      }
      if (dead) found += dead;
      else if (n.deadKey !== null || !live(n.local)) missing += emptyElement(n.ns, n.local);
    }
  }
  const stats = (found || !missing ? propstat(found, 200) : '') + (missing ? propstat(missing, 404) : '');
  return `<D:response><D:href>${e.href}</D:href>${stats}</D:response>`;
}

const REASONS: Record<number, string> = { 200: 'OK', 403: 'Forbidden', 404: 'Not Found', 424: 'Failed Dependency' };

function propstat(props: string, status: number): string {
  return `<D:propstat><D:prop>${props}</D:prop><D:status>HTTP/1.1 ${status} ${REASONS[status]}</D:status></D:propstat>`;
}

/** The href of a resource: each segment encoded so that `#`, `?`, `%`, `;` round-trip; collections end in `/`. */
function hrefOf(segments: string[], collection: boolean): string {
  const p = encodeHref(`/${segments.join('/')}`);
  return collection && segments.length ? `${p}/` : p;
}

function pathOf(segments: string[]): string {
  return path.posix.join('/', ...segments.map((s) => s.normalize('NFC')));
}

/** Resolves when the response can take more (or the client has gone). */
function writable(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

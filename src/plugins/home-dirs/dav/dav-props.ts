import { Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { lstatSync, readdirSync, Stats } from 'node:fs';
import * as path from 'node:path';
import { FolderDoc } from '../../../modules/tree/schemas/folder.schema';
import { Realms } from '../realms';
import { DavDeadProps, DeadPropsDoc, parsePropKey, propKey } from './dav-dead-props';
import { httpDate } from './dav-get';
import { activeLockXml, DavStatus } from './dav-lock-rules';
import { covers, DavLockDoc, DavLocks } from './dav-locks';
import { DavSync, etagOf, isUsable, locate, Location, mimeOf, usableStat } from './dav-sync';
import { TEMP_PREFIX } from '../temp-files';
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
  /**
   * What each response shows, in order, with its tags made once: for prop the named properties
   * as named; for allprop every live property, then the dead ones, then the `include`d dead ones
   * that are not there (404).
   */
  steps: Step[];
}

/** A live property (`value`; `missing` when it is not defined for a resource) or a dead one (`key`). */
type Step = { value: (e: Entry) => string | null; open: string; close: string; empty: string; missing: string | null } | { key: string; missing: string };

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
  getetag: (e) => (e.stat ? etagOf(e.stat) : null), // hex digits, `-` and quotes: nothing to escape in text
  getlastmodified: (e) => (e.stat ? httpDate(e.stat.mtimeMs) : null),
  creationdate: (e) => (e.stat ? new Date(e.stat.birthtimeMs || e.stat.ctimeMs).toISOString().replace(/\.\d+Z$/, 'Z') : null),
  supportedlock: (e) => (e.lockable ? SUPPORTED_LOCKS : ''),
  lockdiscovery: (e) => e.locks.map(activeLockXml).join(''),
};

const LIVE_NAMES = Object.keys(LIVE);
const isLive = (n: { ns: string; local: string }) => n.ns === DAV && Object.hasOwn(LIVE, n.local);
const NO_LOCKS: DavLockDoc[] = [];
const NO_DEAD = new Map<string, DeadPropsDoc['props']>();

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

  async propfind(res: ServerResponse, segments: string[], depth: 0 | 1, body: string, viewer: DavViewer): Promise<void> {
    const request = parsePropfind(body);
    const loc = locate(this.realms, segments);
    const target = loc && this.entry(loc, segments);
    if (!loc || !target) throw new DavStatus(404, 'Not found.');
    const listing = depth === 1 && target.collection;
    const wantsDead = request.mode !== 'prop' || request.names.some((n) => n.deadKey);
    const wantsLocks = (request.mode === 'allprop' || request.names.some((n) => n.ns === DAV && n.local === 'lockdiscovery')) && loc.kind === 'inside';
    // no query at all for live properties only; else the dead properties and the locks at once
    const [dead, locks] =
      wantsDead || wantsLocks
        ? await Promise.all([wantsDead ? this.deadPropsOf(loc, listing, viewer) : NO_DEAD, wantsLocks ? this.locksAt(pathOf(segments), listing) : NO_LOCKS])
        : [NO_DEAD, NO_LOCKS];
    const base = locks.length ? pathOf(segments) : '';
    /** One response; `name` is the child's name on disk ('' for the target), which finds its dead properties and locks. */
    const render = (e: Entry, name: string): string => {
      if (dead.size) e.dead = dead.get(name && name.normalize('NFC'));
      if (locks.length) {
        const at = name ? `${base === '/' ? '' : base}/${name.normalize('NFC')}` : base;
        e.locks = locks.filter((l) => covers(l, at));
      }
      return responseXml(e, request);
    };

    const out = new Multistatus(res);
    out.add(render(target, ''));
    if (listing && loc.kind === 'inside') await this.listDirectory(out, target, loc.at.disk, render);
    else if (listing) {
      for (const name of await this.childNames(loc, viewer)) {
        const child = this.entry(locate(this.realms, [...segments, name])!, [...segments, name]);
        if (child) out.add(render(child, name));
      }
    }
    out.end();
  }

  /**
   * The entries of a directory, stat'ed and written BATCH at a time (other requests get in between
   * batches). Synchronous calls: a listing stats every local entry, and the thread-pool round trip
   * of an asynchronous call costs three to four times the call itself (an `opendirSync` handle
   * costs more than reading the names: Node 20 promisifies two methods per handle). An entry gone
   * since the directory was read is left out.
   */
  private async listDirectory(out: Multistatus, parent: Entry, disk: string, render: (e: Entry, name: string) => string): Promise<void> {
    const entries = readdirSync(disk, { withFileTypes: true });
    for (let n = 0; n < entries.length; n += BATCH) {
      if (n && !(await out.flush())) return; // the client has gone
      for (const dirent of entries.slice(n, n + BATCH)) {
        if (dirent.isSymbolicLink() || dirent.name.startsWith(TEMP_PREFIX)) continue;
        const child = childEntry(parent, disk, dirent.name);
        if (child) out.add(render(child, dirent.name));
      }
    }
  }

  /** PROPPATCH: applied in document order, all or nothing (RFC 4918 9.2). */
  async proppatch(res: ServerResponse, segments: string[], body: string): Promise<void> {
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
    res.writeHead(207, { 'Content-Type': 'application/xml; charset=utf-8' });
    res.end(`<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:"><D:response><D:href>${hrefOf(segments, stat.isDirectory())}</D:href>${propstats}</D:response></D:multistatus>\n`);
  }

  /** A resource as PROPFIND shows it; null when there is none (or it is a symlink). */
  private entry(loc: Location, segments: string[]): Entry | null {
    const name = segments[segments.length - 1] ?? '';
    if (loc.kind !== 'inside') return { name, href: hrefOf(segments, true), stat: null, collection: true, lockable: false, locks: NO_LOCKS };
    const stat = lstatSync(loc.at.disk, { throwIfNoEntry: false });
    if (!isUsable(stat)) return null;
    const lockable = loc.at.segments.length > 0;
    return { name, href: hrefOf(segments, stat.isDirectory()), stat, collection: stat.isDirectory(), lockable, locks: NO_LOCKS };
  }

  /** The names the server root and the realms list: the realms, your home, the tales you may read. */
  private async childNames(loc: Location, viewer: DavViewer): Promise<string[]> {
    if (loc.kind === 'root') return ['homes', 'tales'];
    if (loc.kind === 'realm') return loc.realm === 'homes' ? [viewer.login] : (await viewer.readableTales()).map((f) => f.mapping!.key);
    return [];
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
    const [covering, under] = await Promise.all([this.locks.covering(p), below ? this.locks.below(p) : []]);
    const all = [...covering, ...under];
    return all.filter((l, n) => all.findIndex((m) => m._id === l._id) === n);
  }
}

/** PROPFIND bodies seen lately and what they ask for: a client sends the same few again and again. */
const parsedPropfinds = new Map<string, PropfindRequest>();

function parsePropfind(body: string): PropfindRequest {
  let request = parsedPropfinds.get(body);
  if (!request) {
    request = parsePropfindBody(body);
    if (parsedPropfinds.size >= 64) parsedPropfinds.clear();
    if (body.length <= 8192) parsedPropfinds.set(body, request);
  }
  return request;
}

function parsePropfindBody(body: string): PropfindRequest {
  if (!body.trim()) return planned('allprop', []); // RFC 4918 9.1: no body means allprop
  const root = parseBody(body);
  if (!isElement(root, DAV, 'propfind')) throw new DavStatus(400, 'A PROPFIND body must be a DAV:propfind element.');
  const children = childElements(root);
  const names = (el: XmlElement | undefined) => propNames(el ? childElements(el) : []);
  const prop = children.find((c) => isElement(c, DAV, 'prop'));
  if (prop) return planned('prop', names(prop));
  if (children.some((c) => isElement(c, DAV, 'allprop'))) return planned('allprop', names(children.find((c) => isElement(c, DAV, 'include'))));
  if (children.some((c) => isElement(c, DAV, 'propname'))) return planned('propname', []);
  throw new DavStatus(400, 'A PROPFIND body needs DAV:prop, DAV:allprop or DAV:propname.');
}

function planned(mode: PropfindRequest['mode'], names: PropName[]): PropfindRequest {
  const live = (local: string, missing: string | null): Step => ({ value: LIVE[local], open: `<D:${local}>`, close: `</D:${local}>`, empty: `<D:${local}/>`, missing });
  const dead = (n: PropName): Step => ({ key: n.deadKey!, missing: emptyElement(n.ns, n.local) });
  let steps: Step[] = [];
  if (mode === 'prop') steps = names.map((n) => (n.deadKey === null ? live(n.local, emptyElement(n.ns, n.local)) : dead(n)));
  if (mode === 'allprop') steps = [...LIVE_NAMES.map((local) => live(local, null)), ...names.filter((n) => n.deadKey !== null).map(dead)];
  return { mode, names, steps };
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

/** A directory entry of a Depth 1 listing (see listDirectory for why the lstat is synchronous). */
function childEntry(parent: Entry, dir: string, name: string): Entry | null {
  const stat = lstatSync(`${dir}/${name}`, { throwIfNoEntry: false }); // a name from readdir: no `/`, `.` or `..`
  if (!isUsable(stat)) return null;
  const collection = stat.isDirectory();
  return { name, href: `${parent.href}${encodeSegment(name)}${collection ? '/' : ''}`, stat, collection, lockable: true, locks: NO_LOCKS };
}

/** One DAV:response: what was found (200) and what was asked for but is not there (404). */
function responseXml(e: Entry, request: PropfindRequest): string {
  let found = '';
  let missing = '';
  if (request.mode === 'propname') {
    for (const local of LIVE_NAMES) if (LIVE[local](e) !== null) found += `<D:${local}/>`;
    for (const key of Object.keys(e.dead ?? {})) found += emptyElement(parsePropKey(key).ns, parsePropKey(key).local);
  } else {
    const all = request.mode === 'allprop';
    let deadDone = !all;
    for (const step of request.steps) {
      if ('value' in step) {
        const value = step.value(e);
        if (value !== null) found += value ? step.open + value + step.close : step.empty;
        else if (step.missing) missing += step.missing;
        continue;
      }
      if (!deadDone) {
        // allprop: every dead property, before the included ones that are not there
        deadDone = true;
        if (e.dead) for (const value of Object.values(e.dead)) found += value;
      }
      const value = e.dead?.[step.key];
      if (!value) missing += step.missing;
      else if (!all) found += value;
    }
    if (!deadDone && e.dead) for (const value of Object.values(e.dead)) found += value;
  }
  const stats = (found || !missing ? propstat(found, 200) : '') + (missing ? propstat(missing, 404) : '');
  return `<D:response><D:href>${e.href}</D:href>${stats}</D:response>`;
}

const REASONS: Record<number, string> = { 200: 'OK', 403: 'Forbidden', 404: 'Not Found', 424: 'Failed Dependency' };

function propstat(props: string, status: number): string {
  return `<D:propstat><D:prop>${props}</D:prop>${STATUS_LINES[status] ?? `<D:status>HTTP/1.1 ${status} ${REASONS[status]}</D:status>`}</D:propstat>`;
}

const STATUS_LINES: Record<number, string> = { 200: '<D:status>HTTP/1.1 200 OK</D:status>', 404: '<D:status>HTTP/1.1 404 Not Found</D:status>' };

/** The href of a resource: each segment encoded so that `#`, `?`, `%`, `;` round-trip; collections end in `/`. */
function hrefOf(segments: string[], collection: boolean): string {
  const p = encodeHref(`/${segments.join('/')}`);
  return collection && segments.length ? `${p}/` : p;
}

function pathOf(segments: string[]): string {
  return path.posix.join('/', ...segments.map((s) => s.normalize('NFC')));
}

/**
 * A 207 multistatus body, sent as it grows: a listing that fits one batch goes out in one write
 * with its Content-Length; a longer one is sent in chunks, batch by batch.
 */
class Multistatus {
  private pending = '<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">';
  private started = false;

  constructor(private readonly res: ServerResponse) {}

  add(xml: string): void {
    this.pending += xml;
  }

  /** Sends what has been added; resolves when the response can take more (after a turn of the event loop, so other requests get in): false when the client has gone. */
  async flush(): Promise<boolean> {
    if (this.res.destroyed) return false;
    if (!this.started) this.res.writeHead(207, { 'Content-Type': 'application/xml; charset=utf-8' });
    this.started = true;
    const more = this.res.write(this.pending);
    this.pending = '';
    await (more ? new Promise(setImmediate) : writable(this.res));
    return !this.res.destroyed;
  }

  end(): void {
    const body = `${this.pending}</D:multistatus>\n`;
    if (!this.started) this.res.writeHead(207, { 'Content-Type': 'application/xml; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)) });
    this.res.end(body);
  }
}

/** Resolves when the response can take more (or the client has gone). */
function writable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RequestContext } from '../../../common/request-context';
import { Realms } from '../realms';
import { covers, DavLockDoc, DavLocks, isBelow, MAX_LOCK_SECONDS } from './dav-locks';
import { DavSync, etagOf, locate, RealmPath, usableStat } from './dav-sync';
import { encodeHref } from './dav-xml';

export class DavStatus extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Condition {
  not: boolean;
  token?: string;
  etag?: string;
}
interface IfList {
  resource: string | null;
  conditions: Condition[];
}

/**
 * Locks as RFC 4918 has them, held in the database (DavLocks) and enforced by lock token: LOCK
 * (new, refresh), UNLOCK, the `If` header (state tokens, entity tags, `Not`), and the rule that a
 * write to a locked resource, to a member of a locked collection, or of a locked subtree needs the
 * lock's token. webdav-server's own locks are bypassed: it enforces them per user, not per token,
 * and crashes on some `If` headers.
 */
@Injectable()
export class DavLockRules {
  constructor(
    private readonly locks: DavLocks,
    private readonly realms: Realms,
    private readonly sync: DavSync,
  ) {}

  /** Checks `If` and the locks a write needs; throws 412 or 423. Call after authorization. */
  async enforce(req: Request, target: string, destination: string | null): Promise<void> {
    const lists = req.headers.if ? parseIf(String(req.headers.if)) : [];
    if (lists === null) throw new DavStatus(400, 'The If header is malformed.');
    if (lists.length && !(await this.anyListHolds(lists, target))) throw new DavStatus(412, 'The If header conditions do not hold.');
    const submitted = new Set(lists.flatMap((l) => l.conditions.filter((c) => !c.not && c.token).map((c) => c.token!)));
    const method = req.method;
    const writes = ['PUT', 'MKCOL', 'DELETE', 'MOVE'].includes(method);
    const deep = method === 'DELETE' || method === 'MOVE';
    const dest = destination && (method === 'COPY' || method === 'MOVE') ? destination : null;
    // every lock that could matter, for the target and the destination, from one query
    const paths = [...(writes || method === 'PROPPATCH' ? [target] : []), ...(dest ? [dest] : [])];
    const near = paths.length ? await this.locks.around(paths, [...(deep ? [target] : []), ...(dest ? [dest] : [])]) : [];
    // a write needs the locks covering its path, those below it (DELETE, MOVE) and the depth-0 locks on its parent
    const needed = (p: string, below: boolean) => near.filter((l) => covers(l, p) || (below && isBelow(l, p)) || (l.path === path.posix.dirname(p) && l.depth === 0));
    // a DELETE or MOVE that finds no lock in its subtree has none to drop afterwards
    if (deep && !near.some((l) => l.path === target || isBelow(l, target))) this.locks.noteNoneAt(req, target);
    const required: DavLockDoc[] = [];
    if (writes) required.push(...needed(target, deep));
    else if (method === 'PROPPATCH') required.push(...near.filter((l) => covers(l, target)));
    if (dest) required.push(...needed(dest, true));
    const exclusive = required.filter((l) => l.scope === 'exclusive');
    const shared = required.filter((l) => l.scope === 'shared');
    const missing = exclusive.find((l) => !submitted.has(l._id)) ?? (shared.length && !shared.some((l) => submitted.has(l._id)) ? shared[0] : undefined);
    if (missing) throw new DavStatus(423, `Locked: ${missing.path} needs its lock token in an If header.`);
    delete req.headers.if; // evaluated here; the library's own evaluation is broken
  }

  /** LOCK: a new lock, or a refresh when there is no body. Answers the request. */
  async lock(req: Request, res: Response, target: string, body: string): Promise<void> {
    const timeout = lockTimeout(req.headers.timeout);
    if (!body.trim()) {
      const lists = req.headers.if ? parseIf(String(req.headers.if)) : null;
      const tokens = (lists ?? []).flatMap((l) => l.conditions.filter((c) => !c.not && c.token).map((c) => c.token!));
      for (const token of tokens) {
        const lock = await this.locks.find(token);
        if (lock && covers(lock, target)) {
          const refreshed = (await this.locks.refresh(token, timeout))!;
          return sendLock(res, 200, refreshed);
        }
      }
      throw new DavStatus(412, 'A lock refresh needs the token of a lock on this resource in an If header.');
    }
    if (!/<(?:[\w-]+:)?lockinfo[\s>]/.test(body)) throw new DavStatus(400, 'The LOCK body must be a DAV:lockinfo document.');
    const scope = /<(?:[\w-]+:)?shared\s*\/?>/.test(body) ? 'shared' : 'exclusive';
    const owner = /<(?:[\w-]+:)?owner[^>]*>([\s\S]*?)<\/(?:[\w-]+:)?owner>/.exec(body)?.[1] ?? '';
    const depthHeader = String(req.headers.depth ?? 'infinity').toLowerCase();
    if (depthHeader !== '0' && depthHeader !== 'infinity') throw new DavStatus(400, 'LOCK Depth must be 0 or infinity.');
    const depth = depthHeader === '0' ? 0 : 'infinity';
    const existing = [...(await this.locks.covering(target)), ...(depth === 'infinity' ? await this.locks.below(target) : [])];
    if (existing.some((l) => scope === 'exclusive' || l.scope === 'exclusive')) throw new DavStatus(423, 'The resource is already locked.');
    const at = this.realmPath(target);
    let created = false;
    if (at && !(await fs.lstat(at.disk).then(() => true, () => false))) {
      // a LOCK on an unmapped URL makes an empty resource (RFC 4918 9.10.4)
      await fs.writeFile(at.disk, '', { flag: 'wx' }).catch((err) => {
        throw new DavStatus(409, `Cannot create ${target}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'its parent does not exist' : (err as Error).message}.`);
      });
      await this.sync.fileWritten(at, 0, { created: true }).catch(async (err) => {
        await fs.rm(at.disk, { force: true });
        throw err;
      });
      created = true;
    }
    const user = RequestContext.user()!;
    const lock = await this.locks.create({ path: target, depth, scope, owner, userId: user._id, timeoutSeconds: timeout });
    res.setHeader('Lock-Token', `<${lock._id}>`);
    sendLock(res, created ? 201 : 200, lock);
  }

  /** UNLOCK with the Lock-Token header. */
  async unlock(req: Request, res: Response, target: string): Promise<void> {
    const token = /^\s*<([^>]+)>\s*$/.exec(String(req.headers['lock-token'] ?? ''))?.[1];
    if (!token) throw new DavStatus(400, 'UNLOCK needs a Lock-Token header.');
    const lock = await this.locks.find(token);
    if (!lock || !covers(lock, target)) throw new DavStatus(409, 'No such lock on this resource.');
    await this.locks.remove(token);
    res.status(204).end();
  }

  private async anyListHolds(lists: IfList[], requestPath: string): Promise<boolean> {
    for (const list of lists) {
      const resource = list.resource ?? requestPath;
      let holds = true;
      for (const c of list.conditions) {
        let value: boolean;
        if (c.token !== undefined) {
          const lock = c.token.startsWith('DAV:') ? null : await this.locks.find(c.token);
          value = Boolean(lock && covers(lock, resource));
        } else value = (await this.currentEtag(resource)) === c.etag;
        if (value === c.not) {
          holds = false;
          break;
        }
      }
      if (holds) return true;
    }
    return false;
  }

  private async currentEtag(p: string): Promise<string | null> {
    const at = this.realmPath(p);
    const s = at ? await usableStat(at.disk) : null;
    return s ? etagOf(s) : null;
  }

  /** A place strictly inside a home or tale (the only places that can be locked). */
  private realmPath(p: string): RealmPath | null {
    const loc = locate(this.realms, p.split('/').filter(Boolean));
    return loc?.kind === 'inside' && loc.at.segments.length ? loc.at : null;
  }
}

function lockTimeout(header: string | string[] | undefined): number {
  const m = /Second-(\d+)/i.exec(String(header ?? ''));
  return m ? Math.max(1, Math.min(Number(m[1]), MAX_LOCK_SECONDS)) : MAX_LOCK_SECONDS;
}

function sendLock(res: Response, status: number, lock: DavLockDoc): void {
  const body =
    '<?xml version="1.0" encoding="utf-8"?>\n<D:prop xmlns:D="DAV:"><D:lockdiscovery>' + activeLockXml(lock) + '</D:lockdiscovery></D:prop>';
  res.status(status).type('application/xml; charset=utf-8').send(body);
}

export function activeLockXml(lock: DavLockDoc): string {
  return (
    '<D:activelock><D:locktype><D:write/></D:locktype>' +
    `<D:lockscope><D:${lock.scope}/></D:lockscope>` +
    `<D:depth>${lock.depth === 0 ? '0' : 'infinity'}</D:depth>` +
    (lock.owner ? `<D:owner>${lock.owner}</D:owner>` : '') +
    `<D:timeout>Second-${Math.max(0, Math.round((lock.expires.getTime() - Date.now()) / 1000))}</D:timeout>` +
    `<D:locktoken><D:href>${lock._id}</D:href></D:locktoken>` +
    `<D:lockroot><D:href>${encodeHref(lock.path)}</D:href></D:lockroot>` +
    '</D:activelock>'
  );
}

/** Parses an If header (RFC 4918 10.4); null when malformed. Resource tags are returned decoded, as paths. */
export function parseIf(header: string): IfList[] | null {
  const lists: IfList[] = [];
  let resource: string | null = null;
  let i = 0;
  const s = header;
  const readUntil = (end: string) => {
    const j = s.indexOf(end, i);
    if (j < 0) return null;
    const out = s.slice(i, j);
    i = j + 1;
    return out;
  };
  while (i < s.length) {
    const ch = s[i];
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '<') {
      i++;
      const url = readUntil('>');
      if (url === null) return null;
      try {
        resource = decodeURIComponent(/^[a-z]+:\/\//i.test(url) ? new URL(url).pathname : url).replace(/\/+$/, '') || '/';
      } catch {
        return null;
      }
      continue;
    }
    if (ch !== '(') return null;
    i++;
    const conditions: Condition[] = [];
    for (;;) {
      while (i < s.length && /\s/.test(s[i])) i++;
      if (i >= s.length) return null;
      if (s[i] === ')') {
        i++;
        break;
      }
      let not = false;
      if (s.slice(i, i + 3).toLowerCase() === 'not') {
        not = true;
        i += 3;
        while (i < s.length && /\s/.test(s[i])) i++;
      }
      if (s[i] === '<') {
        i++;
        const token = readUntil('>');
        if (token === null) return null;
        conditions.push({ not, token });
      } else if (s[i] === '[') {
        i++;
        const etag = readUntil(']');
        if (etag === null) return null;
        conditions.push({ not, etag: etag.replace(/^W\//, '') });
      } else return null;
    }
    if (!conditions.length) return null;
    lists.push({ resource, conditions });
  }
  return lists;
}

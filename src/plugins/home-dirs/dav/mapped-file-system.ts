import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs, Stats } from 'node:fs';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { v2 as webdav } from 'webdav-server';
import { AppError, ConflictError, NotFoundError } from '../../../common/errors';
import { Realm, REALMS, Realms } from '../realms';
import { DavLockDoc, DavLocks } from './dav-locks';
import { DavSync, RealmPath, TEMP_PREFIX } from './dav-sync';

type Callback<T> = (error?: Error, result?: T) => void;

/** Where a WebDAV path points: the server root, a realm's list, or a place inside one home/tale. */
type Location = { kind: 'root' } | { kind: 'realm'; realm: Realm } | { kind: 'inside'; at: RealmPath };

/** What the gateway tells the file system about the request it authorized. */
export interface DavRequestInfo {
  login: string;
  /** Tale ids the user may read, for the `/tales` listing. */
  readableTales: () => Promise<string[]>;
}

export const DAV_INFO = Symbol('strata.dav');
/** Locks by root path, fetched by the gateway for a PROPFIND's lockdiscovery. */
export const DAV_LOCK_VIEW = Symbol('strata.davLocks');

/**
 * One file system for both realms (DESIGN §8): `/homes/<login>/…` and `/tales/<id>/…` map to
 * directories on disk; every operation does its disk step, then its tree step (DavSync), and only
 * then answers, so every MOVE and COPY, also between realms, reaches `_move`/`_copy` here.
 * Symlinks are never followed; names are NFC on disk as in the tree.
 */
export class MappedFileSystem extends webdav.FileSystem {
  private readonly props = new Map<string, webdav.LocalPropertyManager>();
  private readonly stats = new WeakMap<object, Map<string, Stats | null>>();

  constructor(
    private readonly realms: Realms,
    private readonly sync: DavSync,
    private readonly davLocks: DavLocks,
  ) {
    super(new NoSerializer());
    this.doNotSerialize();
  }

  // ------------------------------------------------------------------ reads

  protected override _type(p: webdav.Path, info: webdav.TypeInfo, callback: Callback<webdav.ResourceType>): void {
    const loc = this.locate(p);
    if (!loc) return callback(webdav.Errors.ResourceNotFound);
    if (loc.kind !== 'inside') return callback(undefined, webdav.ResourceType.Directory);
    this.stat(info.context, loc.at.disk).then((s) => {
      if (!s) callback(webdav.Errors.ResourceNotFound);
      else callback(undefined, s.isDirectory() ? webdav.ResourceType.Directory : webdav.ResourceType.File);
    }, callback);
  }

  protected override _fastExistCheck(ctx: webdav.RequestContext, p: webdav.Path, callback: (exists: boolean) => void): void {
    const loc = this.locate(p);
    if (!loc) return callback(false);
    if (loc.kind !== 'inside') return callback(true);
    this.stat(ctx, loc.at.disk).then((s) => callback(Boolean(s)), () => callback(false));
  }

  protected override _readDir(p: webdav.Path, info: webdav.ReadDirInfo, callback: Callback<string[]>): void {
    const loc = this.locate(p);
    if (!loc) return callback(webdav.Errors.ResourceNotFound);
    const dav = davInfo(info.context);
    if (loc.kind === 'root') return callback(undefined, [...REALMS]);
    if (loc.kind === 'realm') {
      if (loc.realm === 'homes') return callback(undefined, dav ? [dav.login] : []);
      (dav ? dav.readableTales() : Promise.resolve([])).then((ids) => callback(undefined, ids), callback);
      return;
    }
    fs.readdir(loc.at.disk, { withFileTypes: true }).then(
      (entries) => callback(undefined, entries.filter((e) => !e.isSymbolicLink() && !e.name.startsWith(TEMP_PREFIX)).map((e) => e.name)),
      (err) => callback(fsError(err)),
    );
  }

  protected override _size(p: webdav.Path, info: webdav.SizeInfo, callback: Callback<number>): void {
    this.statOf(p, info.context, callback, (s) => s.size);
  }

  protected override _lastModifiedDate(p: webdav.Path, info: webdav.LastModifiedDateInfo, callback: Callback<number>): void {
    this.statOf(p, info.context, callback, (s) => s.mtimeMs);
  }

  protected override _creationDate(p: webdav.Path, info: webdav.CreationDateInfo, callback: Callback<number>): void {
    this.statOf(p, info.context, callback, (s) => s.birthtimeMs || s.ctimeMs);
  }

  protected override _etag(p: webdav.Path, info: webdav.ETagInfo, callback: Callback<string>): void {
    this.statOf(p, info.context, callback, (s) => `"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`);
  }

  protected override _openReadStream(p: webdav.Path, info: webdav.OpenReadStreamInfo, callback: Callback<Readable>): void {
    const at = this.inside(p);
    if (!at) return callback(webdav.Errors.Forbidden);
    fs.lstat(at.disk).then((s) => {
      if (!s.isFile()) return callback(webdav.Errors.ResourceNotFound);
      callback(undefined, createReadStream(at.disk, { highWaterMark: 256 * 1024 }));
    }, (err) => callback(fsError(err)));
  }

  protected override _propertyManager(p: webdav.Path, _info: webdav.PropertyManagerInfo, callback: Callback<webdav.IPropertyManager>): void {
    const key = p.toString();
    let manager = this.props.get(key);
    if (!manager) this.props.set(key, (manager = new webdav.LocalPropertyManager()));
    callback(undefined, manager);
  }

  /**
   * Locks live in the database and are enforced by the gateway (by token). The library sees them
   * only to show them in a PROPFIND's lockdiscovery; for other requests it sees none, so its own
   * per-user lock checks never interfere.
   */
  protected override _lockManager(p: webdav.Path, info: webdav.LockManagerInfo, callback: Callback<webdav.ILockManager>): void {
    const view = ((info.context as webdav.HTTPRequestContext).request as unknown as Record<symbol, Map<string, DavLockDoc[]>> | undefined)?.[DAV_LOCK_VIEW];
    const key = `/${p.paths.map((s) => s.normalize('NFC')).join('/')}`;
    callback(undefined, new LockView((view?.get(key) ?? []).map(toLibraryLock)));
  }

  // ------------------------------------------------------------------ writes

  protected override _create(p: webdav.Path, info: webdav.CreateInfo, callback: Callback<void>): void {
    const at = this.inside(p);
    if (!at) return callback(webdav.Errors.Forbidden);
    this.forget(info.context);
    void (async () => {
      if (info.type.isDirectory) {
        await fs.mkdir(at.disk);
        await this.undoOnFailure(() => this.sync.folderCreated(at), () => fs.rmdir(at.disk));
      } else {
        await (await fs.open(at.disk, 'wx')).close();
        await this.undoOnFailure(() => this.sync.fileWritten(at, 0), () => fs.rm(at.disk, { force: true }));
      }
    })().then(() => callback(), (err) => callback(fsError(err)));
  }

  /**
   * PUT: bytes go to a temp file beside the target; when the body is complete the file is fsynced,
   * the tree takes the new size, and the temp file is renamed over the target. An aborted upload
   * removes the temp file and leaves the old content and metadata as they were.
   */
  protected override _openWriteStream(p: webdav.Path, info: webdav.OpenWriteStreamInfo, callback: Callback<Writable>): void {
    const at = this.inside(p);
    if (!at) return callback(webdav.Errors.Forbidden);
    this.forget(info.context);
    const temp = path.join(path.dirname(at.disk), `${TEMP_PREFIX}put-${randomBytes(8).toString('hex')}`);
    fs.open(temp, 'wx', 0o644).then((handle) => {
      let size = 0;
      let finished = false;
      const discard = () => {
        if (finished) return;
        finished = true;
        void handle.close().catch(() => {}).then(() => fs.rm(temp, { force: true }));
      };
      const stream = new Writable({
        write: (chunk: Buffer, _enc, done) => {
          handle.write(chunk).then(({ bytesWritten }) => {
            size += bytesWritten;
            done();
          }, done);
        },
        final: (done) => {
          (async () => {
            await handle.sync();
            await handle.close();
            finished = true;
            await this.undoOnFailure(() => this.sync.fileWritten(at, size), () => fs.rm(temp, { force: true }));
            await fs.rename(temp, at.disk);
          })().then(() => done(), (err) => done(fsError(err)));
        },
        destroy: (err, done) => {
          discard();
          done(err);
        },
      });
      const request = (info.context as webdav.HTTPRequestContext).request;
      const abortIfIncomplete = () => {
        if (!request.complete) stream.destroy(new Error('upload aborted'));
      };
      if (request) {
        // the client may have gone while we authenticated: then 'close' has already fired
        if (request.destroyed || request.closed) abortIfIncomplete();
        else request.once('close', abortIfIncomplete);
      }
      callback(undefined, stream);
    }, (err) => callback(fsError(err)));
  }

  protected override _delete(p: webdav.Path, info: webdav.DeleteInfo, callback: Callback<void>): void {
    const at = this.inside(p);
    if (!at) return callback(webdav.Errors.Forbidden);
    this.forget(info.context);
    (async () => {
      await fs.rm(at.disk, { recursive: true });
      await this.sync.removed(at);
      await this.dropMeta(p);
    })().then(() => callback(), (err) => callback(fsError(err)));
  }

  protected override _move(from: webdav.Path, to: webdav.Path, info: webdav.MoveInfo, callback: (error?: Error, overwritten?: boolean) => void): void {
    const src = this.inside(from);
    const dst = this.inside(to);
    if (!src || !dst) return callback(webdav.Errors.Forbidden);
    this.forget(info.context);
    (async () => {
      const overwritten = await this.clearTarget(dst, info.overwrite);
      try {
        await fs.rename(src.disk, dst.disk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        await fs.cp(src.disk, dst.disk, { recursive: true, errorOnExist: true, force: false });
        await fs.rm(src.disk, { recursive: true });
      }
      await this.undoOnFailure(() => this.sync.moved(src, dst), () => fs.rename(dst.disk, src.disk));
      await this.dropMeta(from);
      return overwritten;
    })().then((overwritten) => callback(undefined, overwritten), (err) => callback(fsError(err)));
  }

  protected override _copy(from: webdav.Path, to: webdav.Path, info: webdav.CopyInfo, callback: (error?: Error, overwritten?: boolean) => void): void {
    const src = this.inside(from);
    const dst = this.inside(to);
    if (!src || !dst) return callback(webdav.Errors.Forbidden);
    this.forget(info.context);
    (async () => {
      const overwritten = await this.clearTarget(dst, info.overwrite);
      const s = await fs.lstat(src.disk);
      if (s.isDirectory() && info.depth === 0) await fs.mkdir(dst.disk);
      else await fs.cp(src.disk, dst.disk, { recursive: true, errorOnExist: true, force: false, verbatimSymlinks: true });
      await this.undoOnFailure(() => this.sync.imported(dst), () => fs.rm(dst.disk, { recursive: true, force: true }));
      return overwritten;
    })().then((overwritten) => callback(undefined, overwritten), (err) => callback(fsError(err)));
  }

  // ------------------------------------------------------------------ helpers

  /** With Overwrite: T an existing target goes first (disk and tree); with F it is a 412. */
  private async clearTarget(dst: RealmPath, overwrite: boolean): Promise<boolean> {
    const exists = await fs.lstat(dst.disk).then(() => true, () => false);
    if (!exists) return false;
    if (!overwrite) throw webdav.Errors.ResourceAlreadyExists;
    await fs.rm(dst.disk, { recursive: true });
    await this.sync.removed(dst);
    return true;
  }

  /** Runs a tree step; when it fails, undoes the disk step so disk and tree stay alike. */
  private async undoOnFailure(step: () => Promise<void>, undo: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (err) {
      await undo().catch(() => {});
      throw err;
    }
  }

  private locate(p: webdav.Path): Location | null {
    const parts = p.paths.map((s) => s.normalize('NFC'));
    if (parts.length === 0) return { kind: 'root' };
    const realm = parts[0] as Realm;
    if (!REALMS.includes(realm)) return null;
    if (parts.length === 1) return { kind: 'realm', realm };
    if (parts.some((s) => s === '.' || s === '..' || s.includes('/') || s.includes('\0'))) return null;
    const [key, ...segments] = parts.slice(1);
    return { kind: 'inside', at: { realm, key, segments, disk: path.join(this.realms.directory(realm, key), ...segments) } };
  }

  /** A place strictly inside a home or tale: the home/tale directory itself is never written, moved or deleted. */
  private inside(p: webdav.Path): RealmPath | null {
    const loc = this.locate(p);
    return loc?.kind === 'inside' && loc.at.segments.length > 0 ? loc.at : null;
  }

  /** lstat, once per path per request (PROPFIND asks for type, size, dates and etag of each entry). */
  private async stat(ctx: webdav.RequestContext, disk: string): Promise<Stats | null> {
    let cache = this.stats.get(ctx);
    if (!cache) this.stats.set(ctx, (cache = new Map()));
    if (cache.has(disk)) return cache.get(disk)!;
    const s = await fs.lstat(disk).catch(() => null);
    const usable = s && !s.isSymbolicLink() && (s.isFile() || s.isDirectory()) ? s : null;
    cache.set(disk, usable);
    return usable;
  }

  private statOf<T>(p: webdav.Path, ctx: webdav.RequestContext, callback: Callback<T>, pick: (s: Stats) => T): void {
    const loc = this.locate(p);
    if (!loc) return callback(webdav.Errors.ResourceNotFound);
    if (loc.kind !== 'inside') return callback(undefined, pick(DIRECTORY_STATS));
    this.stat(ctx, loc.at.disk).then((s) => (s ? callback(undefined, pick(s)) : callback(webdav.Errors.ResourceNotFound)), callback);
  }

  private forget(ctx: webdav.RequestContext): void {
    this.stats.delete(ctx);
  }

  /** A deleted or moved-away resource loses its dead properties and its locks (locks do not move). */
  private async dropMeta(p: webdav.Path): Promise<void> {
    const prefix = p.toString();
    for (const key of this.props.keys()) if (key === prefix || key.startsWith(`${prefix}/`)) this.props.delete(key);
    await this.davLocks.removeTree(`/${p.paths.map((s) => s.normalize('NFC')).join('/')}`);
  }
}

const DIRECTORY_STATS = { size: 0, mtimeMs: 0, birthtimeMs: 0, ctimeMs: 0 } as Stats;

function davInfo(ctx: webdav.RequestContext): DavRequestInfo | undefined {
  return ((ctx as webdav.HTTPRequestContext).request as unknown as Record<symbol, DavRequestInfo> | undefined)?.[DAV_INFO];
}

/** Maps disk and tree errors onto the library's error singletons (anything else is a 500). */
export function fsError(err: unknown): Error {
  if (Object.values(webdav.Errors).includes(err as Error)) return err as Error;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return webdav.Errors.IntermediateResourceMissing;
  if (code === 'EEXIST') return webdav.Errors.ResourceAlreadyExists;
  if (code === 'EACCES' || code === 'EPERM') return webdav.Errors.Forbidden;
  if (code === 'ENOSPC' || code === 'EDQUOT') return webdav.Errors.InsufficientStorage;
  // tree refusals: a name taken (case-insensitively), a missing parent, a bad name or a veto
  if (err instanceof ConflictError) return webdav.Errors.ResourceAlreadyExists;
  if (err instanceof NotFoundError) return webdav.Errors.IntermediateResourceMissing;
  if (err instanceof AppError && err.status < 500) return webdav.Errors.Forbidden;
  return err as Error;
}

/** A read-only lock manager over locks fetched from the database. */
class LockView implements webdav.ILockManager {
  constructor(private readonly locks: webdav.Lock[]) {}
  getLocks(callback: webdav.ReturnCallback<webdav.Lock[]>): void {
    callback(undefined, this.locks);
  }
  setLock(_lock: webdav.Lock, callback: webdav.SimpleCallback): void {
    callback(webdav.Errors.InvalidOperation);
  }
  removeLock(_uuid: string, callback: webdav.ReturnCallback<boolean>): void {
    callback(undefined, false);
  }
  getLock(uuid: string, callback: webdav.ReturnCallback<webdav.Lock>): void {
    const lock = this.locks.find((l) => l.uuid === uuid);
    callback(lock ? undefined : webdav.Errors.ResourceNotFound, lock);
  }
  refresh(_uuid: string, _timeout: number, callback: webdav.ReturnCallback<webdav.Lock>): void {
    callback(webdav.Errors.InvalidOperation);
  }
}

function toLibraryLock(doc: DavLockDoc): webdav.Lock {
  const kind = new webdav.LockKind(doc.scope === 'shared' ? webdav.LockScope.Shared : webdav.LockScope.Exclusive, webdav.LockType.Write, doc.timeoutSeconds);
  const lock = new webdav.Lock(kind, String(doc.userId), doc.owner, doc.depth === 0 ? 0 : -1);
  lock.uuid = doc._id;
  lock.expirationDate = doc.expires.getTime();
  return lock;
}

class NoSerializer implements webdav.FileSystemSerializer {
  uid(): string {
    return 'strata.mapped';
  }
  serialize(_fs: webdav.FileSystem, callback: webdav.ReturnCallback<unknown>): void {
    callback(undefined, {});
  }
  unserialize(_data: unknown, callback: webdav.ReturnCallback<webdav.FileSystem>): void {
    callback(webdav.Errors.InvalidOperation);
  }
}

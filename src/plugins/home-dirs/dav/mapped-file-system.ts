import { AsyncResource } from 'node:async_hooks';
import { promises as fs, Stats } from 'node:fs';
import { Writable } from 'node:stream';
import { v2 as webdav } from 'webdav-server';
import { AppError, ConflictError, NotFoundError } from '../../../common/errors';
import { FileWriter } from '../../../common/file-writer';
import { KeyedQueue } from '../../../common/keyed-queue';
import { Realms } from '../realms';
import { renameOver, tempBeside } from '../temp-files';
import { DavDeadProps } from './dav-dead-props';
import { DavLocks } from './dav-locks';
import { DavSync, DiskKind, locate, RealmPath, usableStat } from './dav-sync';

type Callback<T> = (error?: Error, result?: T) => void;

/**
 * One file system for both realms (DESIGN §8): `/homes/<login>/…` and `/tales/<id>/…` map to
 * directories on disk; every operation does its disk step, then its tree step (DavSync), and only
 * then answers, so every MOVE and COPY, also between realms, reaches `_move`/`_copy` here.
 * Symlinks are never followed; names are NFC on disk as in the tree. The library only writes
 * through it: the gateway serves PROPFIND, PROPPATCH, LOCK, UNLOCK and GET/HEAD of files itself.
 */
export class MappedFileSystem extends webdav.FileSystem {
  private readonly stats = new WeakMap<object, Map<string, Stats | null>>();
  /** PUTs whose file `_create` made on disk just now: the write stream records it in the tree, once, with its size. */
  private readonly createdByPut = new WeakSet<object>();
  /** Writes to one path (a PUT's last step, DELETE, MOVE, COPY) run one at a time. */
  private readonly writes = new KeyedQueue();

  constructor(
    private readonly realms: Realms,
    private readonly sync: DavSync,
    private readonly davLocks: DavLocks,
    private readonly deadProps: DavDeadProps,
  ) {
    super(new NoSerializer());
    this.doNotSerialize();
  }

  // ------------------------------------------------------------------ what the library asks before a write

  protected override _type(p: webdav.Path, info: webdav.TypeInfo, callback: Callback<webdav.ResourceType>): void {
    const loc = locate(this.realms, p.paths);
    if (!loc) return callback(webdav.Errors.ResourceNotFound);
    if (loc.kind !== 'inside') return callback(undefined, webdav.ResourceType.Directory);
    this.stat(info.context, loc.at.disk).then((s) => {
      if (!s) callback(webdav.Errors.ResourceNotFound);
      else callback(undefined, s.isDirectory() ? webdav.ResourceType.Directory : webdav.ResourceType.File);
    }, callback);
  }

  protected override _fastExistCheck(ctx: webdav.RequestContext, p: webdav.Path, callback: (exists: boolean) => void): void {
    const loc = locate(this.realms, p.paths);
    if (!loc) return callback(false);
    if (loc.kind !== 'inside') return callback(true);
    this.stat(ctx, loc.at.disk).then((s) => callback(Boolean(s)), () => callback(false));
  }

  /** Dead properties live in the database (DavDeadProps); the library never sees any. */
  protected override _propertyManager(_p: webdav.Path, _info: webdav.PropertyManagerInfo, callback: Callback<webdav.IPropertyManager>): void {
    callback(undefined, new webdav.LocalPropertyManager());
  }

  /** Locks live in the database and are enforced by the gateway, by token: the library sees none. */
  protected override _lockManager(_p: webdav.Path, _info: webdav.LockManagerInfo, callback: Callback<webdav.ILockManager>): void {
    callback(undefined, NO_LOCKS);
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
        // a PUT opens its write stream next: the tree learns of the file once, when its bytes are in
        if ((info.context as webdav.HTTPRequestContext).request?.method === 'PUT') this.createdByPut.add(info.context);
        else await this.undoOnFailure(() => this.sync.fileWritten(at, 0, { created: true }), () => fs.rm(at.disk, { force: true }));
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
    const created = this.createdByPut.has(info.context);
    this.createdByPut.delete(info.context);
    // a file this PUT made that gets no bytes (open failed, upload aborted) is recorded empty, as the
    // tree step of `_create` did before the body was read; the tree step keeps this request's context
    const recordEmpty = AsyncResource.bind(() => this.undoOnFailure(() => this.sync.fileWritten(at, 0, { created: true }), () => fs.rm(at.disk, { force: true })));
    const temp = tempBeside(at.disk, 'put');
    fs.open(temp, 'wx', 0o644).then((handle) => {
      // the answer waits for the bytes to be durable: flushed behind the upload, the final fsync has
      // only the last part left to write
      const writer = new FileWriter(handle, 0, { flushBehind: true, expectedBytes: info.estimatedSize });
      let finished = false;
      const discard = () => {
        if (finished) return;
        finished = true;
        void handle
          .close()
          .catch(() => {})
          .then(() => fs.rm(temp, { force: true }))
          .then(() => (created ? recordEmpty() : undefined))
          .catch(() => {});
      };
      const stream = new Writable({
        write: (chunk: Buffer, _enc, done) => {
          writer.add(chunk).then(() => done(), done);
        },
        final: (done) => {
          (async () => {
            const size = await writer.finish();
            await handle.sync();
            await handle.close();
            finished = true;
            // the tree step and the rename run with no other write of this path in between: the
            // last PUT to record its size is the last to put its bytes on disk
            await this.oneAtATime([at], async () => {
              await this.undoOnFailure(
                () => this.sync.fileWritten(at, size, { created }),
                () => Promise.all([fs.rm(temp, { force: true }), created ? fs.rm(at.disk, { force: true }) : undefined]),
              );
              await renameOver(temp, at.disk);
            });
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
    }, (err) => {
      if (!created) return callback(fsError(err));
      recordEmpty().then(() => callback(fsError(err)), () => callback(fsError(err)));
    });
  }

  protected override _delete(p: webdav.Path, info: webdav.DeleteInfo, callback: Callback<void>): void {
    const at = this.inside(p);
    if (!at) return callback(webdav.Errors.Forbidden);
    this.forget(info.context);
    this.oneAtATime([at], async () => {
      const kind = diskKind(await fs.lstat(at.disk));
      await (kind === 'file' ? fs.unlink(at.disk) : fs.rm(at.disk, { recursive: true }));
      await this.sync.removed(at, kind);
      await this.dropLocks(p, info.context);
    }).then(() => callback(), (err) => callback(fsError(err)));
  }

  protected override _move(from: webdav.Path, to: webdav.Path, info: webdav.MoveInfo, callback: (error?: Error, overwritten?: boolean) => void): void {
    const src = this.inside(from);
    const dst = this.inside(to);
    if (!src || !dst) return callback(webdav.Errors.Forbidden);
    this.forget(info.context);
    this.oneAtATime([src, dst], async () => {
      const overwritten = await this.clearTarget(dst, info.overwrite);
      const kind = diskKind(await fs.lstat(src.disk));
      try {
        await fs.rename(src.disk, dst.disk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        await fs.cp(src.disk, dst.disk, { recursive: true, errorOnExist: true, force: false });
        await fs.rm(src.disk, { recursive: true });
      }
      await this.undoOnFailure(() => this.sync.moved(src, dst, kind), () => fs.rename(dst.disk, src.disk));
      await this.dropLocks(from, info.context);
      return overwritten;
    }).then((overwritten) => callback(undefined, overwritten), (err) => callback(fsError(err)));
  }

  protected override _copy(from: webdav.Path, to: webdav.Path, info: webdav.CopyInfo, callback: (error?: Error, overwritten?: boolean) => void): void {
    const src = this.inside(from);
    const dst = this.inside(to);
    if (!src || !dst) return callback(webdav.Errors.Forbidden);
    this.forget(info.context);
    this.oneAtATime([dst], async () => {
      const overwritten = await this.clearTarget(dst, info.overwrite);
      const s = await fs.lstat(src.disk);
      if (s.isDirectory() && info.depth === 0) await fs.mkdir(dst.disk);
      else await fs.cp(src.disk, dst.disk, { recursive: true, errorOnExist: true, force: false, verbatimSymlinks: true });
      await this.undoOnFailure(() => this.sync.imported(dst), () => fs.rm(dst.disk, { recursive: true, force: true }));
      const [source, copy] = await Promise.all([this.sync.node(src, diskKind(s)), this.sync.node(dst, diskKind(s))]);
      if (source && copy) await this.deadProps.copyTree(source, copy);
      return overwritten;
    }).then((overwritten) => callback(undefined, overwritten), (err) => callback(fsError(err)));
  }

  // ------------------------------------------------------------------ helpers

  /**
   * Runs a write once no other write of these paths is under way in this process: a disk step and
   * its tree step are then never interleaved with another's on the same file (a PUT's rename after
   * a DELETE's tree step left a file the tree did not know). Paths are taken in sorted order, so two
   * MOVEs in opposite directions cannot wait for each other.
   */
  private oneAtATime<T>(paths: RealmPath[], task: () => Promise<T>): Promise<T> {
    const keys = [...new Set(paths.map((p) => p.disk))].sort();
    const nested = keys.reduceRight<() => Promise<T>>((inner, key) => () => this.writes.run(key, inner), task);
    return nested();
  }

  /** With Overwrite: T an existing target goes first (disk and tree); with F it is a 412. */
  private async clearTarget(dst: RealmPath, overwrite: boolean): Promise<boolean> {
    const existing = await fs.lstat(dst.disk).catch(() => null);
    if (!existing) return false;
    if (!overwrite) throw webdav.Errors.ResourceAlreadyExists;
    await fs.rm(dst.disk, { recursive: true });
    await this.sync.removed(dst, diskKind(existing));
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

  /** A place strictly inside a home or tale: the home/tale directory itself is never written, moved or deleted. */
  private inside(p: webdav.Path): RealmPath | null {
    const loc = locate(this.realms, p.paths);
    return loc?.kind === 'inside' && loc.at.segments.length > 0 ? loc.at : null;
  }

  /** lstat, once per path per request (the library asks for type and existence several times). */
  private async stat(ctx: webdav.RequestContext, disk: string): Promise<Stats | null> {
    let cache = this.stats.get(ctx);
    if (!cache) this.stats.set(ctx, (cache = new Map()));
    if (cache.has(disk)) return cache.get(disk)!;
    const usable = await usableStat(disk);
    cache.set(disk, usable);
    return usable;
  }

  private forget(ctx: webdav.RequestContext): void {
    this.stats.delete(ctx);
  }

  /**
   * A deleted or moved-away resource loses its locks (locks do not move). Dead properties belong
   * to the tree node: they go with its removal and move with it (DavDeadProps).
   */
  private async dropLocks(p: webdav.Path, ctx: webdav.RequestContext): Promise<void> {
    await this.davLocks.removeTree(`/${p.paths.map((s) => s.normalize('NFC')).join('/')}`, (ctx as webdav.HTTPRequestContext).request);
  }
}

/** A directory, or a file (what the tree holds as an item). */
function diskKind(s: Stats): DiskKind {
  return s.isDirectory() ? 'directory' : 'file';
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

/** The library's view of locks: none (the gateway enforces the real ones before it is called). */
const NO_LOCKS: webdav.ILockManager = {
  getLocks: (callback) => callback(undefined, []),
  setLock: (_lock, callback) => callback(webdav.Errors.InvalidOperation),
  removeLock: (_uuid, callback) => callback(undefined, false),
  getLock: (_uuid, callback) => callback(webdav.Errors.ResourceNotFound),
  refresh: (_uuid, _timeout, callback) => callback(webdav.Errors.InvalidOperation),
};

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

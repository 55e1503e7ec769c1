import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type {
  AssetstoreAdapter,
  AssetstoreContext,
  AssetstoreDoc,
  ByteRange,
  StoredBytes,
  StoredFile,
  UploadTarget,
} from '../assetstore';
import { ValidationError } from '../../common/errors';
import { syncPath } from '../../common/file-writer';
import { sealTempFile, writeChunkAt, writePartAt } from '../chunk-writer';

export const FILESYSTEM = 'filesystem';

/**
 * Girder's content-addressed layout: bytes with SHA-512 `h` live at `<root>/h[0:2]/h[2:4]/h`;
 * identical bytes are stored once. Uploads are written to `<root>/temp/<uploadId>` (same
 * filesystem), fsynced and renamed into place. A blob is removed with its last reference; the
 * check and the removal run under a lock shared with finalize, so they cannot interleave.
 */
export class FilesystemAssetstore implements AssetstoreAdapter {
  /** At most this many uploads keep a running SHA-512 (an abandoned one is dropped first). */
  static readonly MAX_RUNNING_HASHES = 1_000;
  private readonly root: string;
  /**
   * SHA-512 of each upload's bytes so far, by upload id, while its chunks arrive in order through
   * this process, so that finalize need not read the file back to name its blob. An upload whose
   * chunks went elsewhere (a restart, another instance) has none, or one that stops short of the
   * upload's end, and finalize hashes the file instead.
   */
  private readonly running = new Map<string, { hash: Hash; at: number }>();

  constructor(
    doc: AssetstoreDoc,
    private readonly context: AssetstoreContext,
  ) {
    if (!doc.root || !path.isAbsolute(doc.root)) throw new Error(`filesystem assetstore ${doc.name} needs an absolute root`);
    this.root = doc.root;
  }

  async initUpload(upload: UploadTarget): Promise<Record<string, unknown>> {
    const tempFile = this.tempPath(upload);
    await fs.mkdir(path.dirname(tempFile), { recursive: true });
    await (await fs.open(tempFile, 'w', 0o600)).close();
    return { tempFile: path.basename(tempFile) };
  }

  async uploadChunk(upload: UploadTarget, chunk: Readable): Promise<number> {
    const key = String(upload._id);
    let sofar = this.running.get(key);
    this.running.delete(key); // until this chunk is written, nothing is known of the bytes
    if (upload.received === 0) sofar = { hash: createHash('sha512'), at: 0 };
    if (sofar?.at !== upload.received) sofar = undefined;
    const written = await writeChunkAt(this.tempPath(upload), upload.received, upload.size - upload.received, chunk, sofar && ((data) => sofar.hash.update(data)));
    if (sofar) {
      sofar.at += written;
      this.keepRunning(key, sofar);
    }
    return written;
  }

  writeAt(upload: UploadTarget, offset: number, length: number, chunk: Readable): Promise<void> {
    this.running.delete(String(upload._id));
    if (offset + length > upload.size) throw new ValidationError(`A part at ${offset} of ${length} bytes ends past the upload's ${upload.size} bytes.`);
    return writePartAt(this.tempPath(upload), offset, length, chunk);
  }

  async digestUpload(upload: UploadTarget, algorithms: readonly string[]): Promise<Record<string, Buffer>> {
    const tempFile = this.tempPath(upload);
    const hashes = algorithms.map((a) => [a, createHash(a)] as const);
    // the temp file may be shorter than the upload (sparse tail not yet written): hash what is
    // there, padded with the zeros a finished upload would hold
    for await (const block of createReadStream(tempFile, { highWaterMark: 1024 * 1024 })) for (const [, h] of hashes) h.update(block as Buffer);
    const missing = upload.size - (await fs.stat(tempFile)).size;
    if (missing > 0) {
      const zeros = Buffer.alloc(Math.min(missing, 1024 * 1024));
      for (let left = missing; left > 0; left -= zeros.length) for (const [, h] of hashes) h.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
    }
    return Object.fromEntries(hashes.map(([a, h]) => [a, h.digest()]));
  }

  async requestOffset(upload: UploadTarget): Promise<number> {
    return upload.received;
  }

  async finalizeUpload<T>(upload: UploadTarget, record: (bytes: StoredBytes) => Promise<T>): Promise<T> {
    const tempFile = this.tempPath(upload);
    await sealTempFile(tempFile, upload.size);
    const sofar = this.running.get(String(upload._id));
    this.running.delete(String(upload._id));
    const sha512 = sofar?.at === upload.size ? sofar.hash.digest('hex') : await hashFile(tempFile);
    const relative = blobPath(sha512);
    const target = path.join(this.root, relative);
    await fs.mkdir(path.dirname(target), { recursive: true });
    return this.context.withLock(lockKey(sha512), async () => {
      // renaming over an identical blob is harmless, and restores one deleted a moment ago
      await fs.rename(tempFile, target);
      await syncPath(path.dirname(target));
      return record({ sha512, path: relative });
    });
  }

  async cancelUpload(upload: UploadTarget): Promise<void> {
    this.running.delete(String(upload._id));
    await fs.rm(this.tempPath(upload), { force: true });
  }

  async openReadStream(file: StoredFile, range?: ByteRange): Promise<Readable> {
    if (!file.path) throw new Error(`file ${file._id} has no stored bytes`);
    const full = path.join(this.root, file.path);
    await fs.access(full);
    return createReadStream(full, range ? { start: range.start, end: range.end, highWaterMark: 256 * 1024 } : { highWaterMark: 256 * 1024 });
  }

  async deleteFile(file: StoredFile): Promise<void> {
    const { sha512, path: relative } = file;
    if (!sha512 || !relative) return;
    // called after the file record is gone: no reference left means nobody needs the bytes
    await this.context.withLock(lockKey(sha512), async () => {
      if ((await this.context.countReferences(sha512)) === 0) await fs.rm(path.join(this.root, relative), { force: true });
    });
  }

  async copyFile<T>(file: StoredFile, record: (bytes: StoredBytes) => Promise<T>): Promise<T> {
    if (!file.sha512) return record({ sha512: null, path: null });
    // content-addressed: a copy shares the blob; recorded under the blob's lock so a concurrent
    // delete of the source cannot remove the bytes in between
    return this.context.withLock(lockKey(file.sha512), () => record({ sha512: file.sha512, path: file.path }));
  }

  async capacity(): Promise<{ free: number; total: number }> {
    await fs.mkdir(this.root, { recursive: true });
    const stats = await fs.statfs(this.root);
    return { free: stats.bavail * stats.bsize, total: stats.blocks * stats.bsize };
  }

  private keepRunning(key: string, sofar: { hash: Hash; at: number }): void {
    if (this.running.size >= FilesystemAssetstore.MAX_RUNNING_HASHES) {
      const oldest = this.running.keys().next().value; // a Map iterates in insertion order
      if (oldest !== undefined) this.running.delete(oldest);
    }
    this.running.set(key, sofar);
  }

  private tempPath(upload: UploadTarget): string {
    return path.join(this.root, 'temp', String(upload._id));
  }
}

export function blobPath(sha512: string): string {
  return path.join(sha512.slice(0, 2), sha512.slice(2, 4), sha512);
}

function lockKey(sha512: string): string {
  return `blob:${sha512}`;
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha512');
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), hash);
  return hash.digest('hex');
}

export const filesystemFactory = (doc: AssetstoreDoc, context: AssetstoreContext) => new FilesystemAssetstore(doc, context);

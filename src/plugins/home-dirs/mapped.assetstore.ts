import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { Types } from 'mongoose';
import type { AssetstoreAdapter, AssetstoreDoc, ByteRange, StoredBytes, StoredFile, UploadTarget } from '../../assetstores/assetstore';
import { sealTempFile, writeChunkAt } from '../../assetstores/chunk-writer';
import { renameOver } from './temp-files';

export const MAPPED = 'mapped';

/** Where an item of a mapped folder lives on disk (resolved at each use: renames move it). */
export type ItemPathResolver = (itemId: Types.ObjectId) => Promise<string>;

/** Temp files of uploads live inside the realm root, so the final rename stays on one filesystem. */
export const UPLOAD_DIR = '.strata-uploads';

/**
 * The bytes of a file in a mapped folder are the file at its item's path (DESIGN §6): nothing is
 * stored apart, and the path is resolved from the tree at each use. An upload is written to a temp
 * file in the realm root, fsynced, and renamed over the item's file once its record exists.
 * The disk file belongs to the item: it goes with the item (home-dirs sync), not with a file record.
 */
export class MappedAssetstore implements AssetstoreAdapter {
  constructor(
    private readonly root: string,
    private readonly resolve: ItemPathResolver,
  ) {}

  async initUpload(upload: UploadTarget): Promise<Record<string, unknown>> {
    await fs.mkdir(path.join(this.root, UPLOAD_DIR), { recursive: true });
    await (await fs.open(this.temp(upload), 'w', 0o644)).close();
    return {};
  }

  uploadChunk(upload: UploadTarget, chunk: Readable): Promise<number> {
    return writeChunkAt(this.temp(upload), upload.received, upload.size - upload.received, chunk);
  }

  async requestOffset(upload: UploadTarget): Promise<number> {
    return upload.received;
  }

  async finalizeUpload<T>(upload: UploadTarget, record: (bytes: StoredBytes) => Promise<T>): Promise<T> {
    await sealTempFile(this.temp(upload), upload.size);
    const file = await record({ sha512: null, path: null });
    const itemId = (file as { itemId?: Types.ObjectId }).itemId;
    if (!itemId) throw new Error('a mapped upload must be recorded as a file of an item');
    await renameOver(this.temp(upload), await this.resolve(itemId));
    return file;
  }

  async cancelUpload(upload: UploadTarget): Promise<void> {
    await fs.rm(this.temp(upload), { force: true });
  }

  async openReadStream(file: StoredFile & { itemId?: Types.ObjectId }, range?: ByteRange): Promise<Readable> {
    if (!file.itemId) throw new Error(`file ${file._id} has no item`);
    const disk = await this.resolve(file.itemId);
    await fs.access(disk);
    return createReadStream(disk, range ? { start: range.start, end: range.end, highWaterMark: 256 * 1024 } : { highWaterMark: 256 * 1024 });
  }

  async deleteFile(): Promise<void> {}

  async copyFile<T>(_file: StoredFile, record: (bytes: StoredBytes) => Promise<T>): Promise<T> {
    return record({ sha512: null, path: null });
  }

  async capacity() {
    const s = await fs.statfs(this.root);
    return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
  }

  private temp(upload: UploadTarget): string {
    return path.join(this.root, UPLOAD_DIR, String(upload._id));
  }
}

export const mappedFactory = (resolve: ItemPathResolver) => (doc: AssetstoreDoc) => {
  if (!doc.root) throw new Error(`mapped assetstore ${doc.name} needs a root`);
  return new MappedAssetstore(doc.root, resolve);
};

import { createReadStream, promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Types } from 'mongoose';
import type { AssetstoreAdapter, AssetstoreDoc, ByteRange, StoredBytes, StoredFile, UploadTarget } from '../../assetstores/assetstore';

export const MAPPED = 'mapped';

/** Where an item of a mapped folder lives on disk (resolved at each use: renames move it). */
export type ItemPathResolver = (itemId: Types.ObjectId) => Promise<string>;

/**
 * The bytes of a file in a mapped folder are the file at its item's path (DESIGN §6): nothing is
 * stored apart, so the path is resolved from the tree at each read. The plugin's sync code writes
 * those files (temp file, fsync, rename); this adapter only reads them and reports capacity.
 */
export class MappedAssetstore implements AssetstoreAdapter {
  constructor(
    private readonly root: string,
    private readonly resolve: ItemPathResolver,
  ) {}

  async initUpload(): Promise<Record<string, unknown>> {
    throw new Error('uploads into mapped folders are written by the home-dirs sync, not through this adapter');
  }

  async uploadChunk(_upload: UploadTarget, _chunk: Readable): Promise<number> {
    throw new Error('uploads into mapped folders are written by the home-dirs sync, not through this adapter');
  }

  async requestOffset(upload: UploadTarget): Promise<number> {
    return upload.received;
  }

  async finalizeUpload<T>(_upload: UploadTarget, record: (bytes: StoredBytes) => Promise<T>): Promise<T> {
    return record({ sha512: null, path: null });
  }

  async cancelUpload(): Promise<void> {}

  async openReadStream(file: StoredFile & { itemId?: Types.ObjectId }, range?: ByteRange): Promise<Readable> {
    if (!file.itemId) throw new Error(`file ${file._id} has no item`);
    const disk = await this.resolve(file.itemId);
    await fs.access(disk);
    return createReadStream(disk, range ? { start: range.start, end: range.end, highWaterMark: 256 * 1024 } : { highWaterMark: 256 * 1024 });
  }

  /** The disk file belongs to the item: it goes with the item (sync code), not with a file record. */
  async deleteFile(): Promise<void> {}

  async copyFile<T>(_file: StoredFile, record: (bytes: StoredBytes) => Promise<T>): Promise<T> {
    return record({ sha512: null, path: null });
  }

  async capacity() {
    const s = await fs.statfs(this.root);
    return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
  }
}

export const mappedFactory = (resolve: ItemPathResolver) => (doc: AssetstoreDoc) => {
  if (!doc.root) throw new Error(`mapped assetstore ${doc.name} needs a root`);
  return new MappedAssetstore(doc.root, resolve);
};

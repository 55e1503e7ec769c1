import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { AssetstoreAdapter, AssetstoreDoc, ByteRange, StoredBytes, StoredFile, UploadTarget } from '../../assetstores/assetstore';
import { writeChunkAt } from '../../assetstores/chunk-writer';

export const FLAT = 'example-flat';

/**
 * An assetstore type a plugin adds: every file is one plain file `<root>/<upload id>`, no
 * deduplication. It depends only on the assetstore interface, as every adapter should.
 */
export class FlatAssetstore implements AssetstoreAdapter {
  constructor(private readonly root: string) {}

  async initUpload(upload: UploadTarget) {
    await fs.mkdir(path.join(this.root, 'partial'), { recursive: true });
    await fs.writeFile(this.partial(upload), '');
    return {};
  }

  uploadChunk(upload: UploadTarget, chunk: Readable): Promise<number> {
    return writeChunkAt(this.partial(upload), upload.received, upload.size - upload.received, chunk);
  }

  async requestOffset(upload: UploadTarget) {
    return upload.received;
  }

  async finalizeUpload<T>(upload: UploadTarget, record: (bytes: StoredBytes) => Promise<T>): Promise<T> {
    const name = String(upload._id);
    await fs.rename(this.partial(upload), path.join(this.root, name));
    return record({ sha512: null, path: name });
  }

  async cancelUpload(upload: UploadTarget) {
    await fs.rm(this.partial(upload), { force: true });
  }

  async openReadStream(file: StoredFile, range?: ByteRange): Promise<Readable> {
    const full = path.join(this.root, file.path!);
    await fs.access(full);
    return createReadStream(full, range ? { start: range.start, end: range.end } : {});
  }

  async deleteFile(file: StoredFile) {
    if (file.path) await fs.rm(path.join(this.root, file.path), { force: true });
  }

  async copyFile<T>(file: StoredFile, record: (bytes: StoredBytes) => Promise<T>): Promise<T> {
    const name = `${file.path}-copy-${Date.now().toString(36)}`;
    await fs.copyFile(path.join(this.root, file.path!), path.join(this.root, name));
    return record({ sha512: null, path: name });
  }

  async capacity() {
    const s = await fs.statfs(this.root);
    return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
  }

  private partial(upload: UploadTarget) {
    return path.join(this.root, 'partial', String(upload._id));
  }
}

export const flatFactory = (doc: AssetstoreDoc) => {
  if (!doc.root || !path.isAbsolute(doc.root)) throw new Error(`assetstore ${doc.name} needs an absolute root`);
  return new FlatAssetstore(doc.root);
};

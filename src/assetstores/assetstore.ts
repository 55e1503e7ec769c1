import type { Readable } from 'node:stream';
import type { Types } from 'mongoose';

/**
 * The contract between the core and a storage adapter (DESIGN §6). Adapters depend on this file
 * only. Bytes are streamed both ways; nothing is held whole in memory.
 *
 * Errors: throw `ValidationError` for a request the client got wrong (too many bytes), anything
 * else for a storage failure (reported as 500 and logged).
 */

/** An assetstore as stored (collection `assetstore`). Adapter settings live beside the core fields. */
export interface AssetstoreDoc {
  _id: Types.ObjectId;
  name: string;
  type: string;
  /** New uploads go to the current assetstore unless an event handler chooses another. */
  current: boolean;
  created: Date;
  root?: string;
  [setting: string]: unknown;
}

/** What an adapter keeps of an upload in progress (stored on the upload record). */
export interface UploadTarget {
  _id: Types.ObjectId;
  size: number;
  received: number;
  /** Adapter-private state, e.g. the temp file. */
  state: Record<string, unknown>;
}

/** Where finalized bytes live, written onto the file record. */
export interface StoredBytes {
  sha512: string | null;
  path: string | null;
}

export interface StoredFile extends StoredBytes {
  _id: Types.ObjectId;
  size: number;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface AssetstoreAdapter {
  /** Prepares storage for an upload; returns the adapter state to keep with it. */
  initUpload(upload: UploadTarget): Promise<Record<string, unknown>>;
  /**
   * Writes `chunk` at `upload.received`. Must refuse (ValidationError) more than
   * `upload.size - upload.received` bytes, leaving the upload as it was. Returns the bytes written.
   */
  uploadChunk(upload: UploadTarget, chunk: Readable): Promise<number>;
  /**
   * Writes exactly `length` bytes at `offset`, for uploads whose parts arrive in any order and may
   * be sent again (Hatrac's chunked jobs). Refuses (ValidationError) a body of another length; a
   * failed write leaves the other parts as they were. Adapters without it cannot take such uploads.
   */
  writeAt?(upload: UploadTarget, offset: number, length: number, chunk: Readable): Promise<void>;
  /** Digests of an upload's bytes as assembled so far (e.g. to verify a client's checksum before finalizing). */
  digestUpload?(upload: UploadTarget, algorithms: readonly string[]): Promise<Record<string, Buffer>>;
  /** Where the client should resume (the core also tracks `received`). */
  requestOffset(upload: UploadTarget): Promise<number>;
  /**
   * Makes the bytes permanent (durably), then calls `record` with where they are, under the same
   * guard as `deleteFile`, so the new file's record and a concurrent delete of identical bytes
   * cannot interleave. Returns what `record` returns.
   */
  finalizeUpload<T>(upload: UploadTarget, record: (bytes: StoredBytes) => Promise<T>): Promise<T>;
  cancelUpload(upload: UploadTarget): Promise<void>;
  openReadStream(file: StoredFile, range?: ByteRange): Promise<Readable>;
  /** Releases a file's bytes; shared bytes stay while another file uses them. */
  deleteFile(file: StoredFile): Promise<void>;
  /** Bytes for a copy of a file (sharing them where the store allows), recorded as in finalizeUpload. */
  copyFile<T>(file: StoredFile, record: (bytes: StoredBytes) => Promise<T>): Promise<T>;
  /** Free and total bytes, or null when unknown. */
  capacity(): Promise<{ free: number; total: number } | null>;
}

/** What the core offers an adapter. */
export interface AssetstoreContext {
  /** Files of this assetstore referring to these bytes. */
  countReferences(sha512: string): Promise<number>;
  /** Runs `fn` while no other instance holds `key`. */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

export type AssetstoreFactory = (doc: AssetstoreDoc, context: AssetstoreContext) => AssetstoreAdapter;

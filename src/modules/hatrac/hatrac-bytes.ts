import { createHash, Hash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { Types } from 'mongoose';
import type { AssetstoreAdapter, ByteRange, StoredBytes, StoredFile, UploadTarget } from '../../assetstores/assetstore';
import { AssetstoresService } from '../../assetstores/assetstores.service';
import { ValidationError } from '../../common/errors';
import { HatracError } from './hatrac-errors';
import type { HatracJobDoc } from './hatrac.schema';

/** Checksums a client declared, as raw bytes (reference §4.4). */
export interface Declared {
  md5?: Buffer;
  sha256?: Buffer;
}

/** Where a version's bytes were stored. */
export interface StoredVersion {
  size: number;
  assetstoreId: Types.ObjectId;
  bytes: StoredBytes;
}

/**
 * Hatrac's bytes in the current assetstore (the filesystem one by default: content-addressed, so
 * identical versions are stored once). Bodies are streamed and hashed on the way; nothing is
 * held in memory. A version's bytes never change once recorded.
 */
@Injectable()
export class HatracBytes {
  constructor(private readonly assetstores: AssetstoresService) {}

  /**
   * Streams a PUT body of `size` bytes into storage, verifies the declared checksums, then makes
   * the bytes permanent and calls `record`. A short body or a mismatch is a 400 and stores nothing.
   */
  async store<T>(body: Readable, size: number | null, limit: number, declared: Declared, record: (where: StoredVersion) => Promise<T>): Promise<T> {
    const store = await this.assetstores.current();
    const adapter = await this.assetstores.adapter(store);
    // a body without Content-Length (chunked transfer) may take up to the limit
    const target: UploadTarget = { _id: new Types.ObjectId(), size: size ?? limit, received: 0, state: {} };
    target.state = await adapter.initUpload(target);
    try {
      const hashes = hashesFor(declared);
      const written = await adapter.uploadChunk(target, hashing(body, hashes));
      if (size !== null && written < size) throw new HatracError(400, `The body ended after ${written} of the ${size} bytes of its Content-Length.`);
      verify(hashes, declared, 400);
      const done = { ...target, size: written, received: written };
      return await adapter.finalizeUpload(done, (bytes) => record({ size: written, assetstoreId: store._id, bytes }));
    } catch (err) {
      await adapter.cancelUpload(target).catch(() => {});
      if (err instanceof ValidationError) throw size === null ? new HatracError(413, `The body exceeds the ${limit}-byte limit.`) : new HatracError(400, err.message);
      throw err;
    }
  }

  // ---------------------------------------------------------------- chunked jobs

  /** Storage for a new job of `size` bytes; returns where it lives. */
  async openJob(size: number): Promise<{ _id: Types.ObjectId; assetstoreId: Types.ObjectId; state: Record<string, unknown> }> {
    const store = await this.assetstores.current();
    const adapter = await this.assetstores.adapter(store);
    if (!adapter.writeAt) throw new HatracError(501, `The current assetstore (${store.type}) cannot take chunked uploads.`);
    const _id = new Types.ObjectId();
    return { _id, assetstoreId: store._id, state: await adapter.initUpload({ _id, size, received: 0, state: {} }) };
  }

  /** Writes chunk `index` (exactly `length` bytes) of a job, checking its MD5 when declared. */
  async writeChunk(job: HatracJobDoc, offset: number, length: number, body: Readable, declared: Declared): Promise<void> {
    const adapter = await this.jobAdapter(job);
    const hashes = hashesFor(declared);
    try {
      await adapter.writeAt!(targetOf(job), offset, length, hashing(body, hashes));
    } catch (err) {
      throw err instanceof ValidationError ? new HatracError(409, err.message) : err;
    }
    verify(hashes, declared, 400);
  }

  /** Verifies the job's declared checksums (409 on a mismatch, the job kept), then records its bytes. */
  async finishJob<T>(job: HatracJobDoc, declared: Declared, record: (where: StoredVersion) => Promise<T>): Promise<T> {
    const adapter = await this.jobAdapter(job);
    const algorithms = Object.keys(declared).filter((k) => declared[k as keyof Declared]);
    if (algorithms.length) {
      if (!adapter.digestUpload) throw new HatracError(501, 'The current assetstore cannot verify checksums of chunked uploads.');
      const digests = await adapter.digestUpload(targetOf(job), algorithms);
      for (const a of algorithms) {
        if (!digests[a].equals(declared[a as keyof Declared]!)) throw new HatracError(409, `The uploaded bytes do not match the job's content-${a}.`);
      }
    }
    return adapter.finalizeUpload({ ...targetOf(job), received: job.nbytes }, (bytes) => record({ size: job.nbytes, assetstoreId: job.assetstoreId, bytes }));
  }

  async cancelJob(job: HatracJobDoc): Promise<void> {
    await (await this.jobAdapter(job)).cancelUpload(targetOf(job));
  }

  // ---------------------------------------------------------------- reads

  async open(file: StoredFile & { assetstoreId: Types.ObjectId }, range?: ByteRange): Promise<Readable> {
    return (await this.assetstores.adapter(file.assetstoreId)).openReadStream(file, range);
  }

  private async jobAdapter(job: HatracJobDoc): Promise<AssetstoreAdapter> {
    return this.assetstores.adapter(job.assetstoreId);
  }
}

function targetOf(job: HatracJobDoc): UploadTarget {
  return { _id: job._id, size: job.nbytes, received: 0, state: job.state };
}

function hashesFor(declared: Declared): Map<string, Hash> {
  const hashes = new Map<string, Hash>();
  if (declared.md5) hashes.set('md5', createHash('md5'));
  if (declared.sha256) hashes.set('sha256', createHash('sha256'));
  return hashes;
}

/** `body` passed through the hashes; a body that fails or is cut off fails the stream too. */
function hashing(body: Readable, hashes: Map<string, Hash>): Transform {
  const through = new Transform({
    transform(data: Buffer, _enc, done) {
      for (const h of hashes.values()) h.update(data);
      done(null, data);
    },
  });
  body.on('error', (err) => through.destroy(err));
  body.on('close', () => {
    if (!body.readableEnded) through.destroy(new HatracError(400, 'The request body was cut off.'));
  });
  return body.pipe(through);
}

function verify(hashes: Map<string, Hash>, declared: Declared, status: number): void {
  for (const [algorithm, hash] of hashes) {
    if (!hash.digest().equals(declared[algorithm as keyof Declared]!)) {
      throw new HatracError(status, `The body does not match its Content-${algorithm === 'md5' ? 'MD5' : 'SHA256'}.`);
    }
  }
}

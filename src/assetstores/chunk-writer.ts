import { createWriteStream, promises as fs } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ValidationError } from '../common/errors';

/**
 * Writes an upload chunk into `file` at `offset` (not appended: a chunk that failed half-way is
 * overwritten by its retry), refusing more than `remaining` bytes. On failure the file is cut back
 * to `offset`, so the upload is as it was. Returns the bytes written. `observe` sees each block
 * on its way to the file (e.g. to hash it).
 */
export async function writeChunkAt(file: string, offset: number, remaining: number, chunk: Readable, observe?: (data: Buffer) => void): Promise<number> {
  let written = 0;
  const limit = new Transform({
    transform(data: Buffer, _enc, done) {
      written += data.length;
      if (written > remaining) return done(new ValidationError(`Received too many bytes: the upload has only ${remaining} left.`));
      observe?.(data);
      done(null, data);
    },
  });
  try {
    await pipeline(chunk, limit, createWriteStream(file, { flags: 'r+', start: offset }));
  } catch (err) {
    await fs.truncate(file, offset).catch(() => {});
    throw err;
  }
  return written;
}

/** Cuts a finished upload's temp file to its size and makes it durable before it is renamed into place. */
export async function sealTempFile(file: string, size: number): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    await handle.truncate(size);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes exactly `length` bytes of `chunk` at `offset` of `file`, leaving the rest of the file alone
 * (parts of one upload may arrive in any order). A body of another length is refused.
 */
export async function writePartAt(file: string, offset: number, length: number, chunk: Readable): Promise<void> {
  let written = 0;
  const exact = new Transform({
    transform(data: Buffer, _enc, done) {
      written += data.length;
      if (written > length) done(new ValidationError(`This part must be exactly ${length} bytes.`));
      else done(null, data);
    },
    flush(done) {
      done(written === length ? null : new ValidationError(`This part must be exactly ${length} bytes; ${written} arrived.`));
    },
  });
  await pipeline(chunk, exact, createWriteStream(file, { flags: 'r+', start: offset }));
}

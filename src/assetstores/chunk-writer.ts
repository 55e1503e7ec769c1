import { promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import { ValidationError } from '../common/errors';
import { FileWriter } from '../common/file-writer';

/**
 * Writes an upload chunk into `file` at `offset` (not appended: a chunk that failed half-way is
 * overwritten by its retry), refusing more than `remaining` bytes. On failure the file is cut back
 * to `offset`, so the upload is as it was. Returns the bytes written. `observe` sees each block
 * on its way to the file (e.g. to hash it).
 */
export function writeChunkAt(file: string, offset: number, remaining: number, chunk: Readable, observe?: (data: Buffer) => void): Promise<number> {
  return writeAt(file, offset, chunk, {
    each: (data, before) => {
      if (before + data.length > remaining) throw new ValidationError(`Received too many bytes: the upload has only ${remaining} left.`);
      observe?.(data);
    },
    cutBackOnFailure: true,
  });
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
  await writeAt(file, offset, chunk, {
    each: (data, before) => {
      if (before + data.length > length) throw new ValidationError(`This part must be exactly ${length} bytes.`);
    },
    atEnd: (total) => {
      if (total !== length) throw new ValidationError(`This part must be exactly ${length} bytes; ${total} arrived.`);
    },
  });
}

/**
 * Streams `body` into `file` from `offset` (FileWriter: reused buffers, flushed behind). `each` sees
 * every block and the bytes before it, and refuses the body by throwing; `atEnd` sees the total.
 */
async function writeAt(
  file: string,
  offset: number,
  body: Readable,
  check: { each(data: Buffer, before: number): void; atEnd?(total: number): void; cutBackOnFailure?: boolean },
): Promise<number> {
  const handle = await fs.open(file, 'r+');
  const writer = new FileWriter(handle, offset, { flushBehind: true });
  try {
    for await (const data of body as AsyncIterable<Buffer>) {
      check.each(data, writer.bytes);
      await writer.add(data);
    }
    check.atEnd?.(writer.bytes);
    return await writer.finish();
  } catch (err) {
    await writer.settle();
    if (check.cutBackOnFailure) await handle.truncate(offset).catch(() => {});
    throw err;
  } finally {
    await handle.close();
  }
}

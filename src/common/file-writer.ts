import { open, type FileHandle } from 'node:fs/promises';

/** The size of each of a writer's two buffers, or less when fewer bytes are expected. */
const BUFFER_BYTES = 1 << 20;
const MIN_BUFFER_BYTES = 16 << 10;
/** After this many bytes a writer starts flushing them to the disk while the rest arrives. */
const FLUSH_BEHIND_BYTES = 8 << 20;

/**
 * Writes a stream of chunks (a request body) to an open file through two reused buffers: a chunk
 * is copied into the buffer being filled and released at once, and a full buffer goes to the disk
 * while the other fills. Holding the request's own chunks until the disk took them instead keeps
 * them alive past young-generation collections: under a 512 MiB upload V8 then ran a full
 * mark-compact every few tens of MiB to free their memory, which cost more CPU than the copy.
 *
 * With `flushBehind`, written data is flushed (`fdatasync`) in the background as the upload goes
 * on, so that the caller's final `sync` finds little left to do: an answer that waits for the bytes
 * to be durable no longer waits for the whole file to reach the disk after its last byte arrived.
 */
export class FileWriter {
  private readonly bufferBytes: number;
  /** Made when first needed: a small body never needs the second. */
  private readonly buffers: Buffer[] = [];
  private current = 0;
  private filled = 0;
  /** The write of the other buffer, if one is under way (its failure surfaces at the next add or finish). */
  private writing: Promise<void> = Promise.resolve();
  private unflushed = 0;
  private flushing: Promise<void> | undefined;
  private flushError: unknown;
  /** Bytes taken so far (written, or waiting in a buffer). */
  bytes = 0;

  constructor(
    private readonly handle: FileHandle,
    private position: number,
    private readonly opts: { flushBehind?: boolean; expectedBytes?: number } = {},
  ) {
    const expected = opts.expectedBytes && opts.expectedBytes > 0 ? opts.expectedBytes : BUFFER_BYTES;
    this.bufferBytes = Math.min(BUFFER_BYTES, Math.max(MIN_BUFFER_BYTES, expected));
  }

  /** Takes a chunk; resolves once it may be reused by the caller and the writer can take more. */
  async add(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const buffer = (this.buffers[this.current] ??= Buffer.allocUnsafeSlow(this.bufferBytes));
      const copied = chunk.copy(buffer, this.filled, offset);
      offset += copied;
      this.filled += copied;
      this.bytes += copied;
      if (this.filled === buffer.length) await this.sendCurrent();
    }
  }

  /** Writes what is left and waits for every write and background flush; the caller syncs and closes. */
  async finish(): Promise<number> {
    if (this.filled > 0) await this.sendCurrent();
    await this.writing;
    await this.flushing;
    if (this.flushError) throw this.flushError;
    return this.bytes;
  }

  /** Starts writing the current buffer once the other one is on the disk, and fills the other one next. */
  private async sendCurrent(): Promise<void> {
    await this.writing;
    const data = this.buffers[this.current].subarray(0, this.filled);
    const at = this.position;
    this.position += data.length;
    this.writing = this.writeAll(data, at);
    this.writing.catch(() => {}); // awaited by the next add or finish; not unhandled meanwhile
    this.current ^= 1;
    this.filled = 0;
  }

  private async writeAll(data: Buffer, at: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, at + done);
      if (bytesWritten <= 0) throw new Error(`the file took no bytes at ${at + done}`);
      done += bytesWritten;
    }
    if (this.opts.flushBehind) this.flushBehind(data.length);
  }

  private flushBehind(written: number): void {
    this.unflushed += written;
    if (this.flushing || this.unflushed < FLUSH_BEHIND_BYTES) return;
    this.unflushed = 0;
    this.flushing = this.handle
      .datasync()
      .catch((err: unknown) => void (this.flushError ??= err))
      .finally(() => (this.flushing = undefined));
  }
}

/** Makes a file's bytes, or a directory's entries (a rename into it, a new name), durable. */
export async function syncPath(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

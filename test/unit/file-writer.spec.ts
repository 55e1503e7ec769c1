import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FileWriter } from '../../src/common/file-writer';

describe('FileWriter', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'strata-writer-'));

  /** Writes `body` in chunks of the given sizes (cycled) and returns what the file holds. */
  async function writeInChunks(body: Buffer, sizes: number[], opts: ConstructorParameters<typeof FileWriter>[2], start = 0): Promise<{ file: Buffer; bytes: number }> {
    const file = path.join(dir, `f-${randomBytes(4).toString('hex')}`);
    writeFileSync(file, Buffer.alloc(start, 0x2e));
    const handle = await open(file, 'r+');
    const writer = new FileWriter(handle, start, opts);
    for (let at = 0, i = 0; at < body.length; i++) {
      const n = sizes[i % sizes.length];
      const chunk = Buffer.from(body.subarray(at, at + n)); // a chunk of its own, as a socket hands them out
      await writer.add(chunk);
      chunk.fill(0); // the caller may reuse it once add resolved
      at += n;
    }
    const bytes = await writer.finish();
    await handle.close();
    return { file: readFileSync(file), bytes };
  }

  it.each([
    ['chunks that cross both buffers many times, past the first flushes', 20 << 20, [65536, 1, 300_000, 1 << 20, 7]],
    ['one chunk bigger than both buffers', 3 << 20, [3 << 20]],
    ['a small body', 4096, [4096]],
    ['an empty body', 0, [1]],
  ])('writes %s byte for byte', async (_what, length, sizes) => {
    const body = randomBytes(length);
    const { file, bytes } = await writeInChunks(body, sizes, { flushBehind: true, expectedBytes: length });
    expect(bytes).toBe(length);
    expect(file.equals(body)).toBe(true);
  });

  it('takes more than it was told to expect', async () => {
    const body = randomBytes(200_000);
    const { file } = await writeInChunks(body, [10_000], { expectedBytes: 100 });
    expect(file.equals(body)).toBe(true);
  });

  it('writes from its start position, leaving what is before it', async () => {
    const body = randomBytes(1_500_000);
    const { file } = await writeInChunks(body, [65536], {}, 1000);
    expect(file.subarray(0, 1000).equals(Buffer.alloc(1000, 0x2e))).toBe(true);
    expect(file.subarray(1000).equals(body)).toBe(true);
  });

  /**
   * A file handle whose writes finish late and take only part of what they are given, copying
   * the bytes only when they finish (the latest an operating system may read the buffer): a
   * buffer refilled before its write is done, or a short write not resumed, shows in `out`.
   */
  function slowHandle(size: number, opts: { failFlush?: boolean } = {}) {
    const out = Buffer.alloc(size);
    const later = () => new Promise((r) => setTimeout(r, Math.random() * 2));
    const handle = {
      flushes: 0,
      async write(data: Buffer, offset: number, length: number, position: number) {
        await later();
        const n = Math.max(1, Math.floor(length * (0.3 + Math.random() * 0.7)));
        data.copy(out, position, offset, offset + n);
        return { bytesWritten: n, buffer: data };
      },
      async datasync() {
        handle.flushes++;
        await later();
        if (opts.failFlush) throw Object.assign(new Error('flush failed'), { code: 'EIO' });
      },
    };
    return { out, handle };
  }

  it('waits for late and short writes before reusing a buffer, and resumes them', async () => {
    const body = randomBytes(20 << 20);
    const { out, handle } = slowHandle(body.length);
    const writer = new FileWriter(handle as unknown as FileHandle, 0, { flushBehind: true, expectedBytes: body.length });
    for (let at = 0; at < body.length; at += 65536) {
      const chunk = Buffer.from(body.subarray(at, at + 65536));
      await writer.add(chunk);
      chunk.fill(0);
    }
    expect(await writer.finish()).toBe(body.length);
    expect(out.equals(body)).toBe(true);
    expect(handle.flushes).toBeGreaterThan(0);
  });

  it('reports a failed background flush at finish', async () => {
    const { handle } = slowHandle(20 << 20, { failFlush: true });
    const writer = new FileWriter(handle as unknown as FileHandle, 0, { flushBehind: true });
    for (let i = 0; i < 20; i++) await writer.add(randomBytes(1 << 20));
    await expect(writer.finish()).rejects.toMatchObject({ code: 'EIO' });
  });

  it('reports a failed write at the next add or at finish', async () => {
    const file = path.join(dir, 'read-only');
    writeFileSync(file, '');
    const handle = await open(file, 'r'); // writes fail with EBADF
    const writer = new FileWriter(handle, 0, { expectedBytes: 1 << 20 });
    const attempt = (async () => {
      for (let i = 0; i < 4; i++) await writer.add(randomBytes(1 << 20));
      await writer.finish();
    })();
    await expect(attempt).rejects.toMatchObject({ code: 'EBADF' });
    await handle.close();
  });
});

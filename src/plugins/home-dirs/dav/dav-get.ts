import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeSync, constants, fstatSync, openSync, read, readSync } from 'node:fs';
import * as path from 'node:path';
import { etagOf, mimeOf } from './dav-sync';

/**
 * Files up to this size are read in one synchronous call and sent with their headers in one write.
 * The thread-pool round trips of an asynchronous open, stat, read and close (and a read stream)
 * cost far more CPU than the calls themselves for small local files: 0.2 ms against 0.06 ms per
 * request in a bare Node server. A bigger file is streamed with asynchronous reads.
 */
const SMALL_FILE = 64 * 1024;
/** The read size of a streamed file: two buffers of it per download, reused (no garbage per chunk). */
const CHUNK = 1024 * 1024;

/**
 * GET and HEAD of a file, served here because webdav-server reads every ranged GET from byte 0
 * and answers an unsatisfiable range with 206. One byte range (RFC 9110 14): `a-b`, `a-` or `-n`,
 * read from its offset; a range that starts past the end is 416, with a Content-Range naming the
 * size; a malformed or multi-part Range is ignored (200 with the whole file), as RFC 9110 allows. HEAD
 * answers exactly what GET would, without the body. Returns false when `disk` is not a regular
 * file (the library answers for collections).
 *
 * The file is opened without following a final symlink and without blocking (a FIFO would
 * otherwise hold the open), and everything after comes from that one descriptor.
 */
export function serveFile(req: IncomingMessage, res: ServerResponse, disk: string): boolean {
  let fd: number;
  try {
    fd = openSync(disk, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  let streaming = false;
  try {
    const s = fstatSync(fd);
    if (!s.isFile()) return false;
    const etag = etagOf(s);
    const lastModified = httpDate(s.mtimeMs);
    const ifRange = req.headers['if-range'];
    // a Range with a stale If-Range gets the whole (changed) file
    const range = ifRange && ifRange !== etag && ifRange !== lastModified ? undefined : byteRange(req.headers.range, s.size);
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'Accept-Ranges': 'bytes', ETag: etag, 'Last-Modified': lastModified, 'Content-Range': `bytes */${s.size}`, 'Content-Length': '0' });
      res.end();
      return true;
    }
    const [start, end] = range ?? [0, s.size - 1];
    const length = end - start + 1;
    const headers: Record<string, string> = { 'Accept-Ranges': 'bytes', ETag: etag, 'Last-Modified': lastModified };
    if (range) headers['Content-Range'] = `bytes ${start}-${end}/${s.size}`;
    headers['Content-Type'] = mimeOf(path.basename(disk));
    headers['Content-Length'] = String(length);
    const status = range ? 206 : 200;
    if (req.method === 'HEAD' || length <= 0) {
      res.writeHead(status, headers);
      res.end();
      return true;
    }
    if (length <= SMALL_FILE) {
      const body = Buffer.allocUnsafe(length);
      const got = readSync(fd, body, 0, length, start);
      // the file shrank since the stat: no answer rather than one shorter than its Content-Length
      if (got < length) res.destroy();
      else {
        res.writeHead(status, headers);
        res.end(body);
      }
      return true;
    }
    res.writeHead(status, headers);
    streaming = true; // sendRange closes the descriptor
    sendRange(fd, res, start, end);
    return true;
  } finally {
    if (!streaming) closeSync(fd);
  }
}

/**
 * Sends bytes `start`..`end` of an open file and closes it: asynchronous reads into two reused
 * buffers, one being filled while the other is written, so memory stays at two chunks per
 * download whatever the file size and a slow client holds the reads back. Ends the response, or
 * destroys it when the file shrinks, a read fails or the client goes.
 */
function sendRange(fd: number, res: ServerResponse, start: number, end: number): void {
  const size = Math.min(CHUNK, end - start + 1);
  const buffers = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)];
  /** Whether buffer n is still being written (a write callback frees it). */
  const busy = [false, false];
  let position = start;
  let turn = 0;
  let reading = false;
  let finished = false;
  const finish = (error: boolean) => {
    if (finished) return;
    finished = true;
    res.off('close', gone);
    if (!reading) closeSync(fd); // else the read's callback closes it (its descriptor must stay valid)
    if (error) res.destroy();
  };
  const gone = () => finish(!res.writableFinished);
  res.on('close', gone);
  const next = (): void => {
    if (finished || reading) return;
    if (position > end) {
      if (!busy[0] && !busy[1]) {
        finish(false);
        res.end();
      }
      return;
    }
    const n = turn;
    if (busy[n]) return; // its write completes and calls next again
    reading = true;
    read(fd, buffers[n], 0, Math.min(size, end - position + 1), position, (err, got) => {
      reading = false;
      if (finished) return closeSync(fd);
      if (err || got === 0) return finish(true);
      position += got;
      turn = 1 - n;
      busy[n] = true;
      res.write(got === size ? buffers[n] : buffers[n].subarray(0, got), (writeError) => {
        busy[n] = false;
        if (writeError) finish(true);
        else next();
      });
      next();
    });
  };
  next();
}

/** The one byte range a Range header asks for, 'unsatisfiable', or undefined when there is none or it is ignored. */
export function byteRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]); // the last N bytes
    return suffix === 0 || size === 0 ? 'unsatisfiable' : [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined; // an invalid range is ignored
  if (start >= size) return 'unsatisfiable';
  return [start, m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)];
}

const httpDates = new Map<number, string>();

/**
 * An HTTP date (RFC 9110 5.6.7, `Sun, 06 Nov 1994 08:49:37 GMT`) of a time in ms. Formatting a
 * date is a good part of a listing's cost, and the files of a folder share few distinct seconds,
 * so the strings are kept (a bounded number of them).
 */
export function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  let text = httpDates.get(second);
  if (text === undefined) {
    if (httpDates.size >= 4096) httpDates.clear();
    text = new Date(second * 1000).toUTCString();
    httpDates.set(second, text);
  }
  return text;
}

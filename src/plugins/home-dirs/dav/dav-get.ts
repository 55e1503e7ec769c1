import type { Request, Response } from 'express';
import { constants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { etagOf, mimeOf } from './dav-sync';

/**
 * GET and HEAD of a file, served here because webdav-server reads every ranged GET from byte 0
 * and answers an unsatisfiable range with 206. One byte range (RFC 9110 14): `a-b`, `a-` or `-n`,
 * read from its offset; a range that starts past the end is 416, with a Content-Range naming the
 * size; a malformed or multi-part Range is ignored (200 with the whole file), as RFC 9110 allows. HEAD
 * answers exactly what GET would, without the body. Returns false when `disk` is not a regular
 * file (the library answers for collections).
 */
export async function serveFile(req: Request, res: Response, disk: string): Promise<boolean> {
  const handle = await fs.open(disk, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
  if (!handle) return false;
  let streaming = false;
  try {
    const s = await handle.stat();
    if (!s.isFile()) return false;
    const etag = etagOf(s);
    const ifRange = req.headers['if-range'];
    // a Range with a stale If-Range gets the whole (changed) file
    const range = ifRange && ifRange !== etag && ifRange !== s.mtime.toUTCString() ? undefined : byteRange(req.headers.range, s.size);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', s.mtime.toUTCString());
    if (range === 'unsatisfiable') {
      res.status(416).setHeader('Content-Range', `bytes */${s.size}`);
      res.setHeader('Content-Length', '0');
      res.end();
      return true;
    }
    const [start, end] = range ?? [0, s.size - 1];
    res.status(range ? 206 : 200);
    if (range) res.setHeader('Content-Range', `bytes ${start}-${end}/${s.size}`);
    res.setHeader('Content-Type', mimeOf(path.basename(disk)));
    res.setHeader('Content-Length', String(end - start + 1));
    if (req.method === 'HEAD' || end < start) {
      res.end();
      return true;
    }
    streaming = true; // the stream closes the handle
    await pipeline(handle.createReadStream({ start, end, highWaterMark: 256 * 1024 }), res);
    return true;
  } finally {
    if (!streaming) await handle.close();
  }
}

/** The one byte range a Range header asks for, 'unsatisfiable', or undefined when there is none or it is ignored. */
export function byteRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header ?? '');
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

import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { AssetstoresService } from '../../assetstores/assetstores.service';
import type { ByteRange } from '../../assetstores/assetstore';
import { FileDoc } from './schemas/file.schema';

export interface DownloadOptions {
  /** Girder's `offset` and `endByte` (exclusive) parameters, used when no Range header is sent. */
  offset?: number;
  endByte?: number;
  /** `inline` shows the file in the browser; the default is `attachment`. */
  contentDisposition?: 'inline' | 'attachment';
}

/**
 * Streams a file's bytes to an HTTP response: single byte ranges (206), `416` with
 * `Content-Range: bytes *\/N` for unsatisfiable ones, Girder's offset/endByte, HEAD.
 */
@Injectable()
export class DownloadService {
  constructor(private readonly assetstores: AssetstoresService) {}

  async send(req: Request, res: Response, file: FileDoc, opts: DownloadOptions = {}): Promise<void> {
    const size = file.size;
    let range: ByteRange | undefined;
    let status = 200;
    const header = req.headers.range;
    const parsed = header ? parseRange(header, size) : undefined;
    if (parsed === 'unsatisfiable') {
      res.status(416).setHeader('Content-Range', `bytes */${size}`);
      res.json({ message: 'Requested range not satisfiable.', type: 'rest' });
      return;
    }
    if (parsed) {
      range = parsed;
      status = 206;
    } else if (opts.offset || opts.endByte !== undefined) {
      const start = Math.min(opts.offset ?? 0, size);
      const end = Math.min(opts.endByte ?? size, size) - 1;
      if (end >= start) {
        range = { start, end };
        status = start > 0 || end < size - 1 ? 206 : 200;
      } else range = { start: size, end: size - 1 };
    }
    const length = range ? Math.max(0, range.end - range.start + 1) : size;
    res.status(status);
    res.setHeader('Content-Type', file.mimeType || 'application/octet-stream');
    res.setHeader('Content-Length', String(length));
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Disposition', contentDisposition(opts.contentDisposition ?? 'attachment', file.name));
    res.setHeader('Last-Modified', file.updated.toUTCString());
    if (file.sha512) res.setHeader('ETag', `"${file.sha512.slice(0, 32)}"`);
    if (status === 206 && range) res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    if (req.method === 'HEAD' || length === 0) {
      res.end();
      return;
    }
    const adapter = await this.assetstores.adapter(file.assetstoreId);
    const stream = await adapter.openReadStream(file, range);
    await pipeline(stream, res).catch((err) => {
      // a client that goes away mid-download is not an error of ours
      if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
    });
  }
}

/**
 * One `bytes=` range (`a-b`, `a-`, `-n`). Returns undefined for a header we ignore (other units,
 * several ranges, malformed: served whole, as RFC 9110 allows) and 'unsatisfiable' for a range
 * wholly beyond the end.
 */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../../common/errors';
import { RawRoutes } from '../../common/raw-routes';
import { RequestContext } from '../../common/request-context';
import { COOKIE_NAME } from '../auth/auth-cookie';
import { AuthService } from '../auth/auth.service';
import { TokenScope } from '../auth/token.schema';
import { TokenService } from '../auth/token.service';
import type { UserDoc } from '../users/user.schema';
import { badRequest, HatracError } from './hatrac-errors';
import { HatracReply } from './hatrac-http';
import { BodyRequest, HatracNamesService } from './hatrac-names.service';
import { HatracRenameService } from './hatrac-rename.service';
import { Caller, HatracResolver, PREFIX } from './hatrac-resolver';
import { HatracSubresourcesService, SmallBody } from './hatrac-subresources.service';
import { HatracUploadsService } from './hatrac-uploads.service';
import { HatracTarget, parseHatracPath } from './hatrac-url';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The `/hatrac` door: Hatrac's URLs keep `:` and `;` as syntax and names percent-encoded, so the
 * gateway reads the raw URL outside Nest's router, authenticates as every surface does, and
 * dispatches to the services. Errors are Hatrac's plain-text bodies; expected refusals never 5xx.
 */
@Injectable()
export class HatracGateway implements OnModuleInit {
  private readonly logger = new Logger('Hatrac');

  constructor(
    private readonly raw: RawRoutes,
    private readonly auth: AuthService,
    private readonly resolver: HatracResolver,
    private readonly names: HatracNamesService,
    private readonly subresources: HatracSubresourcesService,
    private readonly uploads: HatracUploadsService,
    private readonly renames: HatracRenameService,
  ) {}

  onModuleInit(): void {
    this.raw.register(PREFIX, (req, res) => {
      RequestContext.run({ origin: 'hatrac', ip: req.ip }, () => {
        this.handle(req, res).then(
          (reply) => this.send(req, res, reply),
          (err) => this.refuse(req, res, err),
        );
      });
    });
  }

  private async handle(req: Request, res: Response): Promise<HatracReply> {
    const [rawPath, query = ''] = req.url.split('?', 2);
    const target = parseHatracPath(rawPath.slice(PREFIX.length));
    const parents = new URLSearchParams(query).get('parents') === 'true';
    const caller = await this.resolver.caller(await this.authenticate(req));
    return this.dispatch(caller, req.method, target, req, parents);
  }

  private dispatch(caller: Caller, method: string, t: HatracTarget, req: Request, parents: boolean): Promise<HatracReply> {
    const bodyReq: BodyRequest = { headers: req.headers, body: req, parents };
    const small: SmallBody & { parents: boolean } = { headers: req.headers, read: (limit) => readSmall(req, limit), parents };
    const get = method === 'GET' || method === 'HEAD';
    switch (t.kind) {
      case 'name':
        if (get) return this.names.get(caller, t.name, req.headers, method);
        if (method === 'PUT') return this.names.put(caller, t.name, bodyReq);
        if (method === 'DELETE') return this.names.delete(caller, t.name, req.headers);
        if (method === 'POST') return this.renames.rename(caller, t.name, small);
        break;
      case 'version':
        if (get) return this.names.getVersion(caller, t.name, t.version, req.headers, method);
        if (method === 'DELETE') return this.names.deleteVersion(caller, t.name, t.version, req.headers);
        break;
      case 'versions':
        if (get) return this.names.listVersions(caller, t.name, req.headers, method);
        break;
      case 'acl':
        return this.subresources.acl(caller, method, t, small);
      case 'metadata':
        return this.subresources.metadata(caller, method, t, small);
      case 'upload':
        if (!t.job) {
          if (get) return this.uploads.list(caller, t.name, req.headers, method);
          if (method === 'POST') return this.uploads.create(caller, t.name, small);
        } else if (t.chunk === undefined) {
          if (get) return this.uploads.status(caller, t.name, t.job);
          if (method === 'POST') return this.uploads.finalize(caller, t.name, t.job);
          if (method === 'DELETE') return this.uploads.cancel(caller, t.name, t.job);
        } else if (method === 'PUT') return this.uploads.putChunk(caller, t.name, t.job, t.chunk, bodyReq);
        break;
    }
    throw new HatracError(405, `${method} is not allowed here.`);
  }

  /**
   * The same credentials as the REST API: Girder-Token, Bearer, Basic, or a token cookie
   * (`girderToken`, or `webauthn`, where DERIVA's client puts it, also for writes). A cookie
   * authorizes a write only without a foreign `Origin`, which browsers send on cross-site
   * requests: scripts and DERIVA send none. Bad credentials are a 401.
   */
  private async authenticate(req: Request): Promise<UserDoc | null> {
    const cookies = parseCookies(req.headers.cookie);
    const cookieToken = cookies[COOKIE_NAME] ?? cookies.webauthn;
    const explicit = req.headers.authorization || req.headers['girder-token'] || req.headers['girder-authorization'];
    if (cookieToken && !explicit && (READ_METHODS.has(req.method) || sameOrigin(req))) req.headers['girder-token'] = cookieToken;
    const result = await this.auth.authenticateRequest(req, { cookie: false });
    if (!result.user) {
      if (result.failure) throw new HatracError(401, result.failure);
      return null;
    }
    const scope = READ_METHODS.has(req.method) ? TokenScope.DATA_READ : TokenScope.DATA_WRITE;
    if (!TokenService.hasScope(result.scope ?? result.token?.scope ?? null, scope)) throw new HatracError(403, 'These credentials do not allow this operation.');
    RequestContext.setAuth(result.user, result.token);
    return result.user;
  }

  private send(req: Request, res: Response, reply: HatracReply): void {
    res.status(reply.status);
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
    if (!req.readableEnded) req.resume(); // an unread body must not stall the connection
    const body = reply.body;
    if (body === undefined || req.method === 'HEAD' || reply.status === 204 || reply.status === 304) {
      if (body instanceof Readable) body.destroy();
      res.end();
      return;
    }
    if (typeof body === 'string') {
      if (!res.hasHeader('Content-Type')) res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.end(body);
      return;
    }
    pipeline(body, res).catch((err) => {
      this.logger.warn(`streaming ${req.url} failed: ${(err as Error).message}`);
      res.destroy();
    });
  }

  private refuse(req: Request, res: Response, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    let status = 500;
    let message = 'Internal server error.';
    let headers: Record<string, string> = {};
    if (err instanceof HatracError) ({ status, message, headers } = err);
    else if (err instanceof AppError) ({ status, message, headers } = err);
    else this.logger.error((err as Error)?.stack ?? String(err));
    // a refused large body is not worth reading to the end: close the connection instead
    if (!req.readableEnded && Number(req.headers['content-length'] ?? 0) > 1 << 20) headers = { ...headers, Connection: 'close' };
    if (status === 401 && !headers['WWW-Authenticate']) headers['WWW-Authenticate'] = 'Basic realm="Strata Hatrac", charset="UTF-8"';
    if (status === 304) {
      this.send(req, res, { status, headers });
      return;
    }
    this.send(req, res, { status, headers: { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }, body: `${message}\n` });
  }
}

/** A small request body (JSON commands, ACLs, metadata values), refused past `limit` bytes. */
async function readSmall(req: Request, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HatracError(413, `This request body may hold at most ${limit} bytes.`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sameOrigin(req: Request): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    try {
      out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      throw badRequest('Malformed cookie.');
    }
  }
  return out;
}

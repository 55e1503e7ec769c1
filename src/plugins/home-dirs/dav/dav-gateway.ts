import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { v2 as webdav } from 'webdav-server';
import { AppError } from '../../../common/errors';
import { RawRoutes } from '../../../common/raw-routes';
import { RequestContext } from '../../../common/request-context';
import { AccessLevel } from '../../../modules/access/access-level';
import { AccessService } from '../../../modules/access/access.service';
import { AuthService } from '../../../modules/auth/auth.service';
import { parseBasicAuth } from '../../../modules/auth/basic-auth';
import { TokenScope } from '../../../modules/auth/token.schema';
import { TokenService } from '../../../modules/auth/token.service';
import { FoldersRepository } from '../../../modules/tree/repositories/folders.repository';
import type { UserDoc } from '../../../modules/users/user.schema';
import { Realm, REALMS, Realms } from '../realms';
import { DavSync } from './dav-sync';
import { DavLockRules, DavStatus } from './dav-lock-rules';
import { DavLockDoc, DavLocks } from './dav-locks';
import { DAV_INFO, DAV_LOCK_VIEW, DavRequestInfo, MappedFileSystem } from './mapped-file-system';

const READ_METHODS = new Set(['GET', 'HEAD', 'PROPFIND', 'OPTIONS']);
const XML_METHODS = new Set(['PROPFIND', 'PROPPATCH', 'LOCK', 'UNLOCK', 'MKCOL']);
const MAX_XML_BODY = 1024 * 1024;
const REALM_NAME = 'Strata WebDAV';

class DavRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * The WebDAV door (DESIGN §8): `/homes` and `/tales` reach one webdav-server instance with one
 * file system, before Nest's body parsers and CORS. Before the library sees a request this gateway
 * authenticates it (Basic only: WebDAV password, `token:` or `key:`; throttled), authorizes the
 * source and, for COPY/MOVE, the destination (403 on refusal, never 401 for a known user), and
 * refuses what the library cannot survive or gets wrong.
 */
@Injectable()
export class DavGateway implements OnModuleInit {
  private readonly logger = new Logger('WebDAV');
  private server!: webdav.WebDAVServer;

  constructor(
    private readonly raw: RawRoutes,
    private readonly auth: AuthService,
    private readonly access: AccessService,
    private readonly folders: FoldersRepository,
    private readonly realms: Realms,
    private readonly sync: DavSync,
    private readonly locks: DavLocks,
    private readonly lockRules: DavLockRules,
  ) {}

  onModuleInit(): void {
    // privilege refusals are answered by this gateway; whatever the library still refuses is a 403
    for (const entry of (webdav.HTTPRequestContext as unknown as { defaultErrorStatusCodes: { error: Error; code: number }[] }).defaultErrorStatusCodes) {
      if (entry.error === webdav.Errors.NotEnoughPrivilege) entry.code = 403;
    }
    // hrefs: the library uses encodeURI, which leaves `#`, `?` and `;` bare and cuts names there
    (webdav.HTTPRequestContext as unknown as { encodeURL: (url: string) => string }).encodeURL = encodeHref;
    this.server = new webdav.WebDAVServer({
      requireAuthentification: true,
      httpAuthentication: new GatewayAuthentication(),
      rootFileSystem: new MappedFileSystem(this.realms, this.sync, this.locks),
      respondWithPaths: true,
      maxRequestDepth: 1,
      enableLocationTag: false,
    });
    for (const realm of REALMS) this.raw.register(`/${realm}`, (req, res, next) => this.handle(req, res, next));
  }

  private handle(req: Request, res: Response, _next: NextFunction): void {
    withoutCors(res);
    RequestContext.run({ origin: 'dav', ip: req.ip }, () => {
      this.prepare(req, res).then(
        (answered) => {
          if (!answered) this.server.executeRequest(req, res);
        },
        (err) => this.refuse(req, res, err),
      );
    });
  }

  /** Checks a request; answers LOCK and UNLOCK itself. Returns true when the request was answered. */
  private async prepare(req: Request, res: Response): Promise<boolean> {
    const target = checkPath(req.url);
    if (req.method === 'PUT' && req.headers['content-range']) throw new DavRefusal(400, 'Partial PUT (Content-Range) is not supported; send the whole file.');
    if (XML_METHODS.has(req.method)) {
      if (Number(req.headers['content-length'] ?? 0) > MAX_XML_BODY) throw new DavRefusal(413, 'Request body too large.');
      if (req.headers['transfer-encoding'] && !req.headers['content-length']) throw new DavRefusal(411, 'Send a Content-Length with XML bodies.');
    }
    if (req.method === 'PROPFIND') {
      const depth = String(req.headers.depth ?? '').trim().toLowerCase();
      if (depth === '') req.headers.depth = '1'; // no header would walk the whole tree
      else if (depth !== '0' && depth !== '1') throw new DavRefusal(403, 'PROPFIND with Depth: infinity is not allowed; use Depth 0 or 1.');
    }
    if (req.method === 'MKCOL') {
      // RFC 4918 9.3: a MKCOL body we do not understand is a 415
      if (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding']) throw new DavRefusal(415, 'MKCOL takes no body.');
    }
    if ((req.method === 'COPY' || req.method === 'MOVE') && !req.headers.overwrite) req.headers.overwrite = 'T'; // RFC 4918 default

    const user = await this.authenticate(req);
    // COPY only reads its source; every other non-read method changes it
    const sourceLevel = READ_METHODS.has(req.method) || req.method === 'COPY' ? AccessLevel.READ : AccessLevel.WRITE;
    await this.authorize(user, READ_METHODS.has(req.method) || req.method === 'COPY' ? 'GET' : req.method, target, sourceLevel);
    let destinationSegments: string[] | null = null;
    if (req.method === 'COPY' || req.method === 'MOVE') {
      const destination = req.headers.destination;
      if (!destination) throw new DavRefusal(400, 'COPY and MOVE need a Destination header.');
      destinationSegments = checkPath(destinationPath(String(destination)));
      await this.authorize(user, 'PUT', destinationSegments, AccessLevel.WRITE);
    }
    const targetPath = toPath(target);
    if (req.method === 'LOCK' || req.method === 'UNLOCK') {
      if (target.length < 3) throw new DavRefusal(403, 'Only resources inside a home or tale can be locked.');
      if (req.method === 'UNLOCK') await this.lockRules.unlock(req, res, targetPath);
      else await this.lockRules.lock(req, res, targetPath, await readBody(req, MAX_XML_BODY));
      return true;
    }
    await this.lockRules.enforce(req, targetPath, destinationSegments ? toPath(destinationSegments) : null);
    if (req.method === 'PROPFIND') (req as unknown as Record<symbol, unknown>)[DAV_LOCK_VIEW] = await this.lockView(targetPath);
    const info: DavRequestInfo = { login: user.login, readableTales: () => this.readableTales(user) };
    (req as unknown as Record<symbol, unknown>)[DAV_INFO] = info;
    (req as unknown as Record<symbol, unknown>)[DAV_USER] = { uid: String(user._id), username: user.login, isAdministrator: false, isDefaultUser: false };
    return false;
  }

  /** The locks a PROPFIND shows in lockdiscovery, by root path. */
  private async lockView(target: string): Promise<Map<string, DavLockDoc[]>> {
    const view = new Map<string, DavLockDoc[]>();
    for (const lock of [...(await this.locks.covering(target)), ...(await this.locks.below(target))]) {
      view.set(lock.path, [...(view.get(lock.path) ?? []).filter((l) => l._id !== lock._id), lock]);
    }
    return view;
  }

  /** Basic only, login (not email) plus WebDAV password, `token:` or `key:`; every failure counts toward the lockout. */
  private async authenticate(req: Request): Promise<UserDoc> {
    const basic = parseBasicAuth(req.headers.authorization);
    if (!basic) throw new DavRefusal(401, 'Log in with your login and WebDAV password, token:<token> or key:<API key>.', { 'WWW-Authenticate': `Basic realm="${REALM_NAME}", charset="UTF-8"` });
    const result = await this.auth.basicLogin(basic.user, basic.password, req.ip, { alternatives: true, accountPassword: false }).catch((err) => {
      if (err instanceof AppError && err.status === 401) throw new DavRefusal(401, err.message, { 'WWW-Authenticate': `Basic realm="${REALM_NAME}", charset="UTF-8"` });
      throw err;
    });
    if (result.user.login !== basic.user) throw new DavRefusal(401, 'Use your login, not your email, for WebDAV.', { 'WWW-Authenticate': `Basic realm="${REALM_NAME}"` });
    const scope = READ_METHODS.has(req.method) ? TokenScope.DATA_READ : TokenScope.DATA_WRITE;
    if (!TokenService.hasScope(result.scope ?? result.token?.scope ?? null, scope)) throw new DavRefusal(403, 'These credentials do not allow this operation.');
    RequestContext.setAuth(result.user, result.token);
    return result.user;
  }

  private async authorize(user: UserDoc, method: string, target: string[], level: AccessLevel): Promise<void> {
    const [realm, key] = target;
    if (!realm) {
      if (READ_METHODS.has(method)) return;
      throw new DavRefusal(403, 'The server root is read-only.');
    }
    if (!REALMS.includes(realm as Realm)) throw new DavRefusal(404, 'Not found.');
    if (!key) {
      if (READ_METHODS.has(method)) return;
      throw new DavRefusal(403, `/${realm} itself is read-only.`);
    }
    if (realm === 'homes') {
      if (key !== user.login) throw new DavRefusal(403, 'You can reach only your own home.');
      await this.realms.ensureHome(user);
      return;
    }
    const workspace = await this.realms.rootFolder('tales', key);
    if (!workspace || !this.access.has(workspace, user, AccessLevel.READ)) throw new DavRefusal(404, 'No such tale.');
    if (!this.access.has(workspace, user, level)) throw new DavRefusal(403, 'You may read this tale but not change it.');
  }

  private async readableTales(user: UserDoc): Promise<string[]> {
    return (await this.folders.mappedIn('tales', this.access.filterFor(user, AccessLevel.READ))).map((f) => f.mapping!.key);
  }

  private refuse(req: Request, res: Response, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    req.resume(); // drain an unread body so the connection stays usable
    let status = 500;
    let message = 'Internal server error.';
    let headers: Record<string, string> = {};
    if (err instanceof DavRefusal || err instanceof DavStatus) ({ status, message, headers } = err);
    else if (err instanceof AppError) {
      status = err.status;
      message = err.message;
      headers = err.headers;
    } else this.logger.error((err as Error)?.stack ?? String(err));
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.status(status).type('text/plain; charset=utf-8').send(`${message}\n`);
  }
}

const DAV_USER = Symbol('strata.davUser');

/** Hands the library the user the gateway authenticated (the library's own Basic parser is broken). */
class GatewayAuthentication implements webdav.HTTPAuthentication {
  askForAuthentication(): Record<string, string> {
    return {};
  }

  getUser(ctx: webdav.HTTPRequestContext, callback: (error: Error, user?: webdav.IUser) => void): void {
    const user = (ctx.request as unknown as Record<symbol, webdav.IUser | undefined>)[DAV_USER];
    if (user) callback(undefined as unknown as Error, user);
    else callback(webdav.Errors.BadAuthentication);
  }
}

/**
 * Decodes and checks a request path: every segment must decode, none may be `.` or `..` or hold
 * an encoded `/` or NUL. Returns the decoded segments.
 */
export function checkPath(url: string): string[] {
  // a raw `#` cannot be part of a request target: acting on the part before it would be unsafe
  if (url.includes('#')) throw new DavRefusal(400, 'A request URL may not contain a fragment (#); encode # in names as %23.');
  const raw = url.split('?')[0];
  const segments: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '') continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(part);
    } catch {
      throw new DavRefusal(400, 'The URL is not validly encoded.');
    }
    if (decoded === '.' || decoded === '..' || decoded.includes('/') || decoded.includes('\\') || decoded.includes('\0')) {
      throw new DavRefusal(400, 'The URL may not contain "." or ".." segments or encoded slashes.');
    }
    segments.push(decoded);
  }
  return segments;
}

function toPath(segments: string[]): string {
  return `/${segments.map((s) => s.normalize('NFC')).join('/')}`;
}

function readBody(req: Request, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new DavRefusal(413, 'Request body too large.'));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Encodes a path for an href segment by segment, so every character of a name round-trips. */
export function encodeHref(url: string): string {
  return url
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

/** The path of a Destination header (an absolute URL or a path). */
function destinationPath(destination: string): string {
  try {
    return /^[a-z]+:\/\//i.test(destination) ? new URL(destination).pathname : destination;
  } catch {
    throw new DavRefusal(400, 'The Destination header is not a valid URL.');
  }
}

/**
 * The library allows any origin with credentials on every response; this server does not. And
 * some of its paths (PROPPATCH with several blocks) answer twice: the second answer is dropped
 * instead of throwing an uncaught error that would stop the process.
 */
function withoutCors(res: Response): void {
  const setHeader = res.setHeader.bind(res);
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => Response;
  res.setHeader = ((name: string, value: Parameters<Response['setHeader']>[1]) =>
    res.headersSent || name.toLowerCase().startsWith('access-control-') ? res : setHeader(name, value)) as Response['setHeader'];
  res.writeHead = ((...args: unknown[]) => (res.headersSent ? res : writeHead(...args))) as Response['writeHead'];
}

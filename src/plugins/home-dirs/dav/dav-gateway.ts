import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Request, Response } from 'express';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
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
import { FolderDoc } from '../../../modules/tree/schemas/folder.schema';
import type { UserDoc } from '../../../modules/users/user.schema';
import { DavLoginCache } from '../dav-logins';
import { DavPasswords } from '../dav-passwords';
import { Realm, REALMS, Realms } from '../realms';
import { DavDeadProps } from './dav-dead-props';
import { serveFile } from './dav-get';
import { DavLockRules, DavStatus } from './dav-lock-rules';
import { DavLocks } from './dav-locks';
import { DavProps } from './dav-props';
import { DavSync, locate } from './dav-sync';
import { encodeHref } from './dav-xml';
import { MappedFileSystem } from './mapped-file-system';

const READ_METHODS = new Set(['GET', 'HEAD', 'PROPFIND', 'OPTIONS']);
/** Methods this gateway answers itself, reading only (GET and HEAD of a collection go on to the library). */
const SELF_SERVED = new Set(['GET', 'HEAD', 'PROPFIND']);
const XML_METHODS = new Set(['PROPFIND', 'PROPPATCH', 'LOCK', 'UNLOCK', 'MKCOL']);
const MAX_XML_BODY = 1024 * 1024;
const REALM_NAME = 'Strata WebDAV';

/** A request as the HTTP server hands it over: its method and URL are always there. */
type DavRequest = IncomingMessage & { method: string; url: string };

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
 * refuses what the library cannot survive or gets wrong. It serves what the library gets wrong
 * itself: LOCK/UNLOCK (DavLockRules), PROPFIND/PROPPATCH (DavProps) and GET/HEAD of files (byte
 * ranges, dav-get); the library handles the writes, through MappedFileSystem.
 */
@Injectable()
export class DavGateway implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('WebDAV');
  private server!: webdav.WebDAVServer;
  /** The request being handled, seen from any callback it leads to. */
  private readonly current = new AsyncLocalStorage<{ req: IncomingMessage; res: ServerResponse }>();
  /** Express's app (none in the CLI): its prototypes for the few steps that want Express's request and response, and its `req.ip`. */
  private express: { request: object; response: object } | undefined;
  private expressIp: ((this: object) => string | undefined) | undefined;

  constructor(
    private readonly raw: RawRoutes,
    private readonly auth: AuthService,
    private readonly access: AccessService,
    private readonly folders: FoldersRepository,
    private readonly realms: Realms,
    private readonly sync: DavSync,
    private readonly locks: DavLocks,
    private readonly lockRules: DavLockRules,
    private readonly props: DavProps,
    private readonly deadProps: DavDeadProps,
    private readonly logins: DavLoginCache,
    private readonly davPasswords: DavPasswords,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    // privilege refusals are answered by this gateway; whatever the library still refuses is a 403
    for (const entry of (webdav.HTTPRequestContext as unknown as { defaultErrorStatusCodes: { error: Error; code: number }[] }).defaultErrorStatusCodes) {
      if (entry.error === webdav.Errors.NotEnoughPrivilege) entry.code = 403;
    }
    // hrefs (in the library's error multistatus): it uses encodeURI, which leaves `#`, `?` and `;` bare
    (webdav.HTTPRequestContext as unknown as { encodeURL: (url: string) => string }).encodeURL = encodeHref;
    this.server = new webdav.WebDAVServer({
      requireAuthentification: true,
      httpAuthentication: new GatewayAuthentication(),
      rootFileSystem: new MappedFileSystem(this.realms, this.sync, this.locks, this.deadProps),
      respondWithPaths: true,
      maxRequestDepth: 1,
      enableLocationTag: false,
    });
    this.express = this.adapterHost.httpAdapter?.getInstance();
    this.expressIp = this.express && getterOf(this.express.request, 'ip');
    // Node's own request and response: Express's prototypes cost CPU and memory per request (server.ts)
    for (const realm of REALMS) this.raw.registerPlain(`/${realm}`, (req, res) => this.handle(req as DavRequest, res));
    process.on('uncaughtExceptionMonitor', this.endCrashedRequest);
  }

  onModuleDestroy(): void {
    process.off('uncaughtExceptionMonitor', this.endCrashedRequest);
  }

  /**
   * An error thrown from a callback inside the library (it has had several) is uncaught: the
   * process handler (main.ts) logs it and keeps the server running; this ends the request it came
   * from, with a 500, instead of leaving the client waiting. The monitor sees the error before
   * that handler and does not change what the process does with it.
   */
  private readonly endCrashedRequest = (err: Error): void => {
    const request = this.current.getStore();
    if (!request) return;
    this.logger.error(`uncaught error in ${request.req.method} ${request.req.url}; the request ends with a 500: ${err?.message}`);
    if (request.res.writableEnded) return; // answered already; its connection may serve another request by now
    if (request.res.headersSent) request.res.destroy();
    else request.res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Internal server error.\n');
  };

  private handle(req: DavRequest, res: ServerResponse): void {
    // what this gateway answers itself only reads: no memo of resolved folders to share with the
    // library's steps (a GET or HEAD of a collection, which the library answers, gets one then)
    const reading = SELF_SERVED.has(req.method);
    this.current.run({ req, res }, () =>
      RequestContext.run({ origin: 'dav', ip: this.ipOf(req) }, () => {
        const go = () => {
          this.prepare(req, res)
            .then((answered) => answered || this.toLibrary(req, res, reading))
            .catch((err) => this.refuse(req, res, err));
        };
        if (reading) go();
        else this.sync.withMemo(go);
      }),
    );
  }

  /** Hands a checked request to webdav-server, within the request's memo of resolved folders (a new one if `fresh`). */
  private toLibrary(req: IncomingMessage, res: ServerResponse, fresh: boolean): void {
    withoutCors(res);
    if (fresh) this.sync.withMemo(() => this.server.executeRequest(req, res));
    else this.server.executeRequest(req, res);
  }

  /**
   * Checks a request; answers LOCK, UNLOCK, PROPFIND, PROPPATCH and GET/HEAD of files itself.
   * Returns true when the request was answered.
   */
  private async prepare(req: DavRequest, res: ServerResponse): Promise<boolean> {
    const target = checkPath(req.url);
    if (req.method === 'PUT' && req.headers['content-range']) throw new DavRefusal(400, 'Partial PUT (Content-Range) is not supported; send the whole file.');
    if (XML_METHODS.has(req.method) && Number(req.headers['content-length'] ?? 0) > MAX_XML_BODY) throw new DavRefusal(413, 'Request body too large.');
    if (req.method === 'PROPFIND') {
      const depth = String(req.headers.depth ?? '').trim().toLowerCase() || '1'; // no header would mean the whole tree
      if (depth !== '0' && depth !== '1') throw new DavRefusal(403, 'PROPFIND with Depth: infinity is not allowed; use Depth 0 or 1.');
      req.headers.depth = depth;
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
      const [r, s] = this.withExpress(req, res);
      if (req.method === 'UNLOCK') await this.lockRules.unlock(r, s, targetPath);
      else await this.lockRules.lock(r, s, targetPath, await readBody(req, MAX_XML_BODY));
      return true;
    }
    await this.lockRules.enforce(req as Request, targetPath, destinationSegments ? toPath(destinationSegments) : null);
    if (req.method === 'PROPFIND') {
      const viewer = { login: user.login, readableTales: () => this.readableTales(user) };
      await this.props.propfind(res, target, req.headers.depth === '0' ? 0 : 1, await readBody(req, MAX_XML_BODY), viewer);
      return true;
    }
    if (req.method === 'PROPPATCH') {
      await this.props.proppatch(res, target, await readBody(req, MAX_XML_BODY));
      return true;
    }
    const loc = locate(this.realms, target);
    if ((req.method === 'GET' || req.method === 'HEAD') && loc?.kind === 'inside' && serveFile(req, res, loc.at.disk)) return true;
    (req as unknown as Record<symbol, unknown>)[DAV_USER] = { uid: String(user._id), username: user.login, isAdministrator: false, isDefaultUser: false };
    return false;
  }

  /**
   * Basic only, login (not email) plus WebDAV password, `token:` or `key:`; every failure counts toward the lockout.
   * A login + WebDAV password this process verified within the last seconds is taken from the
   * DavLoginCache (no database round trip); see there for how it is kept true.
   */
  private async authenticate(req: DavRequest): Promise<UserDoc> {
    const basic = parseBasicAuth(req.headers.authorization);
    if (!basic) throw new DavRefusal(401, 'Log in with your login and WebDAV password, token:<token> or key:<API key>.', { 'WWW-Authenticate': `Basic realm="${REALM_NAME}", charset="UTF-8"` });
    const cached = await this.logins.get(basic.user, basic.password);
    if (cached) {
      // a WebDAV password grants every scope
      RequestContext.setAuth(cached, null);
      return cached;
    }
    const generation = this.logins.generation();
    const result = await this.auth.basicLogin(basic.user, basic.password, this.ipOf(req), { alternatives: true, accountPassword: false }).catch((err) => {
      this.logins.forgetLogin(basic.user);
      if (err instanceof AppError && err.status === 401) throw new DavRefusal(401, err.message, { 'WWW-Authenticate': `Basic realm="${REALM_NAME}", charset="UTF-8"` });
      throw err;
    });
    if (result.user.login !== basic.user) throw new DavRefusal(401, 'Use your login, not your email, for WebDAV.', { 'WWW-Authenticate': `Basic realm="${REALM_NAME}"` });
    const scope = READ_METHODS.has(req.method) ? TokenScope.DATA_READ : TokenScope.DATA_WRITE;
    if (!TokenService.hasScope(result.scope ?? result.token?.scope ?? null, scope)) throw new DavRefusal(403, 'These credentials do not allow this operation.');
    if (!result.token && !result.scope && this.davPasswords.verifiedNow(result.user, basic.password)) {
      this.logins.set(basic.user, basic.password, result.user, generation);
    }
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

  private readableTales(user: UserDoc): Promise<FolderDoc[]> {
    return this.folders.mappedIn('tales', this.access.filterFor(user, AccessLevel.READ));
  }

  /** The client's address as Express's `req.ip` gives it (its `trust proxy` setting applied). */
  private ipOf(req: IncomingMessage): string | undefined {
    return this.expressIp ? this.expressIp.call({ app: this.express, headers: req.headers, socket: req.socket, connection: req.socket }) : req.socket.remoteAddress;
  }

  /** The request and response as Express's, for the steps written against Express (LOCK, UNLOCK: rare). */
  private withExpress(req: IncomingMessage, res: ServerResponse): [Request, Response] {
    const r = req as Request;
    const s = res as Response;
    if (this.express && Object.getPrototypeOf(req) !== this.express.request) {
      r.res = s;
      s.req = r;
      s.locals = Object.create(null);
      Object.setPrototypeOf(req, this.express.request);
      Object.setPrototypeOf(res, this.express.response);
    }
    return [r, s];
  }

  private refuse(req: IncomingMessage, res: ServerResponse, err: unknown): void {
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
    const body = `${message}\n`;
    res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)) });
    res.end(body); // not sent for a HEAD
  }
}

/** A getter an object has or inherits. */
function getterOf(object: object, name: string): ((this: object) => string | undefined) | undefined {
  for (let o: object | null = object; o; o = Object.getPrototypeOf(o)) {
    const own = Object.getOwnPropertyDescriptor(o, name);
    if (own) return own.get;
  }
  return undefined;
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

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A small XML body, as UTF-8 text (413 beyond `limit`, 400 when it is not UTF-8). */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
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
    req.on('end', () => {
      try {
        resolve(chunks.length ? UTF8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)) : '');
      } catch {
        reject(new DavRefusal(400, 'The request body is not valid UTF-8.'));
      }
    });
    req.on('error', reject);
  });
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
function withoutCors(res: ServerResponse): void {
  const setHeader = res.setHeader.bind(res);
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  res.setHeader = ((name: string, value: Parameters<ServerResponse['setHeader']>[1]) =>
    res.headersSent || name.toLowerCase().startsWith('access-control-') ? res : setHeader(name, value)) as ServerResponse['setHeader'];
  res.writeHead = ((...args: unknown[]) => (res.headersSent ? res : writeHead(...args))) as ServerResponse['writeHead'];
}

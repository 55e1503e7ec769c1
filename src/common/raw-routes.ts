import { Global, Injectable, Module } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';

export type RawHandler = (req: Request, res: Response, next: NextFunction) => void;
/** A handler taking Node's request and response as they come (see `registerPlain`). */
export type PlainHandler = (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void;

interface RawRoute {
  prefix: string;
  handler: RawHandler | PlainHandler;
  plain: boolean;
}

/**
 * Path prefixes served outside Nest's pipeline, before any body parser or CORS handler sees the
 * request (WebDAV needs the raw stream and its own OPTIONS). server.ts hands them their requests
 * from the HTTP server, and installs `dispatch` first in Express as the fallback; plugins register
 * prefixes at start-up.
 */
@Injectable()
export class RawRoutes {
  private readonly routes: RawRoute[] = [];

  register(prefix: string, handler: RawHandler): void {
    this.add({ prefix, handler, plain: false });
  }

  /**
   * A prefix whose handler uses only Node's own request and response API: server.ts hands it
   * requests without giving them Express's prototypes, which costs CPU and memory per request
   * (see server.ts). Through the Express fallback (`dispatch`) it gets Express's objects, which
   * are Node's too.
   */
  registerPlain(prefix: string, handler: PlainHandler): void {
    this.add({ prefix, handler, plain: true });
  }

  /** The route serving a request URL, if any. */
  match(url: string): RawRoute | undefined {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    return this.routes.find((r) => path === r.prefix || path.startsWith(`${r.prefix}/`));
  }

  private add(route: RawRoute): void {
    if (!/^\/[a-z0-9_-]+$/i.test(route.prefix)) throw new Error(`raw route prefix must be one path segment: ${route.prefix}`);
    this.routes.push(route);
  }

  prefixes(): string[] {
    return this.routes.map((r) => r.prefix);
  }

  readonly dispatch = (req: Request, res: Response, next: NextFunction): void => {
    const route = this.match(req.url);
    if (route) (route.handler as RawHandler)(req, res, next);
    else next();
  };
}

@Global()
@Module({ providers: [RawRoutes], exports: [RawRoutes] })
export class RawRoutesModule {}

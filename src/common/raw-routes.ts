import { Global, Injectable, Module } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

export type RawHandler = (req: Request, res: Response, next: NextFunction) => void;

/**
 * Path prefixes served outside Nest's pipeline, before any body parser or CORS handler sees the
 * request (WebDAV needs the raw stream and its own OPTIONS). server.ts installs `dispatch` first;
 * plugins register prefixes at start-up.
 */
@Injectable()
export class RawRoutes {
  private readonly routes: { prefix: string; handler: RawHandler }[] = [];

  register(prefix: string, handler: RawHandler): void {
    if (!/^\/[a-z0-9_-]+$/i.test(prefix)) throw new Error(`raw route prefix must be one path segment: ${prefix}`);
    this.routes.push({ prefix, handler });
  }

  prefixes(): string[] {
    return this.routes.map((r) => r.prefix);
  }

  readonly dispatch = (req: Request, res: Response, next: NextFunction): void => {
    const path = req.url.split('?')[0];
    for (const route of this.routes) {
      if (path === route.prefix || path.startsWith(`${route.prefix}/`)) {
        route.handler(req, res, next);
        return;
      }
    }
    next();
  };
}

@Global()
@Module({ providers: [RawRoutes], exports: [RawRoutes] })
export class RawRoutesModule {}

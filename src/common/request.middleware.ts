import { Injectable, NestMiddleware } from '@nestjs/common';
import express, { NextFunction, Request, Response } from 'express';
import { ValidationError } from './errors';
import { RequestContext } from './request-context';

/** Routes whose body is file content, never parsed. */
const RAW_BODY_ROUTES = /^\/api\/v1\/file(\/chunk|\/[0-9a-f]{24}\/contents)?\/?$/i;

const parseJson = express.json({ limit: '1mb', strict: false });
const parseForm = express.urlencoded({ limit: '1mb', extended: false });

function run(parser: express.RequestHandler, req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => parser(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
}

/**
 * First step of every REST request: opens the request context (DESIGN §4) and parses small JSON
 * and form bodies. Other bodies (uploads) are left as streams for their handlers.
 *
 * Girder's clients put parameters in the query string, browsers in form bodies; like Girder, a
 * form body's fields are merged into the query parameters (the query wins), so routes read one
 * set of parameters whichever way they came. JSON bodies stay in `req.body`.
 */
@Injectable()
export class RequestMiddleware implements NestMiddleware {
  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    try {
      if (RAW_BODY_ROUTES.test(req.path)) {
        // upload routes stream their body to the assetstore
      } else if (req.is('application/json')) await run(parseJson, req, res);
      else if (req.is('application/x-www-form-urlencoded')) await run(parseForm, req, res);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 413) throw new ValidationError('Request body is too large (at most 1 MiB).');
      throw new ValidationError(`Malformed request body: ${(err as Error).message}`);
    }
    if (req.is('application/x-www-form-urlencoded') && req.body && typeof req.body === 'object') {
      const merged = { ...(req.body as Record<string, unknown>), ...(req.query as Record<string, unknown>) };
      Object.defineProperty(req, 'query', { value: merged, writable: true, configurable: true, enumerable: true });
    }
    RequestContext.run({ origin: 'rest', ip: req.ip }, () => next());
  }
}

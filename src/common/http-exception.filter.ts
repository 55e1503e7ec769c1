import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { Error as MongooseError } from 'mongoose';
import { AppError, isDuplicateKeyError } from './errors';

interface ErrorBody {
  message: string;
  type: string;
  field?: string;
}

/**
 * The one place where errors become HTTP answers: `{message, type[, field]}` as Girder does.
 * Anything unexpected is logged and answered 500 without internals.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const { status, body, headers } = this.describe(exception);
    if (status >= 500) this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.status(status).json(body);
  }

  private describe(err: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
    if (err instanceof AppError) {
      const body: ErrorBody = { message: err.message, type: err.type };
      if (err.field) body.field = err.field;
      return { status: err.status, body, headers: err.headers };
    }
    if (err instanceof HttpException) {
      const response = err.getResponse();
      const message =
        typeof response === 'string'
          ? response
          : Array.isArray((response as { message?: unknown }).message)
            ? ((response as { message: string[] }).message).join('; ')
            : String((response as { message?: unknown }).message ?? err.message);
      const status = err.getStatus();
      return { status, body: { message, type: status === 401 || status === 403 ? 'access' : 'rest' }, headers: {} };
    }
    if (err instanceof MongooseError.CastError) {
      return { status: 400, body: { message: `Invalid value for ${err.path}`, type: 'validation', field: err.path }, headers: {} };
    }
    if (err instanceof MongooseError.ValidationError) {
      const first = Object.values(err.errors)[0];
      return { status: 400, body: { message: first?.message ?? err.message, type: 'validation', field: first?.path }, headers: {} };
    }
    if (isDuplicateKeyError(err)) {
      return { status: 409, body: { message: 'A resource with that name already exists.', type: 'validation' }, headers: {} };
    }
    // body-parser and friends mark client errors with a status (malformed JSON, too large, ...)
    const status = (err as { status?: number; statusCode?: number })?.status ?? (err as { statusCode?: number })?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const message = (err as { type?: string }).type === 'entity.parse.failed' ? 'Malformed request body.' : (err as Error).message;
      return { status, body: { message, type: 'rest' }, headers: {} };
    }
    return { status: 500, body: { message: 'Internal server error.', type: 'internal' }, headers: {} };
  }
}

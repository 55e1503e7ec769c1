/**
 * Domain errors. Services throw these; one filter (http-exception.filter.ts) maps them to HTTP for
 * REST, and the WebDAV and Hatrac surfaces map them their own way. Services never speak HTTP.
 */
export type ErrorType = 'rest' | 'validation' | 'access';

export abstract class AppError extends Error {
  abstract readonly status: number;
  readonly type: ErrorType = 'rest';
  readonly field?: string;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Record<string, string> = {};
}

/** 400: a parameter is missing or wrong; `field` names it. */
export class ValidationError extends AppError {
  readonly status = 400;
  override readonly type = 'validation' as const;
  constructor(
    message: string,
    override readonly field?: string,
  ) {
    super(message);
  }
}

/** 400: the request cannot be carried out as asked. */
export class BadRequestError extends AppError {
  readonly status = 400;
}

/** 401: credentials are missing or wrong. */
export class AuthenticationError extends AppError {
  readonly status = 401;
  override readonly type = 'access' as const;
  constructor(message = 'You must be logged in.') {
    super(message);
  }
}

/** 403: the user is known but may not do this. */
export class AccessDeniedError extends AppError {
  readonly status = 403;
  override readonly type = 'access' as const;
}

/** 404: nothing there (or nothing the caller may know about). */
export class NotFoundError extends AppError {
  readonly status = 404;
}

/** 409: the request conflicts with what exists (a taken name, a stale state). */
export class ConflictError extends AppError {
  readonly status = 409;
  constructor(
    message: string,
    override readonly field?: string,
  ) {
    super(message);
  }
}

/** 429: too many failed attempts; the caller must wait. */
export class TooManyAttemptsError extends AppError {
  readonly status = 429;
  override readonly type = 'access' as const;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}

/** MongoDB's duplicate-key error, from a unique index. */
export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: number }).code === 11000;
}

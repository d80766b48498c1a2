import type { NextFunction, Request, Response } from 'express';
import { AppError, isDataException, type ErrorCode } from '@pulsebridge/core';
import type { Logger } from '@pulsebridge/core';

/** Body-parser errors carry a `type`; these are the caller's fault, not ours. */
function fromBodyParser(error: unknown): AppError | null {
  const type = (error as { type?: unknown }).type;
  if (type === 'entity.too.large') return new AppError('payload_too_large', 'request body is larger than 1 MiB');
  if (type === 'entity.parse.failed') return new AppError('invalid_json', 'request body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new AppError('unsupported_media_type', 'unsupported body encoding');
  return null;
}

const CLIENT_ERROR_CODES: Partial<Record<number, ErrorCode>> = { 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'payload_too_large', 415: 'unsupported_media_type' };

/**
 * Errors that are the request's fault without being ours to name: a 4xx from express, its router
 * or middleware (http-errors, which carry `expose`; the router's URIError for a path parameter
 * that is not valid percent-encoding), and a value PostgreSQL refuses (a NUL byte in text, a
 * malformed uuid or date). Never a 500. An upstream's error with a status (Heroku's) is not one.
 */
function fromBadInput(error: unknown): AppError | null {
  if (isDataException(error)) return new AppError('bad_request', 'a value in the request cannot be stored or compared (a NUL byte, a malformed id or date)');
  if (typeof error !== 'object' || error === null) return null;
  if (!(error instanceof URIError) && typeof (error as { expose?: unknown }).expose !== 'boolean') return null;
  const status = (error as { status?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return null;
  return new AppError(CLIENT_ERROR_CODES[status] ?? 'bad_request', status === 404 ? 'not found' : 'the request is malformed');
}

/** The one place errors become responses: `{error: {code, message, requestId}}`. */
export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const known = error instanceof AppError ? error : fromBodyParser(error);
    const appError = known ?? fromBadInput(error);
    const requestId = String(req.id ?? '');
    if (appError === null) {
      (req.log ?? logger).error({ err: error }, 'unhandled error');
    } else if (known === null) {
      (req.log ?? logger).warn({ err: error }, 'request refused: bad input');
    }
    const reported = appError ?? new AppError('internal', 'internal error');
    // Details are a list of issues (validation) or named facts (e.g. a rollback's current release).
    const issues = Array.isArray(reported.details) ? { issues: reported.details } : typeof reported.details === 'object' && reported.details !== null ? reported.details : {};
    if (res.headersSent) return;
    res.status(reported.status).json({ error: { ...issues, code: reported.code, message: reported.message, requestId } });
  };
}

/** Unknown routes answer in the same error shape. */
export function notFoundHandler(req: Request, res: Response) {
  res.status(404).json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}`, requestId: String(req.id ?? '') } });
}

import type { NextFunction, Request, Response } from 'express';
import { AppError } from '@pulsebridge/core';
import type { Logger } from '@pulsebridge/core';

/** Body-parser errors carry a `type`; these are the caller's fault, not ours. */
function fromBodyParser(error: unknown): AppError | null {
  const type = (error as { type?: unknown }).type;
  if (type === 'entity.too.large') return new AppError('payload_too_large', 'request body is larger than 1 MiB');
  if (type === 'entity.parse.failed') return new AppError('invalid_json', 'request body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new AppError('unsupported_media_type', 'unsupported body encoding');
  return null;
}

/** The one place errors become responses: `{error: {code, message, requestId}}`. */
export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const appError = error instanceof AppError ? error : fromBodyParser(error);
    const requestId = String(req.id ?? '');
    if (appError === null) {
      (req.log ?? logger).error({ err: error }, 'unhandled error');
    }
    const reported = appError ?? new AppError('internal', 'internal error');
    const issues = Array.isArray(reported.details) ? { issues: reported.details } : {};
    if (res.headersSent) return;
    res.status(reported.status).json({ error: { code: reported.code, message: reported.message, requestId, ...issues } });
  };
}

/** Unknown routes answer in the same error shape. */
export function notFoundHandler(req: Request, res: Response) {
  res.status(404).json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}`, requestId: String(req.id ?? '') } });
}

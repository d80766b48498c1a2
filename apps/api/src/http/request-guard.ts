import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { loggableUrl, type Logger } from '@pulsebridge/core';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** The caller's `X-Request-Id` when it is a plain token of at most 100 characters, else a fresh UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** Percent-decodes one URL component; null when the encoding is malformed or hides a NUL byte (PostgreSQL refuses those in text). */
export function decodeComponent(value: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return null;
  }
  return decoded.includes('\u0000') ? null : decoded;
}

/** Why no route can serve this request target (path and query), or null when it is well-formed. */
export function requestTargetProblem(target: string): string | null {
  // Decoding the whole target at once checks every component: `%25` decodes to a plain `%`.
  return decodeComponent(target) === null ? 'the URL has malformed percent-encoding or a NUL byte' : null;
}

function answer(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string) {
  const requestId = requestIdOf(req);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'X-Request-Id': requestId });
  res.end(JSON.stringify({ error: { code, message, requestId } }));
}

/**
 * Wraps the server's request listener, ahead of every route family: a malformed request target
 * is answered `400` before any route decodes it, and nothing a request makes the listener throw
 * can escape into the process (an uncaught exception there would stop the server).
 */
export function guardRequests(listener: RequestListener, logger: Logger): RequestListener {
  return (req, res) => {
    try {
      const problem = requestTargetProblem(req.url ?? '/');
      if (problem !== null) {
        logger.warn({ method: req.method, url: loggableUrl(req.url) }, 'malformed request target refused');
        answer(req, res, 400, 'bad_request', problem);
        return;
      }
      listener(req, res);
    } catch (err) {
      logger.error({ err, method: req.method, url: loggableUrl(req.url) }, 'request listener failed');
      if (!res.headersSent) answer(req, res, 500, 'internal', 'internal error');
      else res.destroy();
    }
  };
}

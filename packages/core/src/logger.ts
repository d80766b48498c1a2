import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Paths pino must never print: credentials in headers and secrets in objects we log. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["heroku-webhook-hmac-sha256"]',
  'req.headers["x-slack-signature"]',
  'res.headers["set-cookie"]',
  '*.secret',
  '*.apiToken',
  '*.token',
  '*.password',
  '*.adminToken',
  '*.secretKey',
  '*.metricsToken',
];

/** The process logger: JSON lines, secrets redacted, `service` naming the process. */
/** JSON lines to standard output (or to `destination`: tests read what would be logged). */
export function createLogger(options: { level: string; service: string; destination?: NodeJS.WritableStream }): Logger {
  const settings = {
    level: options.level,
    base: { service: options.service },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  countDrainBody,
  DRAIN_PATH,
  verifyDrainToken,
  type DrainWindowStore,
  type IntegrationDirectory,
  type Logger,
  type Metrics,
} from '@pulsebridge/core';
import { readBody } from '../http/read-body.js';
import { decodeComponent, requestIdOf } from '../http/request-guard.js';

/** `Logplex-Frame-Id` as Logplex writes it (hex); anything else is not used to deduplicate. */
const FRAME_ID = /^[A-Za-z0-9._-]{1,128}$/;

export interface DrainIngress {
  /** Handles the request and returns true when it is for a drain URL; false leaves it to the app. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * Log drain ingress, `POST /drains/heroku/:integration/:app/:token`, on node:http like webhook
 * ingress. A body is read whole (1 MiB at most), every frame parsed and every router and
 * runtime line turned into signals, and the counts of the body added to its app's minute window
 * in Redis in one round trip; then `204`. A drain is lossy by nature: what is kept is the
 * counts, not the lines. A wrong token, an unknown integration and an app it does not monitor
 * all answer the same `404`, so a URL tells nothing about the others.
 */
export function createDrainIngress(deps: { integrations: IntegrationDirectory; windows: DrainWindowStore; secretKey: Buffer; metrics: Metrics; logger: Logger }): DrainIngress {
  const reply = (req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) => {
    const requestId = requestIdOf(req);
    deps.metrics.ingressRequests.inc({ endpoint: 'heroku_drain', outcome: code });
    deps.logger.warn({ requestId, method: req.method, status, code }, 'drain batch refused');
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'X-Request-Id': requestId, ...headers }).end(JSON.stringify({ error: { code, message, requestId } }));
  };

  // Tokens found right, per integration salt, app and token: a drain sends many batches, and two
  // HMACs per batch cost more than reading a small one. Only matches are kept, at most 50,000.
  const verified = new Set<string>();
  const tokenMatches = (integration: { id: string; drainSalt: string }, appName: string, token: string) => {
    const key = `${integration.id}\n${integration.drainSalt}\n${appName}\n${token}`;
    if (verified.has(key)) return true;
    if (!verifyDrainToken(deps.secretKey, integration, appName, token)) return false;
    if (verified.size >= 50_000) verified.clear();
    verified.add(key);
    return true;
  };

  const serve = async (req: IncomingMessage, res: ServerResponse, integrationId: string, appName: string, token: string) => {
    let integration: Awaited<ReturnType<IntegrationDirectory['get']>>;
    try {
      integration = await deps.integrations.get(integrationId);
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'drain batch not counted: PostgreSQL is unavailable');
      reply(req, res, 503, 'unavailable', 'the database is unavailable; Logplex retries the batch', { 'Retry-After': '5' });
      return;
    }
    if (integration === null || !integration.monitored.has(appName) || !tokenMatches(integration, appName, token)) {
      reply(req, res, 404, 'unknown_drain', 'no drain has this URL', { Connection: 'close' });
      return;
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/logplex-1') {
      reply(req, res, 415, 'unsupported_media_type', 'drain batches are Content-Type: application/logplex-1', { Connection: 'close' });
      return;
    }
    const read = await readBody(req);
    if (!read.ok) {
      if (read.tooLarge) reply(req, res, 413, 'payload_too_large', 'body is larger than 1 MiB', { Connection: 'close' });
      else reply(req, res, 400, 'bad_request', 'the request body could not be read');
      return;
    }
    const parsed = countDrainBody(read.body);
    const { fields, alarming } = parsed;
    const frameHeader = req.headers['logplex-frame-id'];
    const frameId = typeof frameHeader === 'string' && FRAME_ID.test(frameHeader) ? frameHeader : null;
    let counted: boolean;
    try {
      counted = await deps.windows.record({ integrationId: integration.id, appName, frameId, lines: parsed.lines, fields, alarming, atMs: Date.now() });
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'drain batch not counted: Redis is unavailable');
      reply(req, res, 503, 'unavailable', 'Redis is unavailable; Logplex retries the batch', { 'Retry-After': '5' });
      return;
    }
    if (counted) {
      deps.metrics.drainFrames.inc({ outcome: 'counted' }, parsed.lines);
      if (parsed.skipped > 0) deps.metrics.drainFrames.inc({ outcome: 'skipped' }, parsed.skipped);
      if (parsed.dropped > 0) deps.metrics.drainFrames.inc({ outcome: 'dropped' }, parsed.dropped);
    }
    deps.metrics.ingressRequests.inc({ endpoint: 'heroku_drain', outcome: counted ? 'accepted' : 'duplicate' });
    res.writeHead(204).end();
  };

  return {
    handle(req, res) {
      const match = DRAIN_PATH.exec(req.url ?? '');
      if (match === null) return false;
      if (req.method !== 'POST') {
        res.writeHead(405, { Allow: 'POST', 'Content-Type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ error: { code: 'method_not_allowed', message: 'drain batches are POSTed' } }));
        return true;
      }
      const [integrationId, appName, token] = [decodeComponent(match[1]!), decodeComponent(match[2]!), decodeComponent(match[3]!)];
      if (integrationId === null || appName === null || token === null) {
        reply(req, res, 400, 'bad_request', 'the URL has malformed percent-encoding or a NUL byte');
        return true;
      }
      serve(req, res, integrationId, appName, token).catch((err: unknown) => {
        deps.logger.error({ err }, 'drain ingress failed');
        if (!res.headersSent) reply(req, res, 500, 'internal', 'internal error');
      });
      return true;
    },
  };
}

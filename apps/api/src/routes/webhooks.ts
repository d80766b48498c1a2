import type { IncomingMessage, ServerResponse } from 'node:http';
import { loggableUrl, type IngestOutcome, type Ingestor, type Logger, type Metrics } from '@pulsebridge/core';
import { readBody } from '../http/read-body.js';
import { decodeComponent, requestIdOf } from '../http/request-guard.js';


const HEROKU_WEBHOOK = /^\/webhooks\/heroku\/([^/?#]+)\/?(?:\?.*)?$/;
const ADDON_NOTIFICATION = /^\/heroku\/resources\/([^/?#]+)\/events\/?(?:\?.*)?$/;

type ErrorBody = { error: { code: string; message: string } };
type Reply = { status: number; body: ErrorBody | { status: 'accepted' | 'duplicate'; eventId: string } };

const error = (status: number, code: string, message: string): Reply => ({ status, body: { error: { code, message } } });

/** Maps every ingest outcome to its HTTP answer; `acceptedStatus` is 202 for webhooks, 200 for add-on notifications. */
export function toReply(outcome: IngestOutcome, acceptedStatus: number): Reply {
  switch (outcome.kind) {
    case 'accepted':
      return { status: acceptedStatus, body: { status: 'accepted', eventId: outcome.eventId } };
    case 'duplicate':
      return { status: acceptedStatus, body: { status: 'duplicate', eventId: outcome.eventId } };
    case 'missing_signature':
      return error(401, 'missing_signature', 'header Heroku-Webhook-Hmac-SHA256 is missing');
    case 'bad_signature':
      return error(401, 'bad_signature', 'Heroku-Webhook-Hmac-SHA256 does not match the body');
    case 'unauthorized':
      return error(401, 'unauthorized', 'HTTP Basic credentials are missing or wrong');
    case 'unknown_integration':
      return error(404, 'unknown_integration', 'no integration has this id');
    case 'invalid_json':
      return error(400, 'invalid_json', outcome.message);
    case 'not_a_heroku_event':
      return error(400, 'not_a_heroku_event', outcome.message);
    case 'refused':
      return error(400, 'refused', outcome.message);
    case 'unavailable':
      return error(503, 'unavailable', outcome.message);
    default: {
      const unreachable: never = outcome;
      throw new Error(`unhandled ingest outcome ${JSON.stringify(unreachable)}`);
    }
  }
}

export interface WebhookIngress {
  /** Handles the request and returns true when it is a webhook delivery; false leaves it to the app. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * Webhook ingress, the hot path, served on node:http ahead of express: express's routing
 * costs more CPU per request than verifying, storing and enqueueing a delivery. Same error
 * shape and request ids as the rest of the API; every refusal is logged, while accepted
 * deliveries are counted in /metrics and kept in the archive instead of the access log.
 */
export function createWebhookIngress(deps: { ingestor: Ingestor; metrics: Metrics; logger: Logger }): WebhookIngress {
  const send = (req: IncomingMessage, res: ServerResponse, requestId: string, reply: Reply, extraHeaders: Record<string, string> = {}) => {
    const isError = 'error' in reply.body;
    const body = isError ? { error: { ...(reply.body as ErrorBody).error, requestId } } : reply.body;
    if (isError) {
      deps.logger.warn({ requestId, method: req.method, url: loggableUrl(req.url), status: reply.status, code: (reply.body as ErrorBody).error.code }, 'delivery refused');
    }
    const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8', 'X-Request-Id': requestId, ...extraHeaders };
    if (reply.status === 503) headers['Retry-After'] = '5';
    if (reply.status === 413) headers.Connection = 'close';
    res.writeHead(reply.status, headers).end(JSON.stringify(body));
  };

  const serve = async (
    req: IncomingMessage,
    res: ServerResponse,
    endpoint: 'heroku_webhook' | 'heroku_addon',
    ingest: (body: Buffer) => Promise<IngestOutcome>,
  ) => {
    const requestId = requestIdOf(req);
    try {
      const read = await readBody(req);
      if (!read.ok) {
        deps.metrics.ingressRequests.inc({ endpoint, outcome: read.tooLarge ? 'too_large' : 'unreadable' });
        send(req, res, requestId, read.tooLarge ? error(413, 'payload_too_large', 'body is larger than 1 MiB') : error(400, 'bad_request', 'the request body could not be read'));
        return;
      }
      const outcome = await ingest(read.body);
      deps.metrics.ingressRequests.inc({ endpoint, outcome: outcome.kind });
      const extra: Record<string, string> = outcome.kind === 'unauthorized' ? { 'WWW-Authenticate': 'Basic realm="pulsebridge add-on"' } : {};
      send(req, res, requestId, toReply(outcome, endpoint === 'heroku_webhook' ? 202 : 200), extra);
    } catch (err) {
      deps.logger.error({ err, requestId }, 'webhook ingress failed');
      if (!res.headersSent) send(req, res, requestId, error(500, 'internal', 'internal error'));
    }
  };

  return {
    handle(req, res) {
      const url = req.url ?? '';
      const webhook = HEROKU_WEBHOOK.exec(url);
      const addon = webhook ? null : ADDON_NOTIFICATION.exec(url);
      if (!webhook && !addon) return false;
      if (req.method !== 'POST') {
        res.writeHead(405, { Allow: 'POST', 'Content-Type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ error: { code: 'method_not_allowed', message: 'deliveries are POSTed' } }));
        return true;
      }
      const id = decodeComponent((webhook ?? addon)![1]!);
      if (id === null) {
        send(req, res, requestIdOf(req), error(400, 'bad_request', 'the id in the URL has malformed percent-encoding or a NUL byte'));
        return true;
      }
      if (webhook) {
        const integrationId = id;
        void serve(req, res, 'heroku_webhook', (rawBody) =>
          deps.ingestor.ingestHerokuWebhook({ integrationId, rawBody, signature: req.headers['heroku-webhook-hmac-sha256'] as string | undefined }),
        );
      } else {
        const resourceId = id;
        void serve(req, res, 'heroku_addon', (rawBody) =>
          deps.ingestor.ingestAddonNotification({ resourceId, rawBody, authorization: req.headers.authorization }),
        );
      }
      return true;
    },
  };
}

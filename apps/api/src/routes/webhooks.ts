import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { IngestOutcome, Ingestor, Metrics } from '@pulsebridge/core';

/** Heroku's documented limit is far below this; anything larger is refused before it is read. */
export const MAX_WEBHOOK_BODY = '1mb';

type Reply = { status: number; body?: { error: { code: string; message: string } } | { status: string; eventId: string } };

const error = (status: number, code: string, message: string): Reply => ({ status, body: { error: { code, message } } });

/** Maps every ingest outcome to its HTTP answer; `acceptedStatus` is 202 for webhooks, 200 for add-on notifications. */
function toReply(outcome: IngestOutcome, acceptedStatus: number): Reply {
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
    case 'unavailable':
      return error(503, 'unavailable', outcome.message);
    default: {
      const unreachable: never = outcome;
      throw new Error(`unhandled ingest outcome ${JSON.stringify(unreachable)}`);
    }
  }
}

function send(req: Request, res: Response, reply: Reply) {
  if (reply.status === 503) res.setHeader('Retry-After', '5');
  const body = reply.body && 'error' in reply.body ? { error: { ...reply.body.error, requestId: String(req.id ?? '') } } : reply.body;
  res.status(reply.status).json(body);
}

/** Raw bytes for signature checks; a body over the limit answers 413 in the same error shape. */
function rawBody(endpoint: string, metrics: Metrics) {
  const parser = express.raw({ type: () => true, limit: MAX_WEBHOOK_BODY });
  return (req: Request, res: Response, next: NextFunction) =>
    parser(req, res, (err?: unknown) => {
      if (err === undefined) return next();
      const type = (err as { type?: string }).type;
      if (type === 'entity.too.large') {
        metrics.ingressRequests.inc({ endpoint, outcome: 'too_large' });
        // The rest of the body is not read: close the connection instead of draining it.
        res.setHeader('Connection', 'close');
        return send(req, res, error(413, 'payload_too_large', `body is larger than ${MAX_WEBHOOK_BODY}`));
      }
      next(err);
    });
}

/** Webhook ingress: thin adapters from HTTP to the ingestor. No bearer token here. */
export function registerWebhookRoutes(router: Router, deps: { ingestor: Ingestor; metrics: Metrics }) {
  router.post('/webhooks/heroku/:integrationId', rawBody('heroku_webhook', deps.metrics), async (req: Request, res: Response) => {
    const outcome = await deps.ingestor.ingestHerokuWebhook({
      integrationId: String(req.params.integrationId),
      rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      signature: req.header('heroku-webhook-hmac-sha256'),
    });
    deps.metrics.ingressRequests.inc({ endpoint: 'heroku_webhook', outcome: outcome.kind });
    send(req, res, toReply(outcome, 202));
  });

  router.post('/heroku/resources/:resourceId/events', rawBody('heroku_addon', deps.metrics), async (req: Request, res: Response) => {
    const outcome = await deps.ingestor.ingestAddonNotification({
      resourceId: String(req.params.resourceId),
      rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      authorization: req.header('authorization'),
    });
    deps.metrics.ingressRequests.inc({ endpoint: 'heroku_addon', outcome: outcome.kind });
    if (outcome.kind === 'unauthorized') res.setHeader('WWW-Authenticate', 'Basic realm="pulsebridge add-on"');
    send(req, res, toReply(outcome, 200));
  });
}

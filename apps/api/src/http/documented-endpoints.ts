import { z } from 'zod';
import { ErrorSchema, type RouteTable } from './route-table.js';

const Accepted = z.object({ status: z.enum(['accepted', 'duplicate']), eventId: z.string() });
const HerokuEvent = z
  .object({
    id: z.string(),
    resource: z.string(),
    action: z.string(),
    data: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    webhook_metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .loose()
  .describe('A Heroku App Webhook delivery, as Heroku sends it');
const AddonNotification = z.object({ heroku_id: z.string(), event: z.enum(['deploy', 'attach', 'detach']), detail: z.record(z.string(), z.unknown()).optional() }).loose();

/**
 * The endpoints served outside the REST route table, described in the OpenAPI document with
 * the authentication each uses: Heroku's webhook ingress and legacy add-on notifications, Slack
 * interactions, log drains, and health and metrics. Their handlers are in routes/webhooks.ts, routes/drains.ts,
 * routes/slack-interactions.ts and routes/health.ts.
 */
export function describeOtherEndpoints(routes: RouteTable): void {
  routes.describe({
    method: 'post',
    path: '/webhooks/heroku/{integrationId}',
    summary: 'Receive a Heroku App Webhook delivery',
    description: 'Verified against Heroku-Webhook-Hmac-SHA256 in constant time; 202 only once the event is stored durably. A repeat of an accepted event id answers 202 again.',
    tag: 'ingress',
    security: [{ herokuSignature: [] }],
    params: z.object({ integrationId: z.uuid() }),
    body: { contentType: 'application/json', schema: HerokuEvent },
    responses: {
      202: { description: 'stored (or already stored)', schema: Accepted },
      400: { description: 'not JSON, not a Heroku event, or data PostgreSQL refuses', schema: ErrorSchema },
      401: { description: 'signature missing or wrong', schema: ErrorSchema },
      404: { description: 'unknown integration', schema: ErrorSchema },
      413: { description: 'body over 1 MiB', schema: ErrorSchema },
      503: { description: 'PostgreSQL or Redis unreachable: Heroku retries', schema: ErrorSchema },
    },
  });
  routes.describe({
    method: 'post',
    path: '/heroku/resources/{resourceId}/events',
    summary: 'Receive a legacy add-on notification (deploy, attach, detach)',
    tag: 'ingress',
    security: [{ addonBasic: [] }],
    params: z.object({ resourceId: z.string() }),
    body: { contentType: 'application/json', schema: AddonNotification },
    responses: {
      200: { description: 'stored (or already stored)', schema: Accepted },
      400: { description: 'not JSON or not a notification', schema: ErrorSchema },
      401: { description: 'credentials missing or wrong, or ADDON_ID and ADDON_PASSWORD not set', schema: ErrorSchema },
      413: { description: 'body over 1 MiB', schema: ErrorSchema },
      503: { description: 'PostgreSQL or Redis unreachable', schema: ErrorSchema },
    },
  });
  routes.describe({
    method: 'post',
    path: '/drains/heroku/{integrationId}/{appName}/{token}',
    summary: 'Receive a batch of Heroku log drain lines (one URL per monitored app)',
    description:
      'Octet-counted syslog frames as Logplex sends them. Router and runtime error codes, crashes and 5xx answers are counted per app, process type and minute; drain rules (config/drains.yaml) turn windows above threshold into incidents. A batch with a Logplex-Frame-Id already counted is answered 204 and not counted again. The URL is the secret: take it from the integration\'s drainUrls.',
    tag: 'ingress',
    security: [],
    params: z.object({ integrationId: z.uuid(), appName: z.string(), token: z.string() }),
    headers: z.object({ 'Logplex-Frame-Id': z.string().optional(), 'Logplex-Msg-Count': z.string().optional() }),
    body: { contentType: 'application/logplex-1', schema: z.string().describe('<byte count> <syslog message>, repeated') },
    responses: {
      204: { description: 'counted (or a retried batch already counted)' },
      400: { description: 'the URL has malformed percent-encoding, or the body could not be read', schema: ErrorSchema },
      404: { description: 'no drain has this URL (unknown integration, app not monitored, or wrong token)', schema: ErrorSchema },
      413: { description: 'body over 1 MiB', schema: ErrorSchema },
      415: { description: 'not Content-Type: application/logplex-1', schema: ErrorSchema },
      503: { description: 'PostgreSQL or Redis unreachable: Logplex retries', schema: ErrorSchema },
    },
  });
  routes.describe({
    method: 'post',
    path: '/slack/interactions',
    summary: 'Acknowledge and Resolve buttons on Slack incident messages',
    description: 'Each signed request is acted on once: a replay gets 409; a Slack retry (X-Slack-Retry-Num) gets 200, or 503 while the first request is still being acted on.',
    tag: 'slack',
    security: [{ slackSignature: [] }],
    headers: z.object({ 'X-Slack-Request-Timestamp': z.string(), 'X-Slack-Retry-Num': z.string().optional() }),
    body: { contentType: 'application/x-www-form-urlencoded', schema: z.object({ payload: z.string().describe('JSON of a block_actions interaction') }) },
    responses: {
      200: { description: 'taken (the message updates itself)' },
      400: { description: 'not an interaction payload', schema: ErrorSchema },
      401: { description: 'signature missing, wrong or over five minutes old', schema: ErrorSchema },
      404: { description: 'SLACK_SIGNING_SECRET is not set', schema: ErrorSchema },
      409: { description: 'this signed request was received before', schema: ErrorSchema },
      503: { description: 'Redis unreachable, or the first request is still being acted on', schema: ErrorSchema },
    },
  });
  routes.describe({
    method: 'get',
    path: '/healthz',
    summary: 'The process is up',
    tag: 'health',
    security: [],
    responses: { 200: { description: 'up', schema: z.object({ status: z.literal('ok') }) } },
  });
  const Readiness = z.object({ status: z.enum(['ready', 'unavailable']), checks: z.object({ postgres: z.string(), redis: z.string() }) });
  routes.describe({
    method: 'get',
    path: '/readyz',
    summary: 'PostgreSQL and Redis answer',
    tag: 'health',
    security: [],
    responses: { 200: { description: 'ready', schema: Readiness }, 503: { description: 'PostgreSQL or Redis does not answer', schema: Readiness } },
  });
  routes.describe({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    description: 'Open unless METRICS_TOKEN is set; then only with it (docs/operations.md lists the metrics).',
    tag: 'health',
    security: [{}, { metricsToken: [] }],
    responses: {
      200: { description: 'Prometheus text exposition', contentType: 'text/plain', schema: z.string() },
      401: { description: 'METRICS_TOKEN is set and was not sent', schema: ErrorSchema },
      503: { description: 'Redis unreachable (queue depths need it)', schema: ErrorSchema },
    },
  });
}

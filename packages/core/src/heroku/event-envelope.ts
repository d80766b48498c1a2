import { sha256Hex } from '../crypto.js';

/** What the archive records about a delivery besides its payload. */
export interface EventEnvelope {
  eventId: string;
  deliveryId: string | null;
  source: 'heroku_webhook' | 'heroku_addon';
  /** `build`, `release`, `dyno`, ...; `deploy`, `attach`, `detach` for legacy notifications. */
  resource: string;
  /** The webhook include (`api:build`, `dyno`) or `addon:<event>` for legacy notifications. */
  entity: string;
  action: string | null;
  appName: string | null;
  occurredAt: Date | null;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

const MAX_EVENT_ID_LENGTH = 255;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function date(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? null : parsed;
}

/**
 * Reads the envelope of a Heroku App Webhook body. Handles `api:*` events and `dyno`
 * lifecycle events, with or without `webhook_metadata` (some real dyno events have none).
 */
export function parseHerokuWebhookEvent(body: unknown): ParseResult<EventEnvelope> {
  if (!isObject(body)) return { ok: false, message: 'body is not a JSON object' };
  const eventId = str(body.id);
  if (eventId === null) return { ok: false, message: 'body has no event `id`' };
  if (eventId.length > MAX_EVENT_ID_LENGTH) return { ok: false, message: `event id is longer than ${MAX_EVENT_ID_LENGTH} characters` };
  const data = body.data;
  if (!isObject(data)) return { ok: false, message: 'body has no `data` object' };

  const metadata = isObject(body.webhook_metadata) ? body.webhook_metadata : {};
  const include = isObject(metadata.event) ? str(metadata.event.include) : null;
  const resourceField = str(body.resource);
  const looksLikeDyno = typeof data.state === 'string' && typeof data.name === 'string';
  const entity = include ?? (resourceField !== null ? `api:${resourceField}` : looksLikeDyno ? 'dyno' : null);
  if (entity === null) return { ok: false, message: 'body names no resource (`resource` or `webhook_metadata.event.include`)' };
  const resource = resourceField ?? entity.replace(/^api:/, '');

  const app = isObject(data.app) ? str(data.app.name) : null;
  return {
    ok: true,
    value: {
      eventId,
      deliveryId: isObject(metadata.delivery) ? str(metadata.delivery.id) : null,
      source: 'heroku_webhook',
      resource,
      entity,
      action: str(body.action),
      appName: app ?? (resource === 'app' ? str(data.name) : null),
      occurredAt: date(body.updated_at) ?? date(body.created_at) ?? date(data.updated_at) ?? date(body.published_at),
    },
  };
}

export const LEGACY_EVENTS = ['deploy', 'attach', 'detach'] as const;
export type LegacyEventName = (typeof LEGACY_EVENTS)[number];

/**
 * Reads a legacy add-on partner notification `{heroku_id, event, detail}`. It carries no id,
 * so its idempotency key is a digest of the resource id and the exact body: Heroku's retries
 * of one notification share it, while a new deploy or attachment differs in its detail.
 */
export function parseAddonNotification(resourceId: string, rawBody: Buffer, body: unknown): ParseResult<EventEnvelope> {
  if (!isObject(body)) return { ok: false, message: 'body is not a JSON object' };
  const event = str(body.event);
  if (event === null || !(LEGACY_EVENTS as readonly string[]).includes(event)) {
    return { ok: false, message: `\`event\` must be one of ${LEGACY_EVENTS.join(', ')}` };
  }
  const detail = isObject(body.detail) ? body.detail : null;
  if (detail === null) return { ok: false, message: 'body has no `detail` object' };
  const appName = event === 'deploy' ? str(detail.app) : isObject(detail.app) ? str(detail.app.name) : null;
  return {
    ok: true,
    value: {
      eventId: `addon-${sha256Hex(Buffer.concat([Buffer.from(`${resourceId}\n`), rawBody]))}`,
      deliveryId: null,
      source: 'heroku_addon',
      resource: event,
      entity: `addon:${event}`,
      action: null,
      appName,
      occurredAt: null,
    },
  };
}

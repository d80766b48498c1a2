import { sha256Hex } from '../crypto.js';

/** What the archive records about a delivery besides its payload. */
export interface EventEnvelope {
  eventId: string;
  deliveryId: string | null;
  source: 'heroku_webhook' | 'heroku_addon' | 'heroku_drain';
  /** `build`, `release`, `dyno`, ...; `deploy`, `attach`, `detach` for legacy notifications; `log` for drain signals. */
  resource: string;
  /** The webhook include (`api:build`, `dyno`), `addon:<event>` for legacy notifications, `log:<signal>` for drain signals. */
  entity: string;
  action: string | null;
  appName: string | null;
  occurredAt: Date | null;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

const MAX_EVENT_ID_LENGTH = 255;
/** Longest `resource`, include and app name: they are indexed, and Heroku's are short words. */
const MAX_NAME_LENGTH = 100;
/** Heroku's payloads nest a few levels; PostgreSQL refuses JSON thousands of levels deep. */
export const MAX_JSON_DEPTH = 64;

/** Event times outside this range are nonsense (a year 0 or 10000): the receive time stands in. */
const EARLIEST_EVENT_TIME = Date.UTC(2000, 0, 1);
const LATEST_EVENT_TIME_AHEAD_MS = 24 * 3600 * 1000;

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
 * The event's time when it is within a sane range (2000 to a day after `receivedAt`), else
 * `receivedAt`: every stored time can then be read back and compared. The payload keeps the
 * original.
 */
export function saneEventTime(time: Date | null, receivedAt: Date): Date | null {
  if (time === null) return null;
  const ms = time.getTime();
  return ms >= EARLIEST_EVENT_TIME && ms <= receivedAt.getTime() + LATEST_EVENT_TIME_AHEAD_MS ? time : receivedAt;
}

/**
 * Why PostgreSQL would refuse to store this JSON, found without recursion (a body may nest
 * deeper than the JS stack): nesting deeper than MAX_JSON_DEPTH, or a NUL character, which
 * jsonb cannot hold. Null when it is fine.
 */
export function unstorableJson(value: unknown): string | null {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item === 'string') {
      if (item.includes('\u0000')) return 'body contains a NUL character (\\u0000), which cannot be stored';
    } else if (typeof item === 'object' && item !== null) {
      if (depth >= MAX_JSON_DEPTH) return `body nests deeper than ${MAX_JSON_DEPTH} levels`;
      if (Array.isArray(item)) {
        for (const element of item) stack.push([element, depth + 1]);
      } else {
        for (const [key, element] of Object.entries(item)) {
          if (key.includes('\u0000')) return 'body contains a NUL character (\\u0000), which cannot be stored';
          stack.push([element, depth + 1]);
        }
      }
    }
  }
  return null;
}

const tooLong = (field: string, value: string | null): string | null =>
  value !== null && value.length > MAX_NAME_LENGTH ? `${field} is longer than ${MAX_NAME_LENGTH} characters` : null;

/**
 * Reads the envelope of a Heroku App Webhook body. Handles `api:*` events and `dyno`
 * lifecycle events, with or without `webhook_metadata` (some real dyno events have none).
 */
export function parseHerokuWebhookEvent(body: unknown, receivedAt: Date = new Date()): ParseResult<EventEnvelope> {
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
  const appName = app ?? (resource === 'app' ? str(data.name) : null);
  const overlong = tooLong('`resource`', resourceField) ?? tooLong('`webhook_metadata.event.include`', include) ?? tooLong('`action`', str(body.action)) ?? tooLong('the app name', appName);
  if (overlong !== null) return { ok: false, message: overlong };
  return {
    ok: true,
    value: {
      eventId,
      deliveryId: isObject(metadata.delivery) ? str(metadata.delivery.id) : null,
      source: 'heroku_webhook',
      resource,
      entity,
      action: str(body.action),
      appName,
      occurredAt: saneEventTime(date(body.updated_at) ?? date(body.created_at) ?? date(data.updated_at) ?? date(body.published_at), receivedAt),
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
  const overlong = tooLong('the app name', appName);
  if (overlong !== null) return { ok: false, message: overlong };
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

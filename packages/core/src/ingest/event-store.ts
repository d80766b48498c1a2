import type pg from 'pg';
import type { EventEnvelope } from '../heroku/event-envelope.js';

export interface NewEvent extends EventEnvelope {
  integrationId: string | null;
  addonResourceId: string | null;
  /** The payload's JSON text exactly as received (stored as jsonb). */
  payloadJson: string;
}

export interface StoredEvent {
  eventRowId: string;
  eventId: string;
  /** False when the event id was already stored: a redelivery. */
  inserted: boolean;
}

const COLUMNS = [
  'event_id',
  'delivery_id',
  'source',
  'integration_id',
  'addon_resource_id',
  'resource',
  'entity',
  'action',
  'app_name',
  'occurred_at',
  'payload',
  'delivery_count',
] as const;

const CASTS: Partial<Record<(typeof COLUMNS)[number], string>> = {
  source: '::"EventSource"',
  integration_id: '::uuid',
  occurred_at: '::timestamptz',
  payload: '::jsonb',
  delivery_count: '::int',
};

/** Batches of up to this many rows insert through a named (prepared) statement. */
const PREPARED_BATCH_SIZES = 8;

/** The unique indexes that deduplicate deliveries: a conflict on them is a redelivery, never the data's fault. */
const DEDUP_INDEXES = new Set(['events_event_id_integration_id_key', 'events_addon_event_id_key']);

/**
 * Whether PostgreSQL refused the data itself, so retrying it can never succeed: SQLSTATE class
 * 22 (data exceptions: `\u0000` in JSON text, a time out of range), 23 (integrity constraints,
 * other than the dedup indexes) and 54 (program limits: JSON nested too deep, an index row too
 * large). Anything else (connection lost, shutting down, out of resources) is the database's.
 */
export function isRefusedData(error: unknown): boolean {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  if (typeof code !== 'string') return false;
  if (code.startsWith('23')) return !(code === '23505' && typeof constraint === 'string' && DEDUP_INDEXES.has(constraint));
  return code.startsWith('22') || code.startsWith('54');
}

/** PostgreSQL refused this delivery's data: refusing the delivery is the answer, not retrying it. */
export class BadEventDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadEventDataError';
  }
}

type Row = { event: NewEvent; count: number };

/** Deliveries are the same event when they share the event id and the integration (none for legacy notifications). */
const dedupKey = (event: { integrationId: string | null; eventId: string }) => `${event.integrationId?.toLowerCase() ?? ''}\n${event.eventId}`;

/**
 * Stores a batch of deliveries and says, for each, whether it was new. Event ids are unique per
 * integration: redeliveries of a stored (integration, event id) only bump its delivery count.
 * Rows are written in (event id, integration) order so concurrent batches, and the apply of
 * stored events (`pulsebridge_apply_events`), lock rows in the same order and cannot deadlock.
 * When PostgreSQL refuses a row's data, the batch's rows are retried one by one and only that
 * row fails; any other error fails the batch (the database is unavailable).
 */
export async function storeEvents(pool: pg.Pool, events: NewEvent[]): Promise<(StoredEvent | BadEventDataError)[]> {
  const counts = new Map<string, Row>();
  for (const event of events) {
    const key = dedupKey(event);
    const seen = counts.get(key);
    if (seen) seen.count += 1;
    else counts.set(key, { event, count: 1 });
  }
  const unique = [...counts.values()].sort((a, b) => compareRows(a.event, b.event));

  // Webhook deliveries and legacy notifications each have their own dedup index, so their own statement.
  const byKey = new Map<string, StoredEvent | BadEventDataError>();
  for (const kind of ['webhook', 'addon'] as const) {
    const group = unique.filter((row) => (row.event.source === 'heroku_addon') === (kind === 'addon'));
    if (group.length > 0) for (const [key, value] of await storeGroup(pool, group, kind)) byKey.set(key, value);
  }

  // The first submission of an event in this batch is the insert; any others are redeliveries.
  const firstSeen = new Set<string>();
  return events.map((event) => {
    const key = dedupKey(event);
    const stored = byKey.get(key);
    if (stored === undefined) throw new Error(`event ${event.eventId} missing from insert result`);
    if (stored instanceof BadEventDataError) return stored;
    const first = !firstSeen.has(key);
    firstSeen.add(key);
    return { ...stored, inserted: stored.inserted && first };
  });
}

/** Event id, then integration (uuids compare as lower-case hex, none last): the order `pulsebridge_apply_events` locks rows in. */
function compareRows(a: NewEvent, b: NewEvent): number {
  if (a.eventId !== b.eventId) return a.eventId < b.eventId ? -1 : 1;
  const x = a.integrationId?.toLowerCase() ?? null;
  const y = b.integrationId?.toLowerCase() ?? null;
  if (x === y) return 0;
  if (x === null) return 1;
  if (y === null) return -1;
  return x < y ? -1 : 1;
}

async function storeGroup(pool: pg.Pool, rows: Row[], kind: keyof typeof CONFLICT_TARGETS): Promise<Map<string, StoredEvent | BadEventDataError>> {
  try {
    return await insertGroup(pool, rows, kind);
  } catch (error) {
    if (!isRefusedData(error)) throw error;
    if (rows.length === 1) return new Map([[dedupKey(rows[0]!.event), new BadEventDataError((error as Error).message)]]);
  }
  const results = new Map<string, StoredEvent | BadEventDataError>();
  for (const row of rows) {
    try {
      for (const [key, value] of await insertGroup(pool, [row], kind)) results.set(key, value);
    } catch (rowError) {
      if (!isRefusedData(rowError)) throw rowError;
      results.set(dedupKey(row.event), new BadEventDataError((rowError as Error).message));
    }
  }
  return results;
}

const CONFLICT_TARGETS = { webhook: '(event_id, integration_id)', addon: "(event_id) WHERE source = 'heroku_addon'" } as const;

async function insertGroup(pool: pg.Pool, rows: Row[], kind: keyof typeof CONFLICT_TARGETS): Promise<Map<string, StoredEvent>> {
  const values: unknown[] = [];
  const tuples = rows.map(({ event, count }) => {
    const row = [
      event.eventId,
      event.deliveryId,
      event.source,
      event.integrationId,
      event.addonResourceId,
      event.resource,
      event.entity,
      event.action,
      event.appName,
      event.occurredAt,
      event.payloadJson,
      count,
    ];
    const placeholders = row.map((value, index) => {
      values.push(value);
      return `$${values.length}${CASTS[COLUMNS[index] as (typeof COLUMNS)[number]] ?? ''}`;
    });
    return `(${placeholders.join(', ')})`;
  });
  const result = await pool.query<{ id: string; event_id: string; integration_id: string | null; inserted: boolean }>({
    // Small batches, the usual case, reuse a prepared statement per size: parsing and planning
    // the insert cost more than running it. Larger ones are rare and amortise their own.
    name: rows.length <= PREPARED_BATCH_SIZES ? `pb-store-events-${kind}-${rows.length}` : undefined,
    text: `INSERT INTO events (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}
     ON CONFLICT ${CONFLICT_TARGETS[kind]} DO UPDATE
       SET delivery_count = events.delivery_count + EXCLUDED.delivery_count, last_delivered_at = now()
     RETURNING id, event_id, integration_id, (xmax = 0) AS inserted`,
    values,
  });
  return new Map(
    result.rows.map((row) => [dedupKey({ integrationId: row.integration_id, eventId: row.event_id }), { eventRowId: row.id, eventId: row.event_id, inserted: row.inserted }]),
  );
}

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

/** SQLSTATE class 22: the data itself is bad (e.g. `\u0000` in JSON text), not the database. */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('22');
}

export class BadEventDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadEventDataError';
  }
}

/**
 * Stores a batch of deliveries in one statement (one commit) and says, for each, whether it
 * was new. Redeliveries of a stored event id only bump its delivery count. Rows are written
 * in event-id order so concurrent batches lock rows in the same order and cannot deadlock.
 * When a row's data is rejected, the others are retried one by one and only that row fails.
 */
export async function storeEvents(pool: pg.Pool, events: NewEvent[]): Promise<(StoredEvent | BadEventDataError)[]> {
  const counts = new Map<string, { event: NewEvent; count: number }>();
  for (const event of events) {
    const seen = counts.get(event.eventId);
    if (seen) seen.count += 1;
    else counts.set(event.eventId, { event, count: 1 });
  }
  const unique = [...counts.values()].sort((a, b) => (a.event.eventId < b.event.eventId ? -1 : 1));

  let byEventId: Map<string, StoredEvent | BadEventDataError>;
  try {
    byEventId = await insertRows(pool, unique);
  } catch (error) {
    if (!isDataError(error) || unique.length === 1) {
      if (isDataError(error)) return events.map(() => new BadEventDataError((error as Error).message));
      throw error;
    }
    byEventId = new Map();
    for (const row of unique) {
      try {
        for (const [key, value] of await insertRows(pool, [row])) byEventId.set(key, value);
      } catch (rowError) {
        if (!isDataError(rowError)) throw rowError;
        byEventId.set(row.event.eventId, new BadEventDataError((rowError as Error).message));
      }
    }
  }

  // The first submission of an id in this batch is the insert; any others are redeliveries.
  const firstSeen = new Set<string>();
  return events.map((event) => {
    const stored = byEventId.get(event.eventId);
    if (stored === undefined) throw new Error(`event ${event.eventId} missing from insert result`);
    if (stored instanceof BadEventDataError) return stored;
    const first = !firstSeen.has(event.eventId);
    firstSeen.add(event.eventId);
    return { ...stored, inserted: stored.inserted && first };
  });
}

async function insertRows(pool: pg.Pool, rows: { event: NewEvent; count: number }[]): Promise<Map<string, StoredEvent>> {
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
  const result = await pool.query<{ id: string; event_id: string; inserted: boolean }>({
    // Small batches, the usual case, reuse a prepared statement per size: parsing and planning
    // the insert cost more than running it. Larger ones are rare and amortise their own.
    name: rows.length <= PREPARED_BATCH_SIZES ? `pb-store-events-${rows.length}` : undefined,
    text: `INSERT INTO events (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}
     ON CONFLICT (event_id) DO UPDATE
       SET delivery_count = events.delivery_count + EXCLUDED.delivery_count, last_delivered_at = now()
     RETURNING id, event_id, (xmax = 0) AS inserted`,
    values,
  });
  return new Map(result.rows.map((row) => [row.event_id, { eventRowId: row.id, eventId: row.event_id, inserted: row.inserted }]));
}

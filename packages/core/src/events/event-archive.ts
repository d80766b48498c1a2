import type pg from 'pg';
import { z } from 'zod';
import { newestFirst, toPage } from '../pagination.js';
import type { Db } from '../db/client.js';
import { AppError } from '../errors.js';
import type { Queues } from '../queues/queues.js';
import type { EventStatus } from '../generated/prisma/enums.js';

export type { EventStatus };

const SUMMARY_SELECT = {
  id: true,
  eventId: true,
  deliveryId: true,
  source: true,
  integrationId: true,
  addonResourceId: true,
  resource: true,
  entity: true,
  action: true,
  appName: true,
  occurredAt: true,
  status: true,
  error: true,
  deliveryCount: true,
  receivedAt: true,
  lastDeliveredAt: true,
  processedAt: true,
} as const;

export const EVENT_STATUSES = ['received', 'processed', 'skipped', 'failed'] as const;

/** What archive lists filter by (REST: `?status=&resource=&integrationId=&appName=`). */
export const EventFilterSchema = z.object({
  status: z.enum(EVENT_STATUSES).optional(),
  resource: z.string().min(1).max(100).optional(),
  integrationId: z.uuid().optional(),
  appName: z.string().min(1).max(100).optional(),
});

export interface EventFilter {
  status?: EventStatus | undefined;
  resource?: string | undefined;
  integrationId?: string | undefined;
  appName?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** Archive listing, newest first, keyset-paginated on (received_at, id). */
export async function listEvents(db: Db, filter: EventFilter) {
  const page = newestFirst('receivedAt', filter);
  const rows = await db.event.findMany({
    select: SUMMARY_SELECT,
    where: { status: filter.status, resource: filter.resource, integrationId: filter.integrationId, appName: filter.appName, ...page.where },
    orderBy: page.orderBy,
    take: page.take,
  });
  return toPage(rows, filter.limit, (row) => ({ at: row.receivedAt, id: row.id }));
}

export async function getEvent(db: Db, id: string) {
  return db.event.findUnique({ select: { ...SUMMARY_SELECT, payload: true }, where: { id } });
}

/** What an integration received: its last event, and how many of the last `sinceMs` ended in each status. */
export async function integrationEventStats(db: Db, integrationId: string, sinceMs = 24 * 3600 * 1000): Promise<{ lastEventAt: Date | null; counts: Record<(typeof EVENT_STATUSES)[number], number> }> {
  const since = new Date(Date.now() - sinceMs);
  const [last, byStatus] = await Promise.all([
    db.event.findFirst({ where: { integrationId }, orderBy: { receivedAt: 'desc' }, select: { receivedAt: true } }),
    db.event.groupBy({ by: ['status'], where: { integrationId, receivedAt: { gte: since } }, _count: { _all: true } }),
  ]);
  const countOf = (status: string) => byStatus.find((row) => row.status === status)?._count._all ?? 0;
  return { lastEventAt: last?.receivedAt ?? null, counts: { received: countOf('received'), processed: countOf('processed'), skipped: countOf('skipped'), failed: countOf('failed') } };
}

/** Queues an archived event to be processed again under today's rules; throws not_found or unavailable. */
export async function replayEvent(db: Db, queues: Pick<Queues, 'enqueueReplay'>, id: string): Promise<{ id: string }> {
  const row = await db.event.findUnique({ where: { id }, select: { id: true, eventId: true } });
  if (!row) throw new AppError('not_found', 'no event has this id');
  try {
    await queues.enqueueReplay({ eventId: row.eventId, eventRowId: row.id });
  } catch {
    throw new AppError('unavailable', 'the job queue (Redis) is unavailable; try again');
  }
  return { id: row.id };
}

/** Final status of a processed event; `error` explains a skip or a failure. */
/**
 * Marks events `failed` with the reason, those still `received` only: an event that an earlier
 * attempt applied stays as it is.
 */
export async function markEventsFailed(pool: pg.Pool, eventRowIds: string[], error: string): Promise<void> {
  await pool.query("UPDATE events SET status = 'failed', error = $2, processed_at = now() WHERE id = ANY($1::uuid[]) AND status = 'received'", [eventRowIds, error]);
}

export interface ReceivedEvent {
  eventRowId: string;
  eventId: string;
}

/** Events still `received` longer than the grace period: candidates for re-enqueueing. */
export async function findStaleReceivedEvents(pool: pg.Pool, options: { graceMs: number; limit: number }): Promise<ReceivedEvent[]> {
  const { rows } = await pool.query<{ id: string; event_id: string }>(
    `SELECT id, event_id FROM events
      WHERE status = 'received' AND received_at < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY received_at LIMIT $2`,
    [options.graceMs, options.limit],
  );
  return rows.map((row) => ({ eventRowId: row.id, eventId: row.event_id }));
}

import type pg from 'pg';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { AppError } from '../errors.js';
import { NEXT_UPDATED_AT, withIncidentKeyLock, type ChangedIncident } from '../incidents/incident-actions.js';
import { HerokuAppNameSchema } from '../services/service-store.js';

/**
 * Maintenance windows: while one covers an app or a service, incidents that open there are
 * suppressed (recorded, grouped, shown with the window, never posted or escalated; decided when
 * the incident opens, in `pulsebridge_apply_event`). When it ends, its still-open suppressed
 * incidents are resolved or raised again (posted and escalated then), as the window says, each
 * with a timeline entry.
 */

const MAX_WINDOW_DAYS = 31;

export const MaintenanceWindowSchema = z
  .object({
    appNames: z.array(HerokuAppNameSchema).max(200).default([]),
    serviceIds: z.array(z.uuid({ error: 'must be a UUID' })).max(200).default([]),
    startsAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time' }).optional(),
    endsAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time' }).optional(),
    /** Instead of startsAt and endsAt: from now, for this many minutes (the UI's and Slack's "for the next N minutes"). */
    minutes: z.number().int().min(1).max(MAX_WINDOW_DAYS * 24 * 60).optional(),
    onEnd: z.enum(['resolve', 'reraise']),
  })
  .strict();
export type MaintenanceWindowInput = z.output<typeof MaintenanceWindowSchema>;

const WINDOW_SELECT = { id: true, appNames: true, serviceIds: true, startsAt: true, endsAt: true, onEnd: true, createdBy: true, createdAt: true, endedAt: true } as const;

/**
 * Creates a window: over at least one app or service, ending after it starts and after now,
 * at most a month long, and overlapping no other window over the same app or service (the
 * error names it).
 */
export async function createMaintenanceWindow(db: Db, input: MaintenanceWindowInput, createdBy: string) {
  const now = Date.now();
  const startsAt = input.minutes !== undefined ? new Date(now) : input.startsAt !== undefined ? new Date(input.startsAt) : undefined;
  const endsAt = input.minutes !== undefined ? new Date(now + input.minutes * 60_000) : input.endsAt !== undefined ? new Date(input.endsAt) : undefined;
  if (input.minutes !== undefined && (input.startsAt !== undefined || input.endsAt !== undefined)) throw new AppError('validation_failed', 'give minutes, or startsAt and endsAt, not both');
  if (startsAt === undefined || endsAt === undefined) throw new AppError('validation_failed', 'give startsAt and endsAt, or minutes');
  if (endsAt.getTime() <= startsAt.getTime()) throw new AppError('validation_failed', 'endsAt must be after startsAt');
  if (endsAt.getTime() <= now) throw new AppError('validation_failed', 'endsAt is in the past');
  if (endsAt.getTime() - startsAt.getTime() > MAX_WINDOW_DAYS * 86_400_000) throw new AppError('validation_failed', `a window lasts at most ${MAX_WINDOW_DAYS} days`);
  const appNames = [...new Set(input.appNames)];
  const serviceIds = [...new Set(input.serviceIds)];
  if (appNames.length + serviceIds.length === 0) throw new AppError('validation_failed', 'give at least one app name or service id');
  const known = await db.service.findMany({ where: { id: { in: serviceIds } }, select: { id: true } });
  const missing = serviceIds.filter((id) => !known.some((service) => service.id === id));
  if (missing.length > 0) throw new AppError('validation_failed', `no service has the id ${missing[0]}`);
  // The overlap check and the insert under one lock: two requests at once cannot both pass it.
  return db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(hashtextextended('maintenance-windows', 0))) AS l`;
    return createChecked(tx, { appNames, serviceIds, startsAt, endsAt, onEnd: input.onEnd, createdBy });
  });
}

async function createChecked(db: Db, window: { appNames: string[]; serviceIds: string[]; startsAt: Date; endsAt: Date; onEnd: 'resolve' | 'reraise'; createdBy: string }) {
  const { appNames, serviceIds, startsAt, endsAt } = window;
  const overlapping = await db.maintenanceWindow.findFirst({
    where: {
      endedAt: null,
      startsAt: { lt: endsAt },
      endsAt: { gt: startsAt },
      OR: [...(appNames.length > 0 ? [{ appNames: { hasSome: appNames } }] : []), ...(serviceIds.length > 0 ? [{ serviceIds: { hasSome: serviceIds } }] : [])],
    },
    select: WINDOW_SELECT,
  });
  if (overlapping) {
    throw new AppError('conflict', `it overlaps maintenance window ${overlapping.id} (${overlapping.startsAt.toISOString()} to ${overlapping.endsAt.toISOString()}) over the same app or service; change or delete that one`);
  }
  return db.maintenanceWindow.create({ data: window, select: WINDOW_SELECT });
}

/** Windows not yet ended, soonest end first, and the last day's ended ones. */
export async function listMaintenanceWindows(db: Db) {
  return db.maintenanceWindow.findMany({
    where: { OR: [{ endedAt: null }, { endedAt: { gt: new Date(Date.now() - 86_400_000) } }] },
    orderBy: [{ endsAt: 'asc' }, { id: 'asc' }],
    select: WINDOW_SELECT,
    take: 500,
  });
}

/** The windows not yet ended over a service or one of its apps, soonest end first. */
export async function openMaintenanceWindowsOf(db: Db, service: { id: string; herokuAppNames: string[] }) {
  return db.maintenanceWindow.findMany({
    where: { endedAt: null, OR: [{ serviceIds: { has: service.id } }, ...(service.herokuAppNames.length > 0 ? [{ appNames: { hasSome: service.herokuAppNames } }] : [])] },
    orderBy: [{ endsAt: 'asc' }, { id: 'asc' }],
    select: WINDOW_SELECT,
  });
}

export async function findMaintenanceWindow(db: Db, id: string) {
  const window = await db.maintenanceWindow.findUnique({ where: { id }, select: WINDOW_SELECT });
  if (!window) throw new AppError('not_found', 'no maintenance window has this id');
  return window;
}

/**
 * Ends a window now (its end is carried out by the next pass); one that has not started yet is
 * called off at once (it suppressed nothing); one that already ended is left.
 */
export async function endMaintenanceWindowNow(db: Db, id: string): Promise<void> {
  const window = await findMaintenanceWindow(db, id);
  const now = Date.now();
  if (window.endedAt !== null || window.endsAt.getTime() <= now) return;
  if (window.startsAt.getTime() > now) await db.maintenanceWindow.update({ where: { id }, data: { endedAt: new Date(now) } });
  else await db.maintenanceWindow.update({ where: { id }, data: { endsAt: new Date(Math.max(now, window.startsAt.getTime() + 1)) } });
}

/**
 * Carries out the end of every window that ended: its still-open suppressed incidents resolved
 * or raised again (each under its dedup key's lock, like any change of an incident), then the
 * window marked ended. Returns the incidents changed, for their Slack messages.
 */
export async function endDueMaintenanceWindows(pool: pg.Pool): Promise<ChangedIncident[]> {
  const changed: ChangedIncident[] = [];
  // First the windows are marked ended: an event applied from then on is suppressed by none of
  // them. An event being applied meanwhile holds its window (FOR SHARE), so this waits for it.
  await pool.query('UPDATE maintenance_windows SET ended_at = now() WHERE ended_at IS NULL AND ends_at <= now()');
  // Then every still-open incident suppressed by an ended window (also one a crash left mid-way).
  const { rows: incidents } = await pool.query<{ id: string; dedup_key: string; window_id: string; on_end: 'resolve' | 'reraise' }>(
    `SELECT i.id, i.dedup_key, w.id AS window_id, w.on_end FROM incidents i JOIN maintenance_windows w ON w.id = i.maintenance_window_id
      WHERE i.suppressed AND i.status <> 'resolved' AND w.ended_at IS NOT NULL ORDER BY w.ended_at LIMIT 500`,
  );
  for (const incident of incidents) {
      const done = await withIncidentKeyLock(pool, incident.dedup_key, async (client) => {
        const { rows } =
          incident.on_end === 'resolve'
            ? await client.query<{ id: string; updated_at: Date }>(
                `UPDATE incidents SET status = 'resolved', resolved_at = now(), resolved_by = 'pulsebridge (maintenance window ended)', resolved_event_at = now(), updated_at = ${NEXT_UPDATED_AT}
                  WHERE id = $1 AND suppressed AND status <> 'resolved' RETURNING id, updated_at`,
                [incident.id],
              )
            : await client.query<{ id: string; updated_at: Date }>(
                // Raised now: its escalation (and auto-resolve) count from here.
                `UPDATE incidents SET suppressed = false, last_alert_at = clock_timestamp(), updated_at = ${NEXT_UPDATED_AT} WHERE id = $1 AND suppressed AND status <> 'resolved' RETURNING id, updated_at`,
                [incident.id],
              );
        const row = rows[0];
        if (row === undefined) return undefined;
        if (incident.on_end === 'resolve') {
          await client.query('UPDATE incident_keys SET last_resolved_at = GREATEST(COALESCE(last_resolved_at, now()), now()), updated_at = now() WHERE dedup_key = $1', [incident.dedup_key]);
        }
        await client.query(`INSERT INTO timeline_entries (incident_id, kind, message, data, actor) VALUES ($1, $2, $3, $4, 'pulsebridge')`, [
          row.id,
          incident.on_end === 'resolve' ? 'resolved' : 'raised',
          incident.on_end === 'resolve' ? 'Resolved: the maintenance window it opened in ended' : 'Raised again: the maintenance window it opened in ended, and it is still open',
          JSON.stringify({ maintenanceWindowId: incident.window_id }),
        ]);
        return { id: row.id, updatedAt: row.updated_at };
      });
      if (done !== undefined) changed.push(done);
  }
  return changed;
}

import type { Logger } from '../logger.js';
import { repeatEvery } from '../repeat.js';
import type pg from 'pg';

/**
 * The next `updated_at` of an incident, in SQL: it only ever grows, even for two changes in the
 * same millisecond or a transaction that started before the last one committed. Slack delivery
 * compares it with what a message shows, and a notification job's id includes it.
 */
export const NEXT_UPDATED_AT = "GREATEST(clock_timestamp(), updated_at + interval '1 millisecond')";

export type IncidentActionResult = { ok: true; changed: boolean } | { ok: false; reason: 'not_found' | 'already_resolved' };

/**
 * Acknowledge or resolve by a person (REST, Slack): same locks as the workers, so a manual
 * resolve and a Heroku trigger for the same key never interleave. Resolving also records the
 * time, so an alert that happened before it but arrives late does not reopen the incident.
 */
export async function changeIncidentStatus(pool: pg.Pool, incidentId: string, change: 'acknowledge' | 'resolve', actor: string): Promise<IncidentActionResult> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const found = await client.query<{ dedup_key: string }>('SELECT dedup_key FROM incidents WHERE id = $1', [incidentId]);
    const dedupKey = found.rows[0]?.dedup_key;
    if (dedupKey === undefined) {
      await client.query('ROLLBACK');
      return { ok: false, reason: 'not_found' };
    }
    await client.query('INSERT INTO incident_keys (dedup_key) VALUES ($1) ON CONFLICT DO NOTHING', [dedupKey]);
    await client.query('SELECT 1 FROM incident_keys WHERE dedup_key = $1 FOR UPDATE', [dedupKey]);
    const { rows } = await client.query<{ status: string }>('SELECT status FROM incidents WHERE id = $1 FOR UPDATE', [incidentId]);
    const status = rows[0]!.status;
    if (status === 'resolved') {
      await client.query('ROLLBACK');
      return change === 'resolve' ? { ok: true, changed: false } : { ok: false, reason: 'already_resolved' };
    }
    if (change === 'acknowledge' && status === 'acknowledged') {
      await client.query('ROLLBACK');
      return { ok: true, changed: false };
    }
    if (change === 'acknowledge') {
      await client.query(`UPDATE incidents SET status = 'acknowledged', acknowledged_at = now(), acknowledged_by = $2, updated_at = ${NEXT_UPDATED_AT} WHERE id = $1`, [incidentId, actor]);
      await client.query(`INSERT INTO timeline_entries (incident_id, kind, message, actor) VALUES ($1, 'acknowledged', $2, $3)`, [incidentId, `Acknowledged by ${actor}`, actor]);
    } else {
      await client.query(`UPDATE incidents SET status = 'resolved', resolved_at = now(), resolved_by = $2, resolved_event_at = now(), updated_at = ${NEXT_UPDATED_AT} WHERE id = $1`, [incidentId, actor]);
      await client.query('UPDATE incident_keys SET last_resolved_at = GREATEST(COALESCE(last_resolved_at, now()), now()), updated_at = now() WHERE dedup_key = $1', [dedupKey]);
      await client.query(`INSERT INTO timeline_entries (incident_id, kind, message, actor) VALUES ($1, 'resolved', $2, $3)`, [incidentId, `Resolved by ${actor}`, actor]);
    }
    await client.query('COMMIT');
    return { ok: true, changed: true };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** An incident changed by a worker's pass, for its Slack messages. */
export interface ChangedIncident {
  id: string;
  updatedAt: Date;
}

/**
 * Runs `change` in a transaction that holds the incident's dedup key lock, taken first as every
 * change of an incident takes it (so it waits for, and sees, alerts being applied).
 */
export async function withIncidentKeyLock<T>(pool: pg.Pool, dedupKey: string, change: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('INSERT INTO incident_keys (dedup_key) VALUES ($1) ON CONFLICT DO NOTHING', [dedupKey]);
    await client.query('SELECT 1 FROM incident_keys WHERE dedup_key = $1 FOR UPDATE', [dedupKey]);
    const result = await change(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Runs a worker's pass over incidents every `intervalMs` until stopped; `onChanged` hears of those it changed. */
export function startIncidentPass(options: { intervalMs: number; logger: Logger; what: string; pass: () => Promise<ChangedIncident[]>; onChanged: (incidents: ChangedIncident[]) => Promise<void> }) {
  return repeatEvery(
    options.intervalMs,
    async () => {
      const changed = await options.pass();
      if (changed.length > 0) await options.onChanged(changed);
    },
    (error) => options.logger.warn({ err: error }, `${options.what} failed; will retry`),
  );
}

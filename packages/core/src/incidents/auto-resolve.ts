import type pg from 'pg';
import type { Logger } from '../logger.js';
import { repeatEvery } from '../repeat.js';
import { NEXT_UPDATED_AT } from './incident-actions.js';

/**
 * Resolves the open incidents whose trigger rule gave `auto_resolve_minutes` and that many
 * minutes have passed since their last alert was applied, each with an `auto_resolved` timeline
 * entry (so its Slack thread says so). Each is decided under its dedup key's lock, taken first as
 * every other change of an incident takes it: an alert applied meanwhile keeps it open. Returns
 * the incidents resolved, for their Slack messages.
 */
export async function autoResolveDueIncidents(pool: pg.Pool, limit = 200): Promise<{ id: string; updatedAt: Date }[]> {
  const { rows: due } = await pool.query<{ id: string; dedup_key: string }>(
    `SELECT id, dedup_key FROM incidents
      WHERE status <> 'resolved' AND auto_resolve_minutes IS NOT NULL AND last_alert_at + make_interval(mins => auto_resolve_minutes) <= now()
      ORDER BY last_alert_at LIMIT $1`,
    [limit],
  );
  const resolved: { id: string; updatedAt: Date }[] = [];
  for (const incident of due) {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('INSERT INTO incident_keys (dedup_key) VALUES ($1) ON CONFLICT DO NOTHING', [incident.dedup_key]);
      await client.query('SELECT 1 FROM incident_keys WHERE dedup_key = $1 FOR UPDATE', [incident.dedup_key]);
      const { rows } = await client.query<{ id: string; updated_at: Date; minutes: number }>(
        `UPDATE incidents SET status = 'resolved', resolved_at = now(), resolved_by = 'pulsebridge (auto-resolve)', resolved_event_at = now(), updated_at = ${NEXT_UPDATED_AT}
          WHERE id = $1 AND status <> 'resolved' AND auto_resolve_minutes IS NOT NULL AND last_alert_at + make_interval(mins => auto_resolve_minutes) <= now()
          RETURNING id, updated_at, auto_resolve_minutes AS minutes`,
        [incident.id],
      );
      const done = rows[0];
      if (done !== undefined) {
        await client.query('UPDATE incident_keys SET last_resolved_at = GREATEST(COALESCE(last_resolved_at, now()), now()), updated_at = now() WHERE dedup_key = $1', [incident.dedup_key]);
        await client.query(`INSERT INTO timeline_entries (incident_id, kind, message, actor) VALUES ($1, 'auto_resolved', $2, 'pulsebridge')`, [done.id, `Resolved: no new alert for ${done.minutes} min`]);
        resolved.push({ id: done.id, updatedAt: done.updated_at });
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
  return resolved;
}

/** Resolves due incidents every `intervalMs` until stopped; `onResolved` hears of each batch (their Slack messages). */
export function startAutoResolver(pool: pg.Pool, options: { intervalMs: number; logger: Logger; onResolved: (incidents: { id: string; updatedAt: Date }[]) => Promise<void> }) {
  return repeatEvery(
    options.intervalMs,
    async () => {
      const resolved = await autoResolveDueIncidents(pool);
      if (resolved.length > 0) await options.onResolved(resolved);
    },
    (error) => options.logger.warn({ err: error }, 'auto-resolve failed; will retry'),
  );
}

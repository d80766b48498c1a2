import type pg from 'pg';
import { NEXT_UPDATED_AT, withIncidentKeyLock, type ChangedIncident } from './incident-actions.js';

/**
 * Resolves the open incidents whose trigger rule gave `auto_resolve_minutes` and that many
 * minutes have passed since their last alert was applied, each with an `auto_resolved` timeline
 * entry (so its Slack thread says so). Each is decided under its dedup key's lock, taken first as
 * every other change of an incident takes it: an alert applied meanwhile keeps it open. Returns
 * the incidents resolved, for their Slack messages.
 */
export async function autoResolveDueIncidents(pool: pg.Pool, limit = 200): Promise<ChangedIncident[]> {
  const { rows: due } = await pool.query<{ id: string; dedup_key: string }>(
    `SELECT id, dedup_key FROM incidents
      WHERE status <> 'resolved' AND auto_resolve_minutes IS NOT NULL AND last_alert_at + make_interval(mins => auto_resolve_minutes) <= now()
      ORDER BY last_alert_at LIMIT $1`,
    [limit],
  );
  const resolved: ChangedIncident[] = [];
  for (const incident of due) {
    const done = await withIncidentKeyLock(pool, incident.dedup_key, async (client) => {
      const { rows } = await client.query<{ id: string; updated_at: Date; minutes: number }>(
        `UPDATE incidents SET status = 'resolved', resolved_at = now(), resolved_by = 'pulsebridge (auto-resolve)', resolved_event_at = now(), updated_at = ${NEXT_UPDATED_AT}
          WHERE id = $1 AND status <> 'resolved' AND auto_resolve_minutes IS NOT NULL AND last_alert_at + make_interval(mins => auto_resolve_minutes) <= now()
          RETURNING id, updated_at, auto_resolve_minutes AS minutes`,
        [incident.id],
      );
      const row = rows[0];
      if (row === undefined) return undefined;
      // Not a recovery Heroku reported: the key's last_resolved_at stays, so an alert applied late opens a new incident.
      await client.query(`INSERT INTO timeline_entries (incident_id, kind, message, actor) VALUES ($1, 'auto_resolved', $2, 'pulsebridge')`, [row.id, `Resolved: no new alert for ${row.minutes} min`]);
      return { id: row.id, updatedAt: row.updated_at };
    });
    if (done !== undefined) resolved.push(done);
  }
  return resolved;
}

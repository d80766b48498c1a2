import type pg from 'pg';
import type { TouchedIncident } from '../queues/queues.js';

/**
 * How far back a Redis that lost its data may have held Slack jobs: a job retries for hours
 * through a Slack outage (catalog.ts), so six hours covers one that outlasted its retries' start.
 */
export const SLACK_CATCH_UP_WINDOW_MS = 6 * 60 * 60 * 1000;

/**
 * What Slack may still be owed, read from what PostgreSQL holds: incidents changed in the
 * window whose messages are missing, not yet posted, older than the incident or with a reply
 * left pending, and pulses created in the window with a message not yet posted (or none yet).
 * Incidents routed nowhere have no message rows and are listed too: their sync finds no channel.
 * A new incident (no message posted yet) is marked `opened`, so its page goes first.
 */
export async function slackDeliveriesOwed(pool: pg.Pool, windowMs: number): Promise<{ incidents: TouchedIncident[]; pulseIds: string[] }> {
  const [incidents, pulses] = await Promise.all([
    pool.query<{ id: string; updated_at: Date; opened: boolean }>(
      `SELECT i.id, i.updated_at, NOT EXISTS (SELECT 1 FROM slack_messages m WHERE m.incident_id = i.id AND m.ts IS NOT NULL) AS opened
         FROM incidents i
        WHERE i.updated_at >= now() - make_interval(secs => $1::double precision / 1000)
          AND (NOT EXISTS (SELECT 1 FROM slack_messages m WHERE m.incident_id = i.id)
               OR EXISTS (SELECT 1 FROM slack_messages m WHERE m.incident_id = i.id
                            AND (m.status = 'posting'
                                 OR (m.status = 'posted' AND (m.rendered_at IS NULL OR m.rendered_at < i.updated_at OR m.pending_reply_token IS NOT NULL)))))
        ORDER BY i.updated_at`,
      [windowMs],
    ),
    pool.query<{ id: string }>(
      `SELECT p.id FROM pulses p
        WHERE p.created_at >= now() - make_interval(secs => $1::double precision / 1000)
          AND (NOT EXISTS (SELECT 1 FROM slack_messages m WHERE m.pulse_id = p.id)
               OR EXISTS (SELECT 1 FROM slack_messages m WHERE m.pulse_id = p.id AND m.status = 'posting'))
        ORDER BY p.created_at`,
      [windowMs],
    ),
  ]);
  return {
    incidents: incidents.rows.map((row) => ({ id: row.id, updatedAt: row.updated_at, opened: row.opened })),
    pulseIds: pulses.rows.map((row) => row.id),
  };
}

/**
 * New incidents created after `from` and up to `to` whose page is still owed: none of their
 * message rows was posted (or refused for good). A range walk of the incidents' creation index.
 */
export async function pagesOwed(pool: pg.Pool, from: Date, to: Date): Promise<TouchedIncident[]> {
  const { rows } = await pool.query<{ id: string; updated_at: Date }>({
    name: 'pb-pages-owed',
    text: `SELECT i.id, i.updated_at FROM incidents i
            WHERE i.created_at > $1 AND i.created_at <= $2
              AND NOT EXISTS (SELECT 1 FROM slack_messages m WHERE m.incident_id = i.id AND m.status <> 'posting')
            ORDER BY i.created_at`,
    values: [from, to],
  });
  return rows.map((row) => ({ id: row.id, updatedAt: row.updated_at, opened: true }));
}

import type pg from 'pg';
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../logger.js';
import { repeatEvery } from '../repeat.js';
import { escapeMrkdwn, truncateText } from '../slack/mrkdwn.js';
import { classifySlackError } from '../slack/slack-client.js';
import type { DefaultEscalation, EscalationLevel } from './escalation-policies.js';

/** Incidents whose last alert (or raising) is older than this when a worker first sees them start no escalation (it would page about the past). */
const START_WINDOW_HOURS = 24;
/** How long to wait for an incident's Slack thread before mentioning anyone in it. */
const THREAD_WAIT_MS = 10_000;
/** An incident still not posted this long after its escalation started never will be (a stop says so). */
const THREAD_GIVE_UP_MINUTES = 10;
/** When Slack refused every thread for a while (a 5xx, a rate limit), the level is tried again this much later. */
const RETRY_S = 30;

/** `<@U…>` for a user, `<!subteam^S…>` for a user group: ids only (validated), never text from a payload. */
export const mention = (target: string): string => (target.startsWith('S') ? `<!subteam^${target}>` : `<@${target}>`);

interface DueRow {
  incident_id: string;
  service_id: string | null;
  next_level: number;
  notified: number;
  status: string | null;
  levels: EscalationLevel[] | null;
  repeat_every_minutes: number | null;
  direct_messages: boolean | null;
  number: number | null;
  title: string | null;
}

export interface EscalatorDeps {
  pool: pg.Pool;
  slack: WebClient;
  logger: Logger;
  /** Where incident pages are (the link in direct messages). */
  publicUrl?: string;
  /** `escalation.yaml`'s default: the policy of incidents none of whose services has one. */
  defaultPolicy?: DefaultEscalation['policy'];
}

/**
 * Escalation until someone acknowledges, in the workers, with PostgreSQL as the record of what is
 * due (a worker restart or a Redis loss loses nothing; any number of workers share the work).
 *
 * - An open, unacknowledged incident at or above a linked service's `minSeverity` starts at level
 *   1 (its service: the first by name that has a policy).
 * - A due level is mentioned in the incident's Slack threads, recorded on the timeline
 *   ("Escalated to level 2: <@U…>"), and the next level falls due after this level's delay; after
 *   the last, the last again every `repeatEveryMinutes`, or nothing more.
 * - The incident's row is locked while a level is mentioned: an acknowledgement or resolution
 *   waits for the mention to be recorded, and one committed first stops the escalation before any
 *   mention. So no one is mentioned after an acknowledgement is committed.
 */
export async function escalateOnce(deps: EscalatorDeps): Promise<number> {
  await startEscalations(deps.pool, deps.defaultPolicy ?? null);
  let mentioned = 0;
  for (;;) {
    const client = await deps.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<DueRow>(
        `SELECT e.incident_id, e.service_id, e.next_level, e.notified, i.status::text AS status, i.number, i.title, p.levels, p.repeat_every_minutes, p.direct_messages
           FROM incident_escalations e
           LEFT JOIN incidents i ON i.id = e.incident_id
           LEFT JOIN escalation_policies p ON p.service_id = e.service_id
          WHERE e.stopped_at IS NULL AND e.next_at <= now()
          ORDER BY e.next_at LIMIT 1
          FOR UPDATE OF e SKIP LOCKED`,
      );
      const found = rows[0];
      if (found === undefined) {
        await client.query('COMMIT');
        return mentioned;
      }
      // A row without a service follows the default policy (as the workers have it now).
      const fallback = found.service_id === null ? (deps.defaultPolicy ?? null) : null;
      const due: DueRow = fallback === null ? found : { ...found, levels: fallback.levels, repeat_every_minutes: fallback.repeatEveryMinutes, direct_messages: fallback.directMessages };
      // The incident as of now, held until this commits (an acknowledgement waits for it).
      const { rows: current } = await client.query<{ status: string }>('SELECT status::text FROM incidents WHERE id = $1 FOR SHARE', [due.incident_id]);
      const status = current[0]?.status ?? null;
      if (status !== 'triggered' || due.levels === null || due.next_level >= due.levels.length) {
        const reason = status === null ? 'incident deleted' : status !== 'triggered' ? status : due.levels === null ? (due.service_id === null ? 'no default policy' : 'policy removed') : 'levels exhausted';
        await client.query('UPDATE incident_escalations SET stopped_at = now(), stop_reason = $2 WHERE incident_id = $1', [due.incident_id, reason]);
        await client.query('COMMIT');
        continue;
      }
      const { rows: threads } = await client.query<{ channel: string; ts: string }>('SELECT channel, ts FROM slack_messages WHERE incident_id = $1 AND ts IS NOT NULL ORDER BY created_at', [due.incident_id]);
      if (threads.length === 0) {
        // Its message is not posted yet: the mention goes in its thread, so wait for it (not forever).
        await client.query(
          `UPDATE incident_escalations SET next_at = now() + make_interval(secs => $2),
                  stopped_at = CASE WHEN created_at < now() - make_interval(mins => $3) AND notified = 0 THEN now() END,
                  stop_reason = CASE WHEN created_at < now() - make_interval(mins => $3) AND notified = 0 THEN 'never posted to Slack' END
            WHERE incident_id = $1`,
          [due.incident_id, THREAD_WAIT_MS / 1000, THREAD_GIVE_UP_MINUTES],
        );
        await client.query('COMMIT');
        continue;
      }
      const level = due.levels[due.next_level]!;
      const who = level.targets.map(mention).join(' ');
      const text = `Escalated to level ${due.next_level + 1}: ${who}${due.notified >= due.levels.length ? ' (again: no one has acknowledged)' : ''}`;
      // Each thread on its own: one Slack refuses (the bot left, the channel archived) holds up neither the others nor other incidents.
      const failures: { error: string; permanent: boolean }[] = [];
      for (const thread of threads) {
        try {
          await deps.slack.chat.postMessage({ channel: thread.channel, thread_ts: thread.ts, text, link_names: false });
        } catch (error) {
          const failure = classifySlackError(error);
          failures.push({ error: failure.kind === 'rate_limited' ? 'rate_limited' : failure.error, permanent: failure.kind === 'permanent' });
        }
      }
      if (failures.length > 0) deps.logger.warn({ incidentId: due.incident_id, level: due.next_level + 1, errors: failures.map((f) => f.error) }, 'an escalation mention was refused by Slack');
      if (failures.length === threads.length) {
        // Nobody was mentioned: try again shortly, or stop when Slack will never take it.
        if (failures.every((f) => f.permanent)) {
          await client.query('UPDATE incident_escalations SET stopped_at = now(), stop_reason = $2 WHERE incident_id = $1', [due.incident_id, `Slack refused every thread (${failures.map((f) => f.error).join(', ')})`]);
        } else {
          await client.query('UPDATE incident_escalations SET next_at = now() + make_interval(secs => $2) WHERE incident_id = $1', [due.incident_id, RETRY_S]);
        }
        await client.query('COMMIT');
        continue;
      }
      await client.query(`INSERT INTO timeline_entries (incident_id, kind, message, data, actor) VALUES ($1, 'escalated', $2, $3, 'pulsebridge')`, [
        due.incident_id,
        text,
        JSON.stringify({ level: due.next_level + 1, targets: level.targets }),
      ]);
      const last = due.next_level + 1 >= due.levels.length;
      const next = last ? (due.repeat_every_minutes === null ? null : { level: due.next_level, minutes: due.repeat_every_minutes }) : { level: due.next_level + 1, minutes: level.delayMinutes };
      if (next === null) {
        await client.query(`UPDATE incident_escalations SET notified = notified + 1, next_level = $2, stopped_at = now(), stop_reason = 'levels exhausted' WHERE incident_id = $1`, [due.incident_id, due.next_level + 1]);
      } else {
        await client.query('UPDATE incident_escalations SET notified = notified + 1, next_level = $2, next_at = now() + make_interval(mins => $3) WHERE incident_id = $1', [due.incident_id, next.level, next.minutes]);
      }
      await client.query('COMMIT');
      mentioned += 1;
      // After the commit: the incident is not held while Slack takes the direct messages.
      if (due.direct_messages === true) await directMessages(deps, level.targets, due);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}

/**
 * Tells each mentioned user (groups cannot be messaged) in a direct message, with the incident's
 * title escaped. The mention in the thread is the page: a direct message Slack refuses is logged,
 * not retried.
 */
async function directMessages(deps: EscalatorDeps, targets: string[], due: DueRow): Promise<void> {
  const link = deps.publicUrl === undefined ? '' : ` <${deps.publicUrl}/incidents/${due.incident_id}|Open it>`;
  const text = truncateText(`You are on call for incident #${due.number}: ${escapeMrkdwn(due.title ?? '')}. Nobody has acknowledged it yet.${link}`, 3_000);
  for (const user of targets.filter((target) => !target.startsWith('S'))) {
    await deps.slack.chat.postMessage({ channel: user, text }).catch((error: unknown) => deps.logger.warn({ err: error, user, incidentId: due.incident_id }, 'could not send an escalation direct message'));
  }
}

/**
 * Starts level 1 for open, unacknowledged incidents at or above a linked service's policy's
 * severity and posted by it (an incident that stays in the UI pages nobody); then, with a default
 * policy, for posted ones at or above its severity none of whose services has a policy
 * (incidents of apps no service claims included).
 */
async function startEscalations(pool: pg.Pool, defaultPolicy: DefaultEscalation['policy']): Promise<void> {
  await pool.query(
    `INSERT INTO incident_escalations (incident_id, service_id, next_at)
     SELECT DISTINCT ON (i.id) i.id, p.service_id, now()
       FROM incidents i
       JOIN incident_services l ON l.incident_id = i.id
       JOIN escalation_policies p ON p.service_id = l.service_id
       JOIN services s ON s.id = p.service_id
      WHERE i.status = 'triggered' AND NOT i.suppressed AND COALESCE(i.last_alert_at, i.created_at) > now() - make_interval(hours => $1)
        AND i.severity <= p.min_severity AND i.severity <= s.post_min_severity
        AND NOT EXISTS (SELECT 1 FROM incident_escalations e WHERE e.incident_id = i.id)
      ORDER BY i.id, s.name
     ON CONFLICT (incident_id) DO NOTHING`,
    [START_WINDOW_HOURS],
  );
  if (defaultPolicy === null) return;
  await pool.query(
    `INSERT INTO incident_escalations (incident_id, service_id, next_at)
     SELECT i.id, NULL, now()
       FROM incidents i
      WHERE i.status = 'triggered' AND NOT i.suppressed AND COALESCE(i.last_alert_at, i.created_at) > now() - make_interval(hours => $1) AND i.severity <= $2::"Severity"
        AND NOT EXISTS (SELECT 1 FROM incident_escalations e WHERE e.incident_id = i.id)
        AND NOT EXISTS (SELECT 1 FROM incident_services l JOIN escalation_policies p ON p.service_id = l.service_id WHERE l.incident_id = i.id)
        -- Only an incident that is posted: none of its services, or one that posts its severity.
        AND (NOT EXISTS (SELECT 1 FROM incident_services l WHERE l.incident_id = i.id)
             OR EXISTS (SELECT 1 FROM incident_services l JOIN services s ON s.id = l.service_id WHERE l.incident_id = i.id AND i.severity <= s.post_min_severity))
     ON CONFLICT (incident_id) DO NOTHING`,
    [START_WINDOW_HOURS, defaultPolicy.minSeverity],
  );
}

/** Runs escalation passes every `intervalMs` until stopped. */
export function startEscalator(deps: EscalatorDeps, options: { intervalMs: number }) {
  return repeatEvery(options.intervalMs, () => escalateOnce(deps), (error) => deps.logger.warn({ err: error }, 'escalation pass failed; will retry'));
}

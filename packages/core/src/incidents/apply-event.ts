import type pg from 'pg';
import { mapEvent } from '../rules/map-event.js';
import type { RuleSet } from '../rules/rule-set.js';
import type { TouchedIncident } from '../queues/queues.js';

/** How far back a deploy counts as a suspect for an incident (also in `pulsebridge_apply_event`). */
export const SUSPECT_WINDOW_MS = 60 * 60 * 1000;

export type ApplyOutcome =
  | {
      status: 'processed';
      incidentsOpened: number;
      alertsGrouped: number;
      incidentsResolved: number;
      pulsesCreated: number;
      /** What changed, for notifications: incidents with their new `updated_at`, new pulses. */
      touched: { incidents: TouchedIncident[]; pulseIds: string[] };
    }
  | { status: 'skipped'; reason: string }
  | { status: 'already_done' }
  | { status: 'missing' };

interface EventRow {
  id: string;
  source: 'heroku_webhook' | 'heroku_addon';
  status: 'received' | 'processed' | 'skipped' | 'failed';
  entity: string;
  resource: string;
  action: string | null;
  app_name: string | null;
  occurred_at: Date | null;
  received_at: Date;
  payload: unknown;
  /** Whether the integration monitors the event's app (read in SQL: the list can be long). */
  app_monitored: boolean;
  integration_exists: boolean;
}

/** Why an event is archived but not acted on, or null when it should be acted on. */
export function skipReason(event: { source: string; app_name: string | null; integration_exists: boolean; app_monitored: boolean }): string | null {
  if (event.source !== 'heroku_webhook') return null;
  if (!event.integration_exists) return 'its integration was deleted';
  if (event.app_name === null) return 'the event names no app';
  if (!event.app_monitored) return `app ${event.app_name} is not monitored by its integration`;
  return null;
}

interface AppliedResult {
  status: 'processed' | 'skipped' | 'already_done' | 'missing';
  reason?: string;
  incidentsOpened?: number;
  alertsGrouped?: number;
  incidentsResolved?: number;
  pulsesCreated?: number;
  incidents?: { id: string; updatedAt: number; opened?: boolean }[];
  pulses?: string[];
}

/** An archived event as applying it reads it (`readEventsToApply`). */
export type EventToApply = EventRow;

/**
 * The archived events with these row ids, read in one statement (an id not in the archive is
 * absent from the map). A named statement, planned once per connection.
 */
export async function readEventsToApply(pool: pg.Pool, eventRowIds: string[]): Promise<Map<string, EventToApply>> {
  const { rows } = await pool.query<EventRow>({
    name: 'pb-apply-read-events',
    text: `SELECT e.id, e.source, e.status, e.entity, e.resource, e.action, e.app_name, e.occurred_at, e.received_at, e.payload,
            COALESCE(e.app_name = ANY(i.monitored_apps), false) AS app_monitored, (i.id IS NOT NULL) AS integration_exists
       FROM events e LEFT JOIN heroku_integrations i ON i.id = e.integration_id
      WHERE e.id = ANY($1::uuid[])`,
    values: [eventRowIds],
  });
  return new Map(rows.map((row) => [row.id, row]));
}

/**
 * Applies one archived event under the rules, exactly once, in one transaction: incident
 * triggers and resolves (serialized per dedup key by a row lock, so any number of workers
 * agree), pulses (unique per dedup key), links to the services naming the event's app, and
 * the event's final status. A replay re-applies today's rules; each rule acts on an event
 * at most once, so nothing is created twice.
 *
 * Two round trips: the event is read (`readEventsToApply`, which reads a job's events at once),
 * mapped to commands here (the rules are code and data in this process), and the commands are
 * applied by `pulsebridge_apply_event` (see its migration), which locks the event, checks it is
 * still to do and writes everything in one statement.
 */
export async function applyEvent(pool: pg.Pool, ruleSet: RuleSet, eventRowId: string, options: { replay?: boolean } = {}): Promise<ApplyOutcome> {
  const event = (await readEventsToApply(pool, [eventRowId])).get(eventRowId);
  if (event === undefined) return { status: 'missing' };
  return applyReadEvent(pool, ruleSet, event, options);
}

/** `applyEvent` for an event already read. The status read is a shortcut; the apply function checks it again under the event's lock. */
export async function applyReadEvent(pool: pg.Pool, ruleSet: RuleSet, event: EventToApply, options: { replay?: boolean } = {}): Promise<ApplyOutcome> {
  const replay = options.replay === true;
  if (!replay && (event.status === 'processed' || event.status === 'skipped')) return { status: 'already_done' };

  const reason = skipReason(event);
  const commands =
    reason !== null
      ? []
      : mapEvent({ entity: event.entity, resource: event.resource, action: event.action, appName: event.app_name, occurredAt: event.occurred_at, payload: event.payload }, ruleSet);
  // Dedup keys in one order everywhere, so two events touching the same keys cannot deadlock.
  const incidents = commands
    .filter((command) => command.type !== 'pulse')
    .sort((a, b) => (a.dedupKey < b.dedupKey ? -1 : a.dedupKey > b.dedupKey ? 1 : 0));
  const pulses = commands.filter((command) => command.type === 'pulse');

  const applied = await pool.query<{ result: AppliedResult }>({
    name: 'pb-apply-event',
    text: 'SELECT pulsebridge_apply_event($1, $2::jsonb, $3, $4) AS result',
    values: [event.id, JSON.stringify({ incidents, pulses }), reason, replay],
  });
  const result = applied.rows[0]!.result;
  switch (result.status) {
    case 'missing':
    case 'already_done':
      return { status: result.status };
    case 'skipped':
      return { status: 'skipped', reason: result.reason ?? '' };
    case 'processed':
      return {
        status: 'processed',
        incidentsOpened: result.incidentsOpened ?? 0,
        alertsGrouped: result.alertsGrouped ?? 0,
        incidentsResolved: result.incidentsResolved ?? 0,
        pulsesCreated: result.pulsesCreated ?? 0,
        touched: {
          incidents: (result.incidents ?? []).map((incident) => ({ id: incident.id, updatedAt: new Date(incident.updatedAt), opened: incident.opened === true })),
          pulseIds: result.pulses ?? [],
        },
      };
  }
}

/**
 * The incidents and pulses an event touched, read back from what it wrote: a job retried after
 * its transaction committed (or a replay) finds them again, so their notifications are never
 * skipped.
 */
export async function touchedByEvent(pool: pg.Pool, eventRowId: string): Promise<{ incidents: TouchedIncident[]; pulseIds: string[] }> {
  const [incidents, pulses] = await Promise.all([
    pool.query<{ id: string; updated_at: Date; opened: boolean }>(
      `SELECT i.id, i.updated_at, bool_or(t.kind = 'triggered') AS opened
         FROM incidents i JOIN timeline_entries t ON t.incident_id = i.id
        WHERE t.event_id = $1
        GROUP BY i.id, i.updated_at`,
      [eventRowId],
    ),
    pool.query<{ id: string }>('SELECT id FROM pulses WHERE event_id = $1', [eventRowId]),
  ]);
  return { incidents: incidents.rows.map((row) => ({ id: row.id, updatedAt: row.updated_at, opened: row.opened })), pulseIds: pulses.rows.map((row) => row.id) };
}

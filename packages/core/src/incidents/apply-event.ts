import type pg from 'pg';
import { isTestAppName, testDedupKey } from '../events/test-events.js';
import { DRAIN_ACTIONS } from '../drains/drain-rules.js';
import { mapEvent, type EventCommand } from '../rules/map-event.js';
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
  source: 'heroku_webhook' | 'heroku_addon' | 'heroku_drain';
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
export function skipReason(event: { source: string; action: string | null; app_name: string | null; integration_exists: boolean; app_monitored: boolean }): string | null {
  if (event.source === 'heroku_addon') return null;
  // A quiet period resolves its incident even after the app or the integration went away.
  if (event.source === 'heroku_drain' && event.action === DRAIN_ACTIONS.quiet) return null;
  if (!event.integration_exists) return 'its integration was deleted';
  if (event.app_name === null) return 'the event names no app';
  // A test event (signed with the integration's secret, so sent by it) is acted on under its own app name.
  if (!event.app_monitored && !isTestAppName(event.app_name)) return `app ${event.app_name} is not monitored by its integration`;
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

/** An event mapped to what applying it writes (`planEvent`), for `applyPlannedEvents`. */
export interface PlannedEvent {
  eventRowId: string;
  /** Incident commands sorted by dedup key, then pulse commands, as the apply function takes them. */
  commands: { incidents: IncidentCommand[]; pulses: PulseCommand[] };
  /** Why it is archived but not acted on, or null. */
  reason: string | null;
}

type IncidentCommand = Exclude<EventCommand, { type: 'pulse' }>;
type PulseCommand = Extract<EventCommand, { type: 'pulse' }>;

/**
 * Applies one archived event under the rules, exactly once, in one transaction: incident
 * triggers and resolves (serialized per dedup key, so any number of workers agree), pulses
 * (unique per dedup key), links to the services naming the event's app, and the event's final
 * status. A replay re-applies today's rules; each rule acts on an event at most once, so nothing
 * is created twice.
 *
 * Two round trips: the event is read (`readEventsToApply`), mapped to commands here (`planEvent`:
 * the rules are code and data in this process), and the commands are applied by
 * `applyPlannedEvents`, which applies a job's events at once.
 */
export async function applyEvent(pool: pg.Pool, ruleSet: RuleSet, eventRowId: string, options: { replay?: boolean } = {}): Promise<ApplyOutcome> {
  const event = (await readEventsToApply(pool, [eventRowId])).get(eventRowId);
  if (event === undefined) return { status: 'missing' };
  const plan = planEvent(ruleSet, event, options);
  if (plan === 'already_done') return { status: 'already_done' };
  return (await applyPlannedEvents(pool, [plan], options))[0]!;
}

/**
 * What applying an event writes, or `already_done` when it was processed or skipped (and this
 * is no replay). Pure: the rules map the event's data. Throws `RuleRenderError` when a rule
 * renders nonsense for it. The status read is a shortcut; the apply function checks it again
 * under the event's lock.
 */
export function planEvent(ruleSet: RuleSet, event: EventToApply, options: { replay?: boolean } = {}): PlannedEvent | 'already_done' {
  if (options.replay !== true && (event.status === 'processed' || event.status === 'skipped')) return 'already_done';
  const reason = skipReason(event);
  const mapped =
    reason !== null
      ? []
      : mapEvent({ entity: event.entity, resource: event.resource, action: event.action, appName: event.app_name, occurredAt: event.occurred_at, payload: event.payload }, ruleSet);
  const commands = isTestAppName(event.app_name) ? mapped.map((command) => ({ ...command, dedupKey: testDedupKey(command.dedupKey) })) : mapped;
  // Dedup keys in one order within an event (the apply function locks every key of a
  // transaction up front, in one order, before any of them is written).
  const incidents = commands
    .filter((command): command is IncidentCommand => command.type !== 'pulse')
    .sort((a, b) => (a.dedupKey < b.dedupKey ? -1 : a.dedupKey > b.dedupKey ? 1 : 0));
  const pulses = commands.filter((command): command is PulseCommand => command.type === 'pulse');
  return { eventRowId: event.id, commands: { incidents, pulses }, reason };
}

/**
 * Applies planned events in order, in one transaction (`pulsebridge_apply_events`, in
 * prisma/functions/10_apply_events.sql): one round trip and one commit for a job's events. When that fails, they are applied
 * one by one, each in its own transaction, so an event that cannot be applied fails alone and
 * the others are applied; the error of the first that fails is thrown (the job is retried, and
 * finds the others done).
 */
export async function applyPlannedEvents(pool: pg.Pool, plans: PlannedEvent[], options: { replay?: boolean } = {}): Promise<ApplyOutcome[]> {
  if (plans.length === 0) return [];
  const replay = options.replay === true;
  const apply = async (list: PlannedEvent[]) => {
    const { rows } = await pool.query<{ results: AppliedResult[] }>({
      name: 'pb-apply-events',
      text: 'SELECT pulsebridge_apply_events($1::jsonb, $2) AS results',
      values: [JSON.stringify(list.map((plan) => ({ event: plan.eventRowId, commands: plan.commands, reason: plan.reason }))), replay],
    });
    return rows[0]!.results.map(toOutcome);
  };
  if (plans.length === 1) return apply(plans);
  try {
    return await apply(plans);
  } catch {
    const outcomes: ApplyOutcome[] = [];
    let firstError: unknown;
    for (const plan of plans) {
      try {
        outcomes.push(...(await apply([plan])));
      } catch (error) {
        firstError ??= error;
      }
    }
    if (firstError !== undefined) throw firstError;
    return outcomes;
  }
}

function toOutcome(result: AppliedResult): ApplyOutcome {
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

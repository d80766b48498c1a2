import type pg from 'pg';
import { mapEvent, type EventCommand } from '../rules/map-event.js';
import { SEVERITIES, type RuleSet, type Severity } from '../rules/rule-set.js';

/** How far back a deploy counts as a suspect for an incident. */
export const SUSPECT_WINDOW_MS = 60 * 60 * 1000;

export type ApplyOutcome =
  | {
      status: 'processed';
      incidentsOpened: number;
      alertsGrouped: number;
      incidentsResolved: number;
      pulsesCreated: number;
      /** What changed, for notifications: incidents with their new `updated_at`, new pulses. */
      touched: { incidents: { id: string; updatedAt: Date }[]; pulseIds: string[] };
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
  monitored_apps: string[] | null;
  integration_exists: boolean;
}

/** Why an event is archived but not acted on, or null when it should be acted on. */
export function skipReason(event: { source: string; app_name: string | null; integration_exists: boolean; monitored_apps: string[] | null }): string | null {
  if (event.source !== 'heroku_webhook') return null;
  if (!event.integration_exists) return 'its integration was deleted';
  if (event.app_name === null) return 'the event names no app';
  if (!(event.monitored_apps ?? []).includes(event.app_name)) return `app ${event.app_name} is not monitored by its integration`;
  return null;
}

const moreSevere = (a: Severity, b: Severity): Severity => (SEVERITIES.indexOf(a) <= SEVERITIES.indexOf(b) ? a : b);

/**
 * Applies one archived event under the rules, exactly once, in one transaction: incident
 * triggers and resolves (serialized per dedup key by a row lock, so any number of workers
 * agree), pulses (unique per dedup key), links to the services naming the event's app, and
 * the event's final status. A replay re-applies today's rules; each rule acts on an event
 * at most once, so nothing is created twice.
 */
export async function applyEvent(pool: pg.Pool, ruleSet: RuleSet, eventRowId: string, options: { replay?: boolean } = {}): Promise<ApplyOutcome> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<EventRow>(
      `SELECT e.id, e.source, e.status, e.entity, e.resource, e.action, e.app_name, e.occurred_at, e.received_at, e.payload,
              i.monitored_apps, (i.id IS NOT NULL) AS integration_exists
         FROM events e LEFT JOIN heroku_integrations i ON i.id = e.integration_id
        WHERE e.id = $1
          FOR UPDATE OF e`,
      [eventRowId],
    );
    const event = rows[0];
    if (event === undefined) {
      await client.query('ROLLBACK');
      return { status: 'missing' };
    }
    if (!options.replay && (event.status === 'processed' || event.status === 'skipped')) {
      await client.query('ROLLBACK');
      return { status: 'already_done' };
    }
    const reason = skipReason(event);
    if (reason !== null) {
      await client.query(`UPDATE events SET status = 'skipped', error = $2, processed_at = now() WHERE id = $1`, [event.id, reason]);
      await client.query('COMMIT');
      return { status: 'skipped', reason };
    }

    const commands = mapEvent(
      { entity: event.entity, resource: event.resource, action: event.action, appName: event.app_name, occurredAt: event.occurred_at, payload: event.payload },
      ruleSet,
    );
    const eventTime = event.occurred_at ?? event.received_at;
    const serviceIds =
      event.app_name === null
        ? []
        : (await client.query<{ id: string }>('SELECT id FROM services WHERE heroku_app_names @> ARRAY[$1]::text[] ORDER BY id', [event.app_name])).rows.map((row) => row.id);
    const touched = { incidents: [] as { id: string; updatedAt: Date }[], pulseIds: [] as string[] };
    const context: ApplyContext = { client, eventRowId: event.id, eventTime, appName: event.app_name, entity: event.entity, serviceIds, touched };
    const outcome = { status: 'processed' as const, incidentsOpened: 0, alertsGrouped: 0, incidentsResolved: 0, pulsesCreated: 0, touched };

    // Dedup keys in one order everywhere, so two events touching the same keys cannot deadlock.
    const incidentCommands = commands
      .filter((command): command is Extract<EventCommand, { type: 'incident.trigger' | 'incident.resolve' }> => command.type !== 'pulse')
      .sort((a, b) => (a.dedupKey < b.dedupKey ? -1 : a.dedupKey > b.dedupKey ? 1 : 0));
    for (const command of incidentCommands) {
      const fresh = await client.query('INSERT INTO applied_rules (event_id, rule) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING rule', [event.id, command.rule]);
      if (fresh.rowCount === 0) continue;
      const effect = command.type === 'incident.trigger' ? await trigger(context, command) : await resolve(context, command);
      if (effect === 'opened') outcome.incidentsOpened += 1;
      if (effect === 'grouped') outcome.alertsGrouped += 1;
      if (effect === 'resolved') outcome.incidentsResolved += 1;
    }
    for (const command of commands) {
      if (command.type === 'pulse' && (await createPulse(context, command))) outcome.pulsesCreated += 1;
    }

    await client.query(`UPDATE events SET status = 'processed', error = NULL, processed_at = now() WHERE id = $1`, [event.id]);
    await client.query('COMMIT');
    return outcome;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

interface ApplyContext {
  client: pg.PoolClient;
  eventRowId: string;
  eventTime: Date;
  appName: string | null;
  entity: string;
  serviceIds: string[];
  touched: { incidents: { id: string; updatedAt: Date }[]; pulseIds: string[] };
}

/**
 * Locks the dedup key's state row, creating it if needed, in one statement (the no-op update
 * takes the row lock), and returns the latest resolve time.
 */
async function lockKey(client: pg.PoolClient, dedupKey: string): Promise<Date | null> {
  const { rows } = await client.query<{ last_resolved_at: Date | null }>(
    'INSERT INTO incident_keys (dedup_key) VALUES ($1) ON CONFLICT (dedup_key) DO UPDATE SET dedup_key = EXCLUDED.dedup_key RETURNING last_resolved_at',
    [dedupKey],
  );
  return rows[0]?.last_resolved_at ?? null;
}

async function openIncident(client: pg.PoolClient, dedupKey: string) {
  const { rows } = await client.query<{ id: string; severity: Severity; triggered_at: Date }>(
    `SELECT id, severity, triggered_at FROM incidents WHERE dedup_key = $1 AND status <> 'resolved'`,
    [dedupKey],
  );
  return rows[0];
}

async function linkServices(context: ApplyContext, incidentId: string) {
  if (context.serviceIds.length === 0) return;
  await context.client.query(
    'INSERT INTO incident_services (incident_id, service_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING',
    [incidentId, context.serviceIds],
  );
}

async function addTimeline(context: ApplyContext, incidentId: string, kind: string, message: string, data: Record<string, unknown>, actor: string | null = null) {
  await context.client.query(
    `INSERT INTO timeline_entries (incident_id, kind, message, data, actor, event_id) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (incident_id, event_id, kind) DO NOTHING`,
    [incidentId, kind, message, JSON.stringify(data), actor, context.eventRowId],
  );
}

async function trigger(context: ApplyContext, command: Extract<EventCommand, { type: 'incident.trigger' }>): Promise<'opened' | 'grouped' | 'stale'> {
  const { client } = context;
  const lastResolvedAt = await lockKey(client, command.dedupKey);
  const open = await openIncident(client, command.dedupKey);
  const data = { rule: command.rule, severity: command.severity, occurredAt: context.eventTime.toISOString() };
  if (open !== undefined) {
    const severity = moreSevere(open.severity, command.severity);
    const raised = severity !== open.severity;
    const updated = await client.query<{ updated_at: Date }>(
      `UPDATE incidents SET alert_count = alert_count + 1, updated_at = now(), severity = $2::"Severity", title = CASE WHEN $3 THEN $4 ELSE title END WHERE id = $1 RETURNING updated_at`,
      [open.id, severity, raised, command.title],
    );
    context.touched.incidents.push({ id: open.id, updatedAt: updated.rows[0]!.updated_at });
    await addTimeline(context, open.id, 'alert', raised ? `Alert raised severity to ${severity}: ${command.title}` : `Alert: ${command.title}`, data);
    await linkServices(context, open.id);
    return 'grouped';
  }
  // A trigger that happened before the latest resolve is old news delivered late.
  if (lastResolvedAt !== null && context.eventTime.getTime() <= lastResolvedAt.getTime()) return 'stale';

  const { rows } = await client.query<{ id: string; updated_at: Date }>(
    `INSERT INTO incidents (title, severity, dedup_key, app_name, entity, triggered_at) VALUES ($1, $2::"Severity", $3, $4, $5, $6) RETURNING id, updated_at`,
    [command.title, command.severity, command.dedupKey, context.appName, context.entity, context.eventTime],
  );
  const incidentId = rows[0]!.id;
  context.touched.incidents.push({ id: incidentId, updatedAt: rows[0]!.updated_at });
  await linkServices(context, incidentId);
  await addTimeline(context, incidentId, 'triggered', `Triggered: ${command.title}`, data);
  await noteSuspectDeploy(context, incidentId);
  return 'opened';
}

async function resolve(context: ApplyContext, command: Extract<EventCommand, { type: 'incident.resolve' }>): Promise<'resolved' | 'none'> {
  const { client } = context;
  await lockKey(client, command.dedupKey);
  await client.query(
    'UPDATE incident_keys SET last_resolved_at = GREATEST(COALESCE(last_resolved_at, $2), $2), updated_at = now() WHERE dedup_key = $1',
    [command.dedupKey, context.eventTime],
  );
  const open = await openIncident(client, command.dedupKey);
  // Only an incident opened before the resolving event happened: an old "up" must not resolve a newer crash.
  if (open === undefined || open.triggered_at.getTime() > context.eventTime.getTime()) return 'none';
  const resolvedRow = await client.query<{ updated_at: Date }>(
    `UPDATE incidents SET status = 'resolved', resolved_at = now(), resolved_by = $2, updated_at = now() WHERE id = $1 RETURNING updated_at`,
    [open.id, `heroku (${command.rule})`],
  );
  context.touched.incidents.push({ id: open.id, updatedAt: resolvedRow.rows[0]!.updated_at });
  await addTimeline(context, open.id, 'resolved', `Resolved: ${command.message ?? 'Heroku reported recovery'}`, { rule: command.rule, occurredAt: context.eventTime.toISOString() }, 'heroku');
  return 'resolved';
}

async function createPulse(context: ApplyContext, command: Extract<EventCommand, { type: 'pulse' }>): Promise<boolean> {
  const { client } = context;
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO pulses (kind, summary, app_name, status, version, commit_sha, actor_email, external_id, dedup_key, correlation_id, occurred_at, data, event_id)
     VALUES ($1::"PulseKind", $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (dedup_key) DO NOTHING RETURNING id`,
    [
      command.kind,
      command.summary,
      context.appName,
      command.status,
      command.version,
      command.commitSha,
      command.actorEmail,
      command.externalId,
      command.dedupKey,
      command.correlationId,
      context.eventTime,
      JSON.stringify(command.fields),
      context.eventRowId,
    ],
  );
  const pulseId = rows[0]?.id;
  if (pulseId === undefined) return false;
  context.touched.pulseIds.push(pulseId);
  if (context.serviceIds.length > 0) {
    await client.query(
      'INSERT INTO pulse_services (pulse_id, service_id, occurred_at) SELECT $1, unnest($2::uuid[]), $3 ON CONFLICT DO NOTHING',
      [pulseId, context.serviceIds, context.eventTime],
    );
  }
  return true;
}

/** The deploy most likely behind a new incident: the newest pulse of its app or services in the hour before. */
async function noteSuspectDeploy(context: ApplyContext, incidentId: string) {
  const { rows } = await context.client.query<{ id: string; kind: string; summary: string; version: string | null; actor_email: string | null; commit_sha: string | null; occurred_at: Date }>(
    `SELECT p.id, p.kind::text, p.summary, p.version, p.actor_email, p.commit_sha, p.occurred_at
       FROM pulses p
      WHERE p.occurred_at BETWEEN $1::timestamptz - interval '60 minutes' AND $1::timestamptz
        AND (p.app_name = $2 OR p.id IN (SELECT pulse_id FROM pulse_services WHERE service_id = ANY($3::uuid[])))
        AND (p.status IS NULL OR p.status NOT IN ('pending', 'failed'))
      ORDER BY p.occurred_at DESC, p.id DESC
      LIMIT 1`,
    [context.eventTime, context.appName, context.serviceIds],
  );
  const pulse = rows[0];
  if (pulse === undefined) return;
  const minutes = Math.max(0, Math.round((context.eventTime.getTime() - pulse.occurred_at.getTime()) / 60_000));
  const what = pulse.version ? `${pulse.kind} ${pulse.version}` : pulse.summary;
  const by = pulse.actor_email ? ` by ${pulse.actor_email}` : '';
  const commit = pulse.commit_sha ? ` (${pulse.commit_sha.slice(0, 7)})` : '';
  await addTimeline(context, incidentId, 'suspect_deploy', `Triggered ${minutes} min after ${what}${by}${commit}`, { pulseId: pulse.id, minutes });
}

/**
 * The incidents and pulses an event touched, read back from what it wrote: a job retried after
 * its transaction committed (or a replay) finds them again, so their notifications are never
 * skipped.
 */
export async function touchedByEvent(pool: pg.Pool, eventRowId: string): Promise<{ incidents: { id: string; updatedAt: Date }[]; pulseIds: string[] }> {
  const [incidents, pulses] = await Promise.all([
    pool.query<{ id: string; updated_at: Date }>(
      'SELECT i.id, i.updated_at FROM incidents i WHERE i.id IN (SELECT incident_id FROM timeline_entries WHERE event_id = $1)',
      [eventRowId],
    ),
    pool.query<{ id: string }>('SELECT id FROM pulses WHERE event_id = $1', [eventRowId]),
  ]);
  return { incidents: incidents.rows.map((row) => ({ id: row.id, updatedAt: row.updated_at })), pulseIds: pulses.rows.map((row) => row.id) };
}

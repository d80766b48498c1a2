import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { WebClient } from '@slack/web-api';
import type { Db } from '../db/client.js';
import type { Logger } from '../logger.js';
import { AppError } from '../errors.js';
import { APP_ACTION_TIME_LIMIT_S, executeAppAction, planRollback, restartTargetOf } from '../heroku/app-actions.js';
import type { HerokuClientForApp } from '../heroku/app-clients.js';
import { executeRun, type RunDeps } from '../heroku/execute-run.js';
import { changeIncidentStatus, NEXT_UPDATED_AT } from '../incidents/incident-actions.js';
import { channelIdOf } from '../slack/channel-ids.js';
import { truncateText } from '../slack/mrkdwn.js';
import type { Workflow, WorkflowAction, WorkflowSet } from './workflow-config.js';
import { loadWorkflowSubjects, workflowScope, type WorkflowIncident, type WorkflowSubject } from './workflow-match.js';

/** Tries per action when it failed without acting (Heroku or Slack refused, the database was away). */
const ACTION_ATTEMPTS = 3;
const RETRY_BASE_MS = 1_000;

export interface WorkflowExecutorDeps {
  pool: pg.Pool;
  prisma: Db;
  workflows: WorkflowSet;
  runDeps: RunDeps;
  herokuFor: HerokuClientForApp;
  slack: WebClient | null;
  /** Where `slack.post` goes when it names no channel and the subject has none. */
  slackDefaultChannel: string | undefined;
  publicUrl: string;
  logger: Logger;
  /** Waits between tries (tests make it short). */
  retryBaseMs?: number;
}

/** One action's record in `workflow_runs.actions`. */
interface ActionState {
  action: WorkflowAction['kind'];
  status: 'started' | 'succeeded' | 'failed';
  startedAt: string;
  finishedAt?: string;
  ms?: number;
  result?: string;
  error?: string;
  runId?: string;
  attempts?: number;
}

/** How long a job holds a run without renewing its lease. */
const LEASE_S = 120;

interface HeldRun extends RunRow {
  token: string;
  /** Set when the lease could not be renewed: the run may be another job's now. */
  lost: boolean;
}

interface RunRow {
  id: string;
  workflow: string;
  trigger: WorkflowSubject['trigger'];
  incident_id: string | null;
  pulse_id: string | null;
  status: string;
  actions: ActionState[];
}

/** A failure that means the action did not act: it may be tried again. */
class NotActed extends Error {}

/**
 * Runs a workflow run's actions in order, recording each (status, timing, result) in the run as
 * it goes, so a retried job resumes after the last finished action. An action is marked started
 * before it acts: one found started by a retry may have acted, so it is failed (never done
 * twice), except those that are safe to repeat (setting a severity, acknowledging). A failure
 * that means nothing was done is tried again with backoff, then recorded; a failed action ends
 * the run. The outcome goes on the incident's timeline, and so to its Slack thread.
 */
export async function executeWorkflowRun(deps: WorkflowExecutorDeps, workflowRunId: string): Promise<void> {
  // A job takes the run for itself: a queued run, or a running one whose holder's lease ran out
  // (its worker died). Any other job finds it taken and leaves it.
  const token = randomUUID();
  const claimed = await deps.pool.query<RunRow>(
    `UPDATE workflow_runs SET status = 'running', started_at = COALESCE(started_at, now()), claim_token = $2, claimed_until = now() + make_interval(secs => $3)
      WHERE id = $1 AND (status = 'queued' OR (status = 'running' AND (claimed_until IS NULL OR claimed_until < now())))
      RETURNING id, workflow, trigger, incident_id, pulse_id, status, actions`,
    [workflowRunId, token, LEASE_S],
  );
  const found = claimed.rows[0];
  if (found === undefined) return;
  const run: HeldRun = { ...found, token, lost: false };
  // The lease is renewed while the actions run (a command may run for half an hour); a holder
  // that could not renew it stops writing, since another job may have taken the run.
  const renew = setInterval(() => {
    deps.pool
      .query('UPDATE workflow_runs SET claimed_until = now() + make_interval(secs => $3) WHERE id = $1 AND claim_token = $2', [run.id, token, LEASE_S])
      .then((result) => {
        if (result.rowCount === 0) run.lost = true;
      })
      .catch(() => undefined);
  }, (LEASE_S * 1000) / 4);
  try {
    await carryOut(deps, run);
  } catch (error) {
    if (!(error instanceof LostClaim)) throw error;
    deps.logger.warn({ workflowRunId: run.id }, error.message);
  } finally {
    clearInterval(renew);
  }
}

async function carryOut(deps: WorkflowExecutorDeps, run: HeldRun): Promise<void> {
  const workflow = deps.workflows.workflows.find((w) => w.name === run.workflow);
  if (workflow === undefined) {
    await finishRun(deps, run, 'failed', `the workflow ${run.workflow} is no longer enabled in ${deps.workflows.file}`);
    return;
  }
  const subject = await loadSubject(deps, run);
  if (subject === null) {
    await finishRun(deps, run, 'failed', 'its incident or pulse no longer exists');
    return;
  }
  const states = [...run.actions];
  for (let index = 0; index < workflow.actions.length; index += 1) {
    const action = workflow.actions[index]!;
    const state = states[index];
    if (state?.status === 'succeeded') continue;
    if (state?.status === 'failed') return finishRun(deps, run, 'failed', `${action.kind} failed`);
    if (state?.status === 'started' && !REPEATABLE.has(action.kind)) {
      states[index] = { ...state, status: 'failed', finishedAt: new Date().toISOString(), error: 'the worker stopped while it ran; it was not run again, since it may have acted' };
      await saveStates(deps.pool, run, states);
      return finishRun(deps, run, 'failed', `${action.kind} was interrupted`);
    }
    const started = Date.now();
    states[index] = { action: action.kind, status: 'started', startedAt: new Date(started).toISOString() };
    await saveStates(deps.pool, run, states);
    let outcome: { ok: true; result: string; runId?: string } | { ok: false; error: string; runId?: string };
    let attempts = 0;
    for (;;) {
      attempts += 1;
      try {
        outcome = { ok: true, ...(await perform(deps, workflow, action, subject, run.id)) };
      } catch (error) {
        if (error instanceof NotActed && attempts < ACTION_ATTEMPTS) {
          await new Promise((resolve) => setTimeout(resolve, (deps.retryBaseMs ?? RETRY_BASE_MS) * 2 ** (attempts - 1)));
          continue;
        }
        outcome = { ok: false, error: (error as Error).message, ...((error as { runId?: string }).runId !== undefined && { runId: (error as { runId?: string }).runId }) };
      }
      break;
    }
    states[index] = {
      ...states[index]!,
      status: outcome.ok ? 'succeeded' : 'failed',
      finishedAt: new Date().toISOString(),
      ms: Date.now() - started,
      attempts,
      ...(outcome.ok ? { result: outcome.result } : { error: outcome.error }),
      ...(outcome.runId !== undefined && { runId: outcome.runId }),
    };
    await saveStates(deps.pool, run, states);
    if (!outcome.ok) return finishRun(deps, run, 'failed', `${action.kind} failed: ${outcome.error}`, states);
  }
  await finishRun(deps, run, 'succeeded', null, states);
}

/** Actions that may be done again when a retry finds them started: they change nothing a second time. */
const REPEATABLE = new Set<WorkflowAction['kind']>(['incident.set_severity', 'incident.acknowledge']);

/** Records the actions' states while the run is still this job's; throws when it is not (another job took it over). */
async function saveStates(pool: pg.Pool, run: HeldRun, states: ActionState[]) {
  const { rowCount } = await pool.query('UPDATE workflow_runs SET actions = $3 WHERE id = $1 AND claim_token = $2', [run.id, run.token, JSON.stringify(states)]);
  if (rowCount === 0) run.lost = true;
  if (run.lost) throw new LostClaim();
}

/** The run passed to another job (this one's lease ran out): this job stops without another write. */
class LostClaim extends Error {
  constructor() {
    super('the workflow run was taken over by another job after this one could not renew its lease');
  }
}

async function loadSubject(deps: WorkflowExecutorDeps, run: RunRow): Promise<WorkflowSubject | null> {
  const subjects = await loadWorkflowSubjects(deps.pool, [{ key: run.id, trigger: run.trigger, incidentId: run.incident_id, pulseId: run.pulse_id }], deps.publicUrl);
  return subjects.get(run.id) ?? null;
}

/** Does one action; returns what it did, or throws (`NotActed` when it may be tried again). */
async function perform(deps: WorkflowExecutorDeps, workflow: Workflow, action: WorkflowAction, subject: WorkflowSubject, workflowRunId: string): Promise<{ result: string; runId?: string }> {
  const actor = `workflow ${workflow.name}`;
  const incident = subject.incident;
  const appName = incident?.app_name ?? subject.pulse?.app_name ?? null;
  switch (action.kind) {
    case 'heroku.run':
    case 'heroku.restart':
    case 'heroku.rollback': {
      if (incident === null || appName === null) throw new Error(`${action.kind} needs an incident that names an app`);
      // Refused before anything is recorded when no integration with credentials monitors the app.
      await deps.herokuFor(appName);
      const runId = await createActionRun(deps, action, incident, appName, actor, workflowRunId);
      if (action.kind === 'heroku.run') await executeRun(deps.runDeps, runId);
      else await executeAppAction({ pool: deps.pool, herokuFor: deps.herokuFor }, runId);
      const { rows } = await deps.pool.query<{ status: string; error: string | null; result_version: number | null; exit_status: number | null }>('SELECT status::text, error, result_version, exit_status FROM action_runs WHERE id = $1', [runId]);
      const done = rows[0]!;
      if (done.status !== 'succeeded') throw Object.assign(new Error(done.error ?? `the ${action.kind} run ended ${done.status}`), { runId });
      const result =
        action.kind === 'heroku.rollback' ? `new release v${done.result_version}` : action.kind === 'heroku.run' ? `exit status ${done.exit_status}` : 'restarted';
      return { result, runId };
    }
    case 'slack.post': {
      if (deps.slack === null) throw new Error('Slack is not configured (SLACK_BOT_TOKEN)');
      const text = truncateText(String(await deps.workflows.liquid.slack.render(action.text, workflowScope(subject, workflow.name))).trim(), 3_000);
      if (text === '') return { result: 'nothing to post (the text rendered empty)' };
      // To the channel named, else where the incident was posted, else the default channel.
      const thread = incident === null ? undefined : (await deps.pool.query<{ channel: string; ts: string; target: string }>('SELECT channel, ts, target FROM slack_messages WHERE incident_id = $1 AND ts IS NOT NULL ORDER BY created_at LIMIT 1', [incident.id])).rows[0];
      const target = action.channel ?? thread?.target ?? deps.slackDefaultChannel;
      if (target === undefined) throw new Error('no channel: name one, or set SLACK_DEFAULT_CHANNEL');
      const channel = thread !== undefined && (action.channel === null || action.channel === thread.target) ? thread.channel : await channelIdOf(deps.slack, deps.pool, target);
      if (typeof channel !== 'string') throw new Error(`Slack has no channel ${target} the bot is in`);
      try {
        const posted = await deps.slack.chat.postMessage({ channel, text, ...(thread !== undefined && channel === thread.channel && { thread_ts: thread.ts }), unfurl_links: false });
        return { result: `posted to ${target}${posted.ts ? ` (${posted.ts})` : ''}` };
      } catch (error) {
        // Slack answered with an error: nothing was posted.
        throw new NotActed(`Slack refused: ${(error as { data?: { error?: string } }).data?.error ?? (error as Error).message}`);
      }
    }
    case 'incident.set_severity': {
      if (incident === null) throw new Error('incident.set_severity needs an incident');
      const { rowCount } = await deps.pool.query(
        `WITH changed AS (UPDATE incidents SET severity = $2::"Severity", updated_at = ${NEXT_UPDATED_AT} WHERE id = $1 AND severity <> $2::"Severity" RETURNING id)
         INSERT INTO timeline_entries (incident_id, kind, message, actor) SELECT id, 'severity', $3, $4 FROM changed`,
        [incident.id, action.severity, `Severity set to ${action.severity} by ${actor}`, actor],
      );
      return { result: rowCount ? `severity ${action.severity}` : `already ${action.severity}` };
    }
    case 'incident.acknowledge': {
      if (incident === null) throw new Error('incident.acknowledge needs an incident');
      const changed = await changeIncidentStatus(deps.pool, incident.id, 'acknowledge', actor);
      if (!changed.ok) return { result: changed.reason === 'already_resolved' ? 'already resolved' : 'the incident is gone' };
      return { result: changed.changed ? 'acknowledged' : 'already acknowledged' };
    }
  }
}

/** The action run a Heroku action makes (its own record, on the timeline like a person's). */
async function createActionRun(deps: WorkflowExecutorDeps, action: WorkflowAction, incident: WorkflowIncident, appName: string, actor: string, workflowRunId: string): Promise<string> {
  if (action.kind === 'heroku.run') {
    const { rows } = await deps.pool.query<{ id: string }>(
      `INSERT INTO action_runs (incident_id, kind, command, app_name, dyno_size, time_to_live, post_to_timeline, slack_channels, requested_by, workflow_run_id)
       VALUES ($1, 'run', $2, $3, $4, $5, true, $6, $7, $8) RETURNING id`,
      [incident.id, action.command, appName, action.dynoSize, action.timeToLive, action.slackChannels, actor, workflowRunId],
    );
    return rows[0]!.id;
  }
  if (action.kind === 'heroku.restart') {
    const own = action.dyno === null && action.processType === null && !action.all ? restartTargetOf({ appName, entity: incident.entity, dedupKey: incident.dedup_key }) : null;
    if (action.dyno === null && action.processType === null && !action.all && own === null) throw new Error('the incident names no dyno or process type to restart; give dyno, process_type or all in the workflow');
    const dyno = action.dyno ?? (own !== null && 'dyno' in own ? own.dyno : null);
    const processType = action.processType ?? (own !== null && 'processType' in own ? own.processType : null);
    const { rows } = await deps.pool.query<{ id: string }>(
      `INSERT INTO action_runs (incident_id, kind, app_name, dyno_name, process_type, time_to_live, post_to_timeline, requested_by, workflow_run_id)
       VALUES ($1, 'restart', $2, $3, $4, $5, true, $6, $7) RETURNING id`,
      [incident.id, appName, dyno, processType, APP_ACTION_TIME_LIMIT_S, actor, workflowRunId],
    );
    return rows[0]!.id;
  }
  let plan;
  try {
    plan = await planRollback({ db: deps.prisma, herokuFor: deps.herokuFor }, incident.id, {});
  } catch (error) {
    if (error instanceof AppError) throw new Error(`no rollback: ${error.message}`, { cause: error });
    throw error;
  }
  const { rows } = await deps.pool.query<{ id: string }>(
    `INSERT INTO action_runs (incident_id, kind, app_name, target_release_id, target_version, expected_version, time_to_live, post_to_timeline, requested_by, workflow_run_id)
     VALUES ($1, 'rollback', $2, $3, $4, $5, $6, true, $7, $8) RETURNING id`,
    [incident.id, appName, plan.target.id, plan.target.version, plan.current.version, APP_ACTION_TIME_LIMIT_S, actor, workflowRunId],
  );
  return rows[0]!.id;
}

/** Records the run's outcome and, for an incident, one timeline entry saying what each action did. */
async function finishRun(deps: WorkflowExecutorDeps, run: HeldRun, status: 'succeeded' | 'failed', error: string | null, states: ActionState[] = run.actions): Promise<void> {
  const { rowCount } = await deps.pool.query(
    `UPDATE workflow_runs SET status = $3, error = $4, finished_at = now(), claimed_until = NULL WHERE id = $1 AND status = 'running' AND claim_token = $2`,
    [run.id, run.token, status, error],
  );
  if (!rowCount || run.incident_id === null) return;
  const steps = states.map((state) => `${state.action} ${state.status}${state.ms !== undefined ? ` (${(state.ms / 1000).toFixed(1)} s)` : ''}${state.result ? `: ${state.result}` : ''}${state.error ? `: ${state.error}` : ''}`);
  const message = `Workflow ${run.workflow} ${status === 'succeeded' ? 'ran' : 'failed'} on ${run.trigger}${steps.length > 0 ? `: ${steps.join('; ')}` : ''}${status === 'failed' && error !== null && steps.length === 0 ? `: ${error}` : ''}`;
  const added = await deps.pool.query(
    `INSERT INTO timeline_entries (incident_id, kind, message, data, actor)
     SELECT $1, 'workflow', $2, $3, $4 WHERE EXISTS (SELECT 1 FROM incidents WHERE id = $1)
       AND NOT EXISTS (SELECT 1 FROM timeline_entries WHERE incident_id = $1 AND kind = 'workflow' AND data->>'workflowRunId' = $5)`,
    [run.incident_id, truncateText(message, 3_000), JSON.stringify({ workflowRunId: run.id, status }), `workflow ${run.workflow}`, run.id],
  );
  if (added.rowCount) await deps.pool.query(`UPDATE incidents SET updated_at = ${NEXT_UPDATED_AT} WHERE id = $1`, [run.incident_id]);
}

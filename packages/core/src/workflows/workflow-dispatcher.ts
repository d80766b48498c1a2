import type pg from 'pg';
import type { Logger } from '../logger.js';
import type { Queues } from '../queues/queues.js';
import { repeatEvery } from '../repeat.js';
import type { WorkflowSet, WorkflowTrigger } from './workflow-config.js';
import { loadWorkflowSubjects, matchWorkflows, type WorkflowSubject } from './workflow-match.js';

/** Outbox rows taken per pass. */
const BATCH = 100;
/** A queued run whose job has not started it within this long is queued again (its job was lost). */
const LOST_JOB_MS = 60_000;
const SWEEP_EVERY_MS = 30_000;

/** A change older than this when a worker first sees it (no worker ran meanwhile) starts no automation: its runs are skipped, saying so. */
export const STALE_CHANGE_MS = 60 * 60_000;

interface OutboxRow {
  id: string;
  age_ms: number;
  trigger: WorkflowTrigger;
  trigger_key: string;
  incident_id: string | null;
  pulse_id: string | null;
}

export interface WorkflowDispatcherDeps {
  pool: pg.Pool;
  workflows: WorkflowSet;
  queues: Pick<Queues, 'enqueueWorkflowRun' | 'workflowRunJobPending'>;
  logger: Logger;
  /** Where incident pages are (their `url` in templates). */
  publicUrl: string;
}

/**
 * Turns incident and pulse changes into workflow runs, in the worker. The changes come from an
 * outbox written by triggers in the transactions that make them (prisma/functions/30_workflows.sql).
 * A pass takes the oldest rows no other worker holds (FOR UPDATE SKIP LOCKED), matches the
 * workflows, records one run per workflow and change (`workflow_runs_once`: a replayed event is
 * the same change, so nothing runs twice) and deletes the rows, in one transaction; then queues
 * the runs. A workflow in its cool-down for the app gets a `skipped` run saying so, decided
 * under a lock per workflow and app so two workers cannot both start one; so does a change an
 * hour old (no worker ran meanwhile), which no automation should act on any more.
 */
export class WorkflowDispatcher {
  private lastSweepMs = 0;

  constructor(private readonly deps: WorkflowDispatcherDeps) {}

  /** Tells the outbox triggers whether to write (only while some workflow is enabled). */
  async configure(): Promise<void> {
    await this.deps.pool.query('UPDATE workflow_settings SET enabled = $1, updated_at = now() WHERE id = 1 AND enabled IS DISTINCT FROM $1', [this.deps.workflows.workflows.length > 0]);
  }

  /** One pass: dispatch what the outbox holds (batch by batch), and now and then queue runs whose job was lost. */
  async tick(now = Date.now()): Promise<number> {
    let started = 0;
    for (;;) {
      const { runs, taken } = await this.dispatchBatch();
      started += runs.length;
      for (const id of runs) await this.deps.queues.enqueueWorkflowRun(id).catch((error: unknown) => this.deps.logger.warn({ err: error, workflowRunId: id }, 'could not queue a workflow run; the sweep will'));
      if (taken < BATCH) break;
    }
    if (now - this.lastSweepMs >= SWEEP_EVERY_MS) {
      this.lastSweepMs = now;
      await this.sweep();
    }
    return started;
  }

  private async dispatchBatch(): Promise<{ runs: string[]; taken: number }> {
    const client = await this.deps.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<OutboxRow>(
        'SELECT id::text, trigger, trigger_key, incident_id, pulse_id, (extract(epoch FROM now() - created_at) * 1000)::float8 AS age_ms FROM workflow_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED',
        [BATCH],
      );
      const runs: string[] = [];
      if (rows.length > 0 && this.deps.workflows.workflows.length > 0) {
        const subjects = await loadWorkflowSubjects(client, rows.map((row) => ({ key: row.id, trigger: row.trigger, incidentId: row.incident_id, pulseId: row.pulse_id })), this.deps.publicUrl);
        for (const row of rows) {
          const subject = subjects.get(row.id);
          if (subject === undefined) continue; // the incident or pulse is gone
          const matched = await matchWorkflows(this.deps.workflows, subject, (workflow, error) => this.deps.logger.warn({ workflow, err: error.message }, 'a workflow condition could not be rendered; the workflow did not run'));
          for (const workflow of matched) {
            const id = await this.record(client, workflow.name, workflow.cooldownMinutes, row, subject);
            if (id !== null) runs.push(id);
          }
        }
      }
      if (rows.length > 0) await client.query('DELETE FROM workflow_outbox WHERE id = ANY($1::bigint[])', [rows.map((row) => row.id)]);
      await client.query('COMMIT');
      return { runs, taken: rows.length };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Records a run (or a skipped one, in its cool-down); the id of a run to queue, else null. */
  private async record(client: pg.PoolClient, workflow: string, cooldownMinutes: number, row: OutboxRow, subject: WorkflowSubject): Promise<string | null> {
    const appName = subject.incident?.app_name ?? subject.pulse?.app_name ?? null;
    let skipped: string | null = row.age_ms > STALE_CHANGE_MS ? `stale: the change was ${Math.round(row.age_ms / 60_000)} min old when a worker first saw it` : null;
    if (skipped === null && cooldownMinutes > 0 && appName !== null) {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`workflow-cooldown:${workflow}:${appName}`]);
      const { rows } = await client.query<{ created_at: Date }>(
        `SELECT created_at FROM workflow_runs WHERE workflow = $1 AND app_name = $2 AND status <> 'skipped' AND created_at > now() - make_interval(mins => $3) ORDER BY created_at DESC LIMIT 1`,
        [workflow, appName, cooldownMinutes],
      );
      if (rows[0]) skipped = `cool-down: it ran on ${appName} at ${rows[0].created_at.toISOString()}, less than ${cooldownMinutes} min before`;
    }
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO workflow_runs (workflow, trigger, trigger_key, incident_id, pulse_id, app_name, status, skipped_reason, finished_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $7 = 'skipped' THEN now() END)
       ON CONFLICT (workflow, trigger_key) DO NOTHING RETURNING id`,
      [workflow, row.trigger, row.trigger_key, row.incident_id, row.pulse_id, appName, skipped === null ? 'queued' : 'skipped', skipped],
    );
    return rows[0] !== undefined && skipped === null ? rows[0].id : null;
  }

  /**
   * Queues again the runs still queued a minute after they were made, and those running whose
   * lease ran out (their job was lost, e.g. with Redis, or its worker died), unless a job of
   * theirs is still waiting or running: the new job resumes them, failing an action that may
   * have acted. One such job per run every ten minutes at most.
   */
  private async sweep(): Promise<void> {
    const { rows } = await this.deps.pool.query<{ id: string }>(
      `SELECT id FROM workflow_runs
        WHERE (status = 'queued' AND created_at < now() - make_interval(secs => $1))
           OR (status = 'running' AND claimed_until < now())
        ORDER BY created_at LIMIT 100`,
      [LOST_JOB_MS / 1000],
    );
    const window = `resume-${Math.floor(Date.now() / 600_000)}`;
    for (const row of rows) {
      if (await this.deps.queues.workflowRunJobPending(row.id, window)) continue;
      await this.deps.queues.enqueueWorkflowRun(row.id, window);
    }
  }
}

/** Runs the dispatcher every `intervalMs` until stopped; failures are logged and retried next pass. */
export function startWorkflowDispatcher(dispatcher: WorkflowDispatcher, options: { intervalMs: number; logger: Logger }) {
  return repeatEvery(options.intervalMs, () => dispatcher.tick(), (error) => options.logger.warn({ err: error }, 'workflow dispatch failed; will retry'));
}

import type pg from 'pg';
import { RUN_TIME_TO_LIVE_CAP } from './execute-run.js';

/**
 * How long past its time to live a run may stay `queued` or `running` before the reconciler
 * looks at it: well beyond the session's own cut (time to live plus 15 s) and a slow finish.
 */
export const ORPHANED_RUN_MARGIN_MS = 5 * 60_000;

/** A run still `queued` or `running` past its time to live plus the margin. */
export interface OverdueRun {
  id: string;
  kind: 'run' | 'rollback' | 'restart';
  status: 'queued' | 'running';
  appName: string;
  dynoId: string | null;
  dynoName: string | null;
}

/** Runs still `queued` or `running` once their time to live plus `marginMs` has passed since they started (or were asked for), oldest first. */
export async function findOverdueRuns(pool: pg.Pool, options: { marginMs: number; limit?: number }, now = new Date()): Promise<OverdueRun[]> {
  const { rows } = await pool.query<OverdueRun>(
    `SELECT id, kind, status::text AS status, app_name AS "appName", dyno_id AS "dynoId", dyno_name AS "dynoName" FROM action_runs
      WHERE status IN ('queued', 'running')
        AND COALESCE(started_at, created_at) + make_interval(secs => LEAST(time_to_live, $1)) + $2 * interval '1 millisecond' < $3
      ORDER BY created_at LIMIT $4`,
    [RUN_TIME_TO_LIVE_CAP, options.marginMs, now, options.limit ?? 100],
  );
  return rows;
}

/** Why an orphaned run failed, as the run, its timeline entry and its Slack upload say it; `jobFailure` is its job's last error when the job failed for good. */
export function orphanedRunReason(run: OverdueRun, jobFailure?: string): string {
  const job = jobFailure === undefined ? null : `its job failed (${jobFailure.slice(0, 200)})`;
  if (run.status === 'queued') return `orphaned: ${job ?? 'its job was lost'} before it started, so nothing ran on Heroku; ${run.kind === 'run' ? 'run it' : 'ask'} again if it is still needed`;
  if (run.kind !== 'run') {
    const check = run.kind === 'rollback' ? `\`heroku releases -a ${run.appName}\`` : `\`heroku ps -a ${run.appName}\``;
    return `orphaned: ${job ?? 'the worker carrying it out stopped (or its job was lost)'} while Heroku was being asked, so whether the ${run.kind} happened is unknown; see ${check}`;
  }
  const dyno = run.dynoName ?? run.dynoId;
  const logs = dyno ? `\`heroku logs -a ${run.appName} --dyno ${dyno}\`` : `\`heroku ps -a ${run.appName}\``;
  return `orphaned: ${job ?? 'the worker running it stopped (or its job was lost)'} and no worker finished it; its dyno's time to live is over, so the command ended without pulsebridge seeing how. Output after the last save is lost; see ${logs}`;
}

/**
 * Marks an overdue run failed with `orphanedRunReason`, unless it changed meanwhile (a worker
 * finishing it first keeps its outcome; a worker finishing it later cannot overwrite this).
 * True when it was marked.
 */
export async function failOrphanedRun(pool: pg.Pool, run: OverdueRun, jobFailure?: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE action_runs SET status = 'failed', error = $3, finished_at = now() WHERE id = $1 AND status = $2::"ActionRunStatus"`,
    [run.id, run.status, orphanedRunReason(run, jobFailure)],
  );
  return rowCount === 1;
}

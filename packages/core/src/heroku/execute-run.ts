import { UnrecoverableError } from 'bullmq';
import type pg from 'pg';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { NEXT_UPDATED_AT } from '../incidents/incident-actions.js';
import { channelIdOf } from '../slack/channel-ids.js';
import { escapeMrkdwn, truncateText } from '../slack/mrkdwn.js';
import { OutputKeeper } from './output-keeper.js';
import { HerokuApiError, type HerokuClient } from './platform-client.js';
import { attachToDyno, RendezvousError } from './rendezvous.js';
import { CommandTemplateError, createCommandLiquid, readExitStatus, renderCommand, withExitMarker, type RenderedCommand } from './run-command.js';

/** Time to live for one-off dynos pulsebridge starts: the default and the most allowed. */
export const RUN_TIME_TO_LIVE_CAP = 1800;

export interface RunDeps {
  pool: pg.Pool;
  /** The Heroku client of the integration that monitors the run's app. */
  heroku: (appName: string) => Promise<HerokuClient>;
  slack: WebClient | null;
  logger: Logger;
  rendezvousCa?: string | Buffer;
  /** Extra time after the dyno's time to live before the session is cut. */
  graceMs?: number;
}

interface RunRow {
  id: string;
  incident_id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  command: string;
  rendered_command: string | null;
  app_name: string;
  dyno_size: string;
  time_to_live: number;
  dyno_id: string | null;
  started_at: Date | null;
  post_to_timeline: boolean;
  slack_channels: string[];
  slack_uploaded_to: string[];
  requested_by: string;
  exit_status: number | null;
  output: string | null;
}

const liquid = createCommandLiquid();

/** Records a running run's outcome; a run already finished (e.g. failed by the reconciler as orphaned) keeps its outcome. */
async function finishRun(pool: pg.Pool, runId: string, result: { status: 'succeeded' | 'failed'; exitStatus: number | null; output: string | null; truncated?: boolean; error: string | null }) {
  await pool.query(
    `UPDATE action_runs SET status = $2::"ActionRunStatus", exit_status = $3, output = COALESCE($4, output), output_truncated = $5, error = $6, finished_at = now() WHERE id = $1 AND status = 'running'`,
    [runId, result.status, result.exitStatus, result.output, result.truncated ?? false, result.error],
  );
}

/**
 * `heroku.run`: runs a responder's command on a one-off dyno and records what happened. The
 * dyno is created at most once per run: a retry after the run started never creates another
 * (when a crash left it unclear whether Heroku started one, the run says so and stops).
 */
export async function executeRun(deps: RunDeps, runId: string): Promise<void> {
  const { rows } = await deps.pool.query<RunRow>('SELECT * FROM action_runs WHERE id = $1', [runId]);
  const run = rows[0];
  if (run === undefined) return;
  if (run.status === 'queued') {
    const refused = await startAndAttach(deps, run);
    if (refused !== undefined) {
      await publishRun(deps, runId);
      // The same template over the same incident is refused again: no retry.
      throw new UnrecoverableError(refused);
    }
  } else if (run.status === 'running') {
    const known = run.dyno_id ? ` (dyno ${run.dyno_id})` : '';
    await finishRun(deps.pool, run.id, {
      status: 'failed',
      exitStatus: null,
      output: null,
      error: `pulsebridge stopped while the command was running${known}; it was not started again. Check \`heroku ps -a ${run.app_name}\`.`,
    });
  }
  await publishRun(deps, runId);
}

/** Starts the dyno and follows it; returns the reason when the command template is refused. */
async function startAndAttach(deps: RunDeps, run: RunRow): Promise<string | undefined> {
  const incident = await deps.pool.query<{ id: string; number: number; title: string; status: string; severity: string; app_name: string | null; dedup_key: string }>(
    'SELECT id, number, title, status::text, severity::text, app_name, dedup_key FROM incidents WHERE id = $1',
    [run.incident_id],
  );
  const service = await deps.pool.query<{ name: string }>(
    'SELECT s.name FROM services s JOIN incident_services l ON l.service_id = s.id WHERE l.incident_id = $1 ORDER BY s.name LIMIT 1',
    [run.incident_id],
  );
  let command: RenderedCommand;
  try {
    command = renderCommand(liquid, run.command, { incident: incident.rows[0] ?? {}, service: service.rows[0] ?? {}, app: { name: run.app_name } });
  } catch (error) {
    if (!(error instanceof CommandTemplateError)) throw error;
    await deps.pool.query(`UPDATE action_runs SET status = 'failed', error = $2, finished_at = now() WHERE id = $1 AND status = 'queued'`, [run.id, error.message]);
    return error.message;
  }
  const timeToLive = Math.min(run.time_to_live, RUN_TIME_TO_LIVE_CAP);
  // Claimed before Heroku is asked, so no retry can start a second dyno.
  const claimed = await deps.pool.query(`UPDATE action_runs SET status = 'running', rendered_command = $2, started_at = now() WHERE id = $1 AND status = 'queued'`, [run.id, command.display]);
  if (claimed.rowCount === 0) return;

  let dyno;
  // A dyno's time to live counts from its creation, not from when we attach.
  const requestedAt = Date.now();
  try {
    const client = await deps.heroku(run.app_name);
    // Values reach the dyno as environment variables, never as command text.
    const env = Object.keys(command.env).length > 0 ? { env: command.env } : {};
    dyno = await client.createDyno(run.app_name, { command: withExitMarker(command.command), ...env, attach: true, size: run.dyno_size, type: 'run', time_to_live: timeToLive, force_no_tty: true });
  } catch (error) {
    const message = error instanceof HerokuApiError ? `Heroku refused to start the dyno on ${run.app_name}: ${error.describe()}` : `could not start the dyno: ${(error as Error).message}`;
    await finishRun(deps.pool, run.id, { status: 'failed', exitStatus: null, output: null, error: message });
    return;
  }
  await deps.pool.query('UPDATE action_runs SET dyno_id = $2, dyno_name = $3 WHERE id = $1', [run.id, dyno.id, dyno.name]);
  if (!dyno.attach_url) {
    await finishRun(deps.pool, run.id, { status: 'failed', exitStatus: null, output: null, error: 'Heroku started the dyno without an attach URL' });
    return;
  }

  // Output streams into a bounded head and tail, so a command printing gigabytes costs the
  // worker the same memory as one printing a line. What is kept is saved as it streams (one
  // save at a time, at most once a second), so the run shows progress.
  const keeper = new OutputKeeper();
  let lastSave = 0;
  let saving: Promise<unknown> | null = null;
  // Progress only while running: a save that lands late never overwrites the final output.
  const save = () => {
    lastSave = Date.now();
    saving = deps.pool
      .query(`UPDATE action_runs SET output = $2 WHERE id = $1 AND status = 'running'`, [run.id, keeper.kept().text])
      .catch(() => undefined)
      .finally(() => (saving = null));
  };
  try {
    const session = await attachToDyno(dyno.attach_url, {
      timeoutMs: timeToLive * 1000 + (deps.graceMs ?? 15_000),
      ...(deps.rendezvousCa !== undefined && { ca: deps.rendezvousCa }),
      onOutput: (chunk) => {
        keeper.push(chunk);
        if (saving === null && Date.now() - lastSave > 1_000) save();
      },
    });
    await saving;
    // The exit marker is the output's last line, so it is always in the kept tail.
    const kept = keeper.kept();
    const { output, exitStatus } = readExitStatus(kept.text.replace(/\r\n/g, '\n'));
    const error =
      exitStatus !== null ? (exitStatus === 0 ? null : `the command exited with status ${exitStatus}`)
      : session.timedOut || Date.now() - requestedAt >= timeToLive * 1000 ? `timed out: the dyno's time to live (${timeToLive} s) ran out before the command finished`
      : 'the dyno ended before the command finished (no exit status)';
    await finishRun(deps.pool, run.id, { status: exitStatus === 0 ? 'succeeded' : 'failed', exitStatus, output, truncated: kept.droppedBytes > 0, error });
  } catch (error) {
    await saving;
    const message = error instanceof RendezvousError ? error.message : `attaching to the dyno failed: ${(error as Error).message}`;
    const kept = keeper.totalBytes === 0 ? null : keeper.kept();
    await finishRun(deps.pool, run.id, { status: 'failed', exitStatus: null, output: kept?.text ?? null, truncated: (kept?.droppedBytes ?? 0) > 0, error: message });
  }
}

/** Timeline entry and Slack file upload, each done once per run. */
async function publishRun(deps: RunDeps, runId: string) {
  const { rows } = await deps.pool.query<RunRow & { dyno_name: string | null; error: string | null; output_truncated: boolean }>('SELECT * FROM action_runs WHERE id = $1', [runId]);
  const run = rows[0];
  if (run === undefined || (run.status !== 'succeeded' && run.status !== 'failed')) return;
  const summary = `${run.requested_by} ran \`${run.rendered_command ?? run.command}\` on ${run.app_name}${run.dyno_name ? ` (${run.dyno_name})` : ''}: ${
    run.status === 'succeeded' ? 'succeeded (exit status 0)' : (run.error ?? 'failed')
  }`;
  if (run.post_to_timeline) {
    const added = await deps.pool.query(
      `INSERT INTO timeline_entries (incident_id, kind, message, data, actor)
       SELECT $1, 'action_run', $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM timeline_entries WHERE incident_id = $1 AND kind = 'action_run' AND data->>'runId' = $5)`,
      [run.incident_id, summary, JSON.stringify({ runId: run.id, exitStatus: run.exit_status, status: run.status }), run.requested_by, run.id],
    );
    // A change of the incident: its Slack thread gets the result.
    if (added.rowCount) await deps.pool.query(`UPDATE incidents SET updated_at = ${NEXT_UPDATED_AT} WHERE id = $1`, [run.incident_id]);
  }
  if (deps.slack === null) return;
  for (const channel of run.slack_channels.filter((c) => !run.slack_uploaded_to.includes(c))) {
    const known = await deps.pool.query<{ channel: string; ts: string }>(
      `SELECT channel, ts FROM slack_messages WHERE incident_id = $1 AND target = $2 AND ts IS NOT NULL`,
      [run.incident_id, channel],
    );
    // An upload names its channel by id: a channel given by name is looked up (by name, Slack refuses it).
    const found = known.rows[0]?.channel ?? (await channelIdOf(deps.slack, deps.pool, channel));
    const channelId = typeof found === 'string' ? found : channel.replace(/^#/, '');
    try {
      const upload = {
        file: Buffer.from(run.output ?? ''),
        filename: `${run.app_name}-${run.dyno_name ?? 'run'}.txt`,
        // The command and the summary carry incident text (a title from a payload): escaped, and cut never inside an escape.
        title: truncateText(escapeMrkdwn(`Output of ${run.rendered_command ?? run.command}`), 250),
        initial_comment: truncateText(escapeMrkdwn(summary), 3_000),
      };
      const thread = known.rows[0];
      // In the incident's thread when the incident has a message in that channel.
      await (thread ? deps.slack.filesUploadV2({ ...upload, channel_id: thread.channel, thread_ts: thread.ts }) : deps.slack.filesUploadV2({ ...upload, channel_id: channelId }));
      await deps.pool.query('UPDATE action_runs SET slack_uploaded_to = array_append(slack_uploaded_to, $2) WHERE id = $1', [run.id, channel]);
    } catch (error) {
      deps.logger.warn({ err: error, runId, channel }, 'could not upload the run output to Slack');
      throw error;
    }
  }
}

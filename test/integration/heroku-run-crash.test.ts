import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORPHANED_RUN_MARGIN_MS, runJobId } from '@pulsebridge/core';
import { failOrphanedRuns } from '@pulsebridge/worker';
import { startTestStack, waitFor, workerProcessEnv, type TestStack } from '../support/stack.js';
import { startFakeHeroku, type FakeHeroku } from '../support/fake-heroku.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';

const WORKER = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../apps/worker/dist/main.js');
const TOKEN = 'heroku-api-token-for-crash-tests';

let heroku: FakeHeroku;
let slack: FakeSlack;
let stack: TestStack;
let incidentId: string;
const settings = () => ({
  HEROKU_API_URL: heroku.apiUrl,
  HEROKU_ID_URL: heroku.idUrl,
  RENDEZVOUS_CA_FILE: heroku.rendezvous.caFile,
  SLACK_BOT_TOKEN: slack.token,
  SLACK_API_URL: slack.apiUrl,
  SLACK_CHANNEL_INTERVAL_MS: '50',
});

// Children are stopped even when a test fails before it kills them.
const children: ChildProcess[] = [];
/** The compiled worker as production runs it: `npm run start:worker` caps its heap at 128 MB. */
function startWorkerProcess(): ChildProcess {
  const child = spawn(process.execPath, ['--max-old-space-size=128', WORKER], { env: workerProcessEnv(stack, settings()), stdio: 'ignore' });
  children.push(child);
  return child;
}

beforeAll(async () => {
  heroku = await startFakeHeroku();
  slack = await startFakeSlack();
  heroku.addToken(TOKEN, { apps: ['runner'] });
  stack = await startTestStack({ config: settings() });
  expect((await stack.call('POST', '/api/v1/integrations/heroku', { body: { name: 'crash account', monitoredApps: ['runner'], apiToken: TOKEN } })).status).toBe(201);
  // Made here rather than from a webhook: no worker runs until a test chooses which.
  const [incident] = await stack.sql(
    `INSERT INTO incidents (title, severity, dedup_key, app_name, entity, triggered_at) VALUES ('Release v3 failed on runner', 'high', $1, 'runner', 'api:release', now()) RETURNING id`,
    [`heroku:runner:release:${randomUUID()}`],
  );
  incidentId = incident.id;
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await stack?.stop();
  await heroku?.close();
  await slack?.close();
});

const reconcilerDeps = () => ({ pool: stack.runtime.db.pool, queues: stack.runtime.queues, logger: stack.runtime.logger });
const runOf = async (runId: string) => (await stack.call('GET', `/api/v1/action-runs/${runId}`)).body;
/** Moves a run's start (and request) back past its time to live and the reconciler's margin. */
const backdate = (runId: string) =>
  stack.sql(`UPDATE action_runs SET created_at = created_at - $2 * interval '1 millisecond', started_at = started_at - $2 * interval '1 millisecond' WHERE id = $1`, [
    runId,
    (1800 + 60) * 1000 + ORPHANED_RUN_MARGIN_MS,
  ]);

describe('runs orphaned by a worker that died', () => {
  it('a queued run whose job is gone is marked failed (nothing ran); one whose job still waits is left to it', async () => {
    const [run] = await stack.sql(
      `INSERT INTO action_runs (incident_id, kind, command, app_name, dyno_size, time_to_live, requested_by) VALUES ($1, 'run', 'echo never', 'runner', 'standard-1X', 60, 'test') RETURNING id`,
      [incidentId],
    );
    await backdate(run.id);
    // A job that still waits (here: delayed) will run it; the reconciler leaves it alone.
    await stack.runtime.queues.heroku.add('heroku.run', { runId: run.id }, { jobId: runJobId(run.id), delay: 600_000 });
    expect(await failOrphanedRuns(reconcilerDeps())).toEqual([]);
    expect((await runOf(run.id)).status).toBe('queued');

    await (await stack.runtime.queues.heroku.getJob(runJobId(run.id)))!.remove();
    expect(await failOrphanedRuns(reconcilerDeps())).toEqual([run.id]);
    const failed = await runOf(run.id);
    expect(failed).toMatchObject({ status: 'failed', exitStatus: null });
    expect(failed.error).toBe('orphaned: its job was lost before it started, so nothing ran on Heroku; run it again if it is still needed');
    expect(heroku.dynos('runner')).toHaveLength(0);
    // Once: a second pass finds nothing.
    expect(await failOrphanedRuns(reconcilerDeps())).toEqual([]);
  });

  it('a worker with the production heap limit streams a command printing 40 MB and finishes the run', async () => {
    const worker = startWorkerProcess();
    const size = 40 * 1024 * 1024;
    const response = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-run`, { body: { appName: 'runner', command: `head -c ${size} /dev/zero | tr '\\0' x; echo; echo THE END` } });
    expect(response.status).toBe(202);
    const run = await waitFor(async () => {
      const body = await runOf(response.body.runId);
      return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
    }, { what: 'the 40 MB run finished', timeoutMs: 150_000 });
    expect(run).toMatchObject({ status: 'succeeded', exitStatus: 0, outputTruncated: true });
    expect(run.output).toMatch(/\[pulsebridge: [\d,]+ bytes of output dropped here; the first 64 KiB and the last 192 KiB are kept\]\nx+\nTHE END\n$/);
    // Still alive: a worker that held the whole output ran out of heap here and died, leaving the run `running`.
    expect(worker.exitCode).toBeNull();
    expect(worker.signalCode).toBeNull();
  }, 180_000);

  it('a run left running by a worker killed mid-command is marked failed with the reason, and that is published', async () => {
    const worker = children.find((child) => child.exitCode === null && child.signalCode === null) ?? startWorkerProcess();
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const response = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-run`, {
      body: { appName: 'runner', command: 'echo started; sleep 120', postToTimeline: true, slackChannels: ['#ops'] },
    });
    const runId: string = response.body.runId;
    // Running, and its first output saved.
    await waitFor(async () => {
      const body = await runOf(runId);
      return body.status === 'running' && body.output === 'started\n';
    }, { what: 'the run started and saved its output', timeoutMs: 30_000 });
    worker.kill('SIGKILL');
    await exited;
    // Its job is still active (the dead worker's lock) and nothing else will finish it.
    expect(await stack.runtime.queues.heroku.getJobState(runJobId(runId))).toBe('active');
    expect(await failOrphanedRuns(reconcilerDeps())).toEqual([]);
    await backdate(runId);

    expect(await failOrphanedRuns(reconcilerDeps())).toEqual([runId]);
    const failed = await runOf(runId);
    expect(failed).toMatchObject({ status: 'failed', exitStatus: null, output: 'started\n' });
    expect(failed.error).toMatch(/^orphaned: the worker running it stopped \(or its job was lost\) and no worker finished it; .* see `heroku logs -a runner --dyno run\.\d+`$/);

    // A worker publishes it like any outcome: the timeline says why, Slack gets what output was saved.
    stack.startWorker({ reconcile: false });
    const entry = await waitFor(async () => {
      const timeline = (await stack.call('GET', `/api/v1/incidents/${incidentId}`)).body.timeline;
      return timeline.find((t: { kind: string; data: { runId?: string } }) => t.kind === 'action_run' && t.data.runId === runId);
    }, { what: 'the timeline entry', timeoutMs: 20_000 });
    expect(entry.message).toMatch(/^admin \(ADMIN_TOKEN\) ran `echo started; sleep 120` on runner \(run\.\d+\): orphaned: the worker running it stopped/);
    const upload = await waitFor(() => slack.uploads().find((u) => u.completed && u.initialComment?.includes('sleep 120')), { what: 'the upload', timeoutMs: 20_000 });
    expect(upload.bytes.toString()).toBe('started\n');
    expect(upload.initialComment).toContain('orphaned: the worker running it stopped');
  }, 60_000);
});

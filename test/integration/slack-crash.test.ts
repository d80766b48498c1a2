import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegration, postWebhook, slackSettings, startTestStack, waitFor, workerProcessEnv, type TestStack } from '../support/stack.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { dynoCrashBody } from '../support/fixtures.js';

const WORKER = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../apps/worker/dist/main.js');
const LOCK_MS = '1000';

let slack: FakeSlack;
let stack: TestStack;
let integration: { id: string; secret: string };
/** The same settings for the in-process stack and the worker processes. */
const settings = () => slackSettings(slack, { SLACK_CHANNEL_INTERVAL_MS: '50', WORKER_LOCK_MS: LOCK_MS });

beforeAll(async () => {
  slack = await startFakeSlack();
  stack = await startTestStack({ config: settings() });
  integration = await createIntegration(stack, ['first', 'second', 'third']);
});
// Children are stopped even when a test fails before it kills them.
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await stack?.stop();
  await slack?.close();
});

function startWorkerProcess(): ChildProcess {
  const child = spawn(process.execPath, [WORKER], {
    env: workerProcessEnv(stack, { LOG_LEVEL: 'warn', ...settings() }),
    stdio: 'ignore',
  });
  children.push(child);
  return child;
}

const postsFor = (app: string) =>
  slack.messages(slack.channelId('general')).filter((m) => m.thread_ts === undefined && JSON.stringify(m.blocks).includes(`crashed on ${app}`));

describe('a worker killed mid-send', () => {
  it('does not post twice when its job is retried: the retry finds the message by its token', async () => {
    const worker = startWorkerProcess();
    const exited = new Promise((resolve) => worker.on('exit', resolve));
    expect((await postWebhook(stack, integration.id, dynoCrashBody('first'), { secret: integration.secret })).status).toBe(202);
    await waitFor(() => postsFor('first').length === 1, { what: 'first message posted', timeoutMs: 15_000 });

    // Slack accepts the next post but its answer never reaches the worker: it dies first.
    slack.delayNextResponse('chat.postMessage', 30_000);
    expect((await postWebhook(stack, integration.id, dynoCrashBody('second'), { secret: integration.secret })).status).toBe(202);
    await waitFor(() => postsFor('second').length === 1, { what: 'second message stored by Slack', timeoutMs: 15_000 });
    worker.kill('SIGKILL');
    await exited;
    const [pending] = await stack.sql("SELECT status::text, ts FROM slack_messages WHERE target = '#general' AND ts IS NULL");
    expect(pending).toEqual({ status: 'posting', ts: null });

    // Another worker picks up the stalled job once its lock expires.
    const inProcess = stack.startWorker();
    await waitFor(async () => (await stack.sql("SELECT count(*)::int AS n FROM slack_messages WHERE status = 'posted'"))[0].n === 2, { what: 'retried job finished', timeoutMs: 20_000 });
    expect(postsFor('second')).toHaveLength(1);
    const [row] = await stack.sql("SELECT ts FROM slack_messages s JOIN incidents i ON i.id = s.incident_id WHERE i.app_name = 'second'");
    expect(row.ts).toBe(postsFor('second')[0]!.ts);
    // The search reads the channel only from when the row was made (less a minute for clocks).
    const search = slack.calls.find((c) => c.method === 'conversations.history' && c.ok);
    const [made] = await stack.sql("SELECT extract(epoch FROM s.created_at)::float8 AS at FROM slack_messages s JOIN incidents i ON i.id = s.incident_id WHERE i.app_name = 'second'");
    expect(Number(search?.params.oldest)).toBeCloseTo(made.at - 60, 2);
    await inProcess.close();
  });

  it('does not post twice either when the lost post was the first to a channel given by name', async () => {
    const service = await stack.call('POST', '/api/v1/services', { body: { name: 'third', herokuAppNames: ['third'], slackChannels: ['#alerts'] } });
    expect(service.status).toBe(201);
    const inAlerts = () => slack.messages(slack.channelId('alerts')).filter((m) => m.thread_ts === undefined);
    const worker = startWorkerProcess();
    const exited = new Promise((resolve) => worker.on('exit', resolve));

    // Nothing was ever posted to #alerts: only Slack's channel list can tell its id.
    slack.delayNextResponse('chat.postMessage', 30_000);
    expect((await postWebhook(stack, integration.id, dynoCrashBody('third'), { secret: integration.secret })).status).toBe(202);
    await waitFor(() => inAlerts().length === 1, { what: 'message stored by Slack', timeoutMs: 15_000 });
    worker.kill('SIGKILL');
    await exited;
    expect(await stack.sql("SELECT status::text, channel FROM slack_messages WHERE target = '#alerts'")).toEqual([{ status: 'posting', channel: null }]);

    const inProcess = stack.startWorker();
    await waitFor(async () => (await stack.sql("SELECT status::text FROM slack_messages WHERE target = '#alerts'"))[0]?.status === 'posted', { what: 'retried job finished', timeoutMs: 20_000 });
    expect(inAlerts()).toHaveLength(1);
    expect(await stack.sql("SELECT channel, ts FROM slack_messages WHERE target = '#alerts'")).toEqual([{ channel: slack.channelId('alerts'), ts: inAlerts()[0]!.ts }]);
    expect(slack.calls.some((c) => c.method === 'conversations.list' && c.ok)).toBe(true);
    await inProcess.close();
  });
});

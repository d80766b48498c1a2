import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegration, postWebhook, slackSettings, startTestStack, waitFor, workerProcessEnv, type TestStack } from '../support/stack.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';

const WORKER = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../apps/worker/dist/main.js');
const APPS = Array.from({ length: 20 }, (_, i) => `fault-app-${i}`);

let slack: FakeSlack;
let stack: TestStack;
let integration: { id: string; secret: string };
/** The same settings for the in-process stack and the worker processes. */
const settings = () => slackSettings(slack, { SLACK_CHANNEL_INTERVAL_MS: '20', WORKER_LOCK_MS: '1000' });

beforeAll(async () => {
  slack = await startFakeSlack();
  stack = await startTestStack({ config: settings() });
  integration = await createIntegration(stack, APPS);
});
// Children are stopped even when a test fails before it kills them.
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await stack?.stop();
  await slack?.close();
});

const crash = (app: string, dyno: string) => {
  const id = randomUUID();
  return JSON.stringify({ id, data: { app: { name: app }, name: dyno, state: 'crashed', management: 'formation', exit_status: 1 }, created_at: new Date().toISOString(), webhook_metadata: { event: { id, include: 'dyno' } } });
};
const build = (app: string) =>
  JSON.stringify({ id: randomUUID(), resource: 'build', action: 'update', data: { id: randomUUID(), app: { name: app }, status: 'succeeded', source_blob: { version: 'abc1234' } }, created_at: new Date().toISOString() });

describe('faults', () => {
  it('a worker process killed with SIGKILL mid-burst: its jobs are picked up by another worker, nothing is lost or doubled', async () => {
    const worker = spawn(process.execPath, [WORKER], {
      env: workerProcessEnv(stack, settings()),
      stdio: 'ignore',
    });
    children.push(worker);
    const exited = new Promise((resolve) => worker.on('exit', resolve));
    // 20 apps, each: a crash of web.1 (twice) and a build: 20 incidents with 2 alerts, 20 pulses.
    const bodies = APPS.flatMap((app) => [crash(app, 'web.1'), crash(app, 'web.1'), build(app)]);
    const sending = (async () => {
      for (const body of bodies) {
        expect((await postWebhook(stack, integration.id, body, { secret: integration.secret })).status).toBe(202);
      }
    })();
    await waitFor(async () => (await stack.sql("SELECT count(*)::int AS n FROM events WHERE status = 'processed'"))[0].n >= 10, { what: 'the worker got going' });
    worker.kill('SIGKILL');
    await exited;
    await sending;
    stack.startWorker();
    await waitFor(async () => (await stack.sql("SELECT count(*)::int AS n FROM events WHERE status = 'processed'"))[0].n === bodies.length, { what: 'every event processed', timeoutMs: 30_000 });
    // An event the killed worker applied but whose notifications it had not queued yet is done in
    // the database and still active in its queue until the new worker takes it over (stalled).
    const idle = async (queue: typeof stack.runtime.queues.slack) => Object.values(await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).every((n) => n === 0);
    await waitFor(async () => (await idle(stack.runtime.queues.events)) && (await idle(stack.runtime.queues.slack)), { what: 'events and Slack done', timeoutMs: 30_000 });

    const incidents = await stack.sql("SELECT dedup_key, alert_count FROM incidents WHERE app_name LIKE 'fault-app-%' ORDER BY dedup_key");
    expect(incidents).toHaveLength(APPS.length);
    expect(incidents.every((row: { alert_count: number }) => row.alert_count === 2)).toBe(true);
    expect((await stack.sql("SELECT count(*)::int AS n FROM pulses WHERE app_name LIKE 'fault-app-%'"))[0].n).toBe(APPS.length);
    // One Slack message per incident and per pulse: none posted twice.
    const roots = slack.messages(slack.channelId('general')).filter((m) => m.thread_ts === undefined);
    expect(roots).toHaveLength(APPS.length * 2);
    expect(new Set(roots.map((m) => m.text)).size).toBe(APPS.length * 2);
  });

  it('a flood of bad input is refused clearly while good traffic flows, and memory stays bounded', async () => {
    const heapBefore = process.memoryUsage().heapUsed;
    const huge = 'x'.repeat(1024 * 1024 + 10);
    const bad = Array.from({ length: 400 }, (_, i) => {
      switch (i % 4) {
        case 0:
          return postWebhook(stack, integration.id, build('fault-app-1'), { signature: 'forged' });
        case 1:
          return postWebhook(stack, integration.id, '{garbage', { secret: 'wrong' });
        case 2:
          return postWebhook(stack, randomUUID(), build('fault-app-1'), { secret: integration.secret });
        default:
          return postWebhook(stack, integration.id, huge, { secret: integration.secret });
      }
    });
    const good = APPS.map((app) => postWebhook(stack, integration.id, build(app), { secret: integration.secret }));
    const [badResults, goodResults] = await Promise.all([Promise.all(bad), Promise.all(good)]);
    expect(goodResults.map((r) => r.status)).toEqual(Array(APPS.length).fill(202));
    expect(badResults.map((r) => r.status).sort()).toEqual([...Array(100).fill(401), ...Array(100).fill(401), ...Array(100).fill(404), ...Array(100).fill(413)].sort());
    expect(badResults.every((r) => typeof r.body?.error?.code === 'string')).toBe(true);
    // Nothing of the bad input was stored; the good traffic was.
    const stored = (await stack.sql("SELECT count(*)::int AS n FROM events WHERE payload->>'resource' = 'build'"))[0].n;
    expect(stored).toBe(APPS.length * 2);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(200 * 1024 * 1024);
  });
});

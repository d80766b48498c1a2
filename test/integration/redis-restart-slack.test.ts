import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { startOwnRedis, type OwnRedis } from '../support/own-redis.js';
import { createIntegration, postWebhook, slackSettings, startTestStack, waitFor, type TestStack } from '../support/stack.js';

let redis: OwnRedis;
let slack: FakeSlack;
let stack: TestStack;

beforeAll(async () => {
  redis = await startOwnRedis();
  slack = await startFakeSlack();
  stack = await startTestStack({ config: slackSettings(slack, { REDIS_URL: redis.url, RECONCILE_GRACE_MS: '500', RECONCILE_INTERVAL_MS: '300' }) });
  stack.startWorker();
});
afterAll(async () => {
  await stack?.stop();
  await slack?.close();
  await redis?.kill();
});

const crash = (app: string) => {
  const id = randomUUID();
  const data = { app: { name: app }, name: 'web.1', state: 'crashed', management: 'formation', exit_status: 1 };
  return JSON.stringify({ id, data, created_at: new Date().toISOString(), webhook_metadata: { event: { id, include: 'dyno' } } });
};
const build = (app: string) =>
  JSON.stringify({ id: randomUUID(), resource: 'build', action: 'update', data: { id: randomUUID(), app: { name: app }, status: 'succeeded', source_blob: { version: 'abc1234def' } }, created_at: new Date().toISOString() });

describe('Redis restarted with its data gone while Slack messages wait for their retry', () => {
  it('every incident and pulse still reaches Slack, once', async () => {
    const apps = Array.from({ length: 4 }, (_, i) => `lost-slack-${i}`);
    const integration = await createIntegration(stack, apps);
    // Slack is down: every delivery fails and waits in Redis for its retry.
    slack.setOutage(true);
    for (const app of apps) {
      for (const body of [crash(app), build(app)]) expect((await postWebhook(stack, integration.id, body, { secret: integration.secret })).status).toBe(202);
    }
    await waitFor(async () => (await stack.sql("SELECT count(*)::int AS n FROM events WHERE status = 'processed'"))[0].n === apps.length * 2, { what: 'every event applied' });
    // Every delivery ran once (it made its message row) and now waits in Redis for its retry.
    await waitFor(
      async () => {
        const [rows] = await stack.sql("SELECT count(*)::int AS n FROM slack_messages WHERE target = '#general'");
        const counts = await stack.runtime.queues.slack.getJobCounts('waiting', 'active', 'delayed');
        return rows.n === apps.length * 2 && counts.waiting === 0 && counts.active === 0 && (counts.delayed ?? 0) > 0;
      },
      { what: 'every delivery tried once' },
    );
    expect(slack.calls.some((call) => call.method === 'chat.postMessage')).toBe(true);

    // Redis comes back empty: the Slack jobs are gone. Then Slack recovers.
    await redis.kill();
    await redis.start();
    slack.setOutage(false);

    const roots = () => slack.messages('#general').filter((message) => message.thread_ts === undefined).map((message) => message.text);
    await waitFor(async () => roots().length >= apps.length * 2, { what: 'a message per incident and pulse', timeoutMs: 20_000 });
    // A few more reconciler passes must not send anything twice.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const expected = apps.flatMap((app) => [`web.1 crashed on ${app}`, `[Heroku][Build] ${app} succeeded`]);
    expect(roots().length).toBe(expected.length);
    for (const text of expected) expect(roots().filter((root) => root.includes(text))).toHaveLength(1);
  });
});

describe('A page whose Slack job is lost while Redis keeps the rest (a crash losing its last writes)', () => {
  it('is sent once the grace period is over, once', async () => {
    const app = 'lost-page';
    const integration = await createIntegration(stack, [app]);
    slack.setOutage(true);
    expect((await postWebhook(stack, integration.id, crash(app), { secret: integration.secret })).status).toBe(202);
    await waitFor(async () => (await stack.sql('SELECT count(*)::int AS n FROM incidents WHERE app_name = $1', [app]))[0].n === 1, { what: 'the incident opened' });
    await waitFor(async () => ((await stack.runtime.queues.slack.getJobCounts('delayed')).delayed ?? 0) > 0, { what: 'its Slack job waiting for a retry' });
    // The job is gone; the marker beside the queues is not, so nothing tells of a lost Redis.
    await stack.runtime.queues.slack.obliterate({ force: true });
    slack.setOutage(false);

    const pages = () => slack.messages('#general').filter((message) => message.thread_ts === undefined && message.text.includes(`web.1 crashed on ${app}`));
    await waitFor(async () => pages().length >= 1, { what: 'the page', timeoutMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(pages()).toHaveLength(1);
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegration, postWebhook, slackSettings, startTestStack, waitFor, type TestStack } from '../support/stack.js';
import { DEFAULT_FAKE_SLACK_CHANNELS, startFakeSlack, type FakeSlack } from '../support/fake-slack.js';

// A new incident's message and a pulse are sent by the worker that applied the event, right after
// the commit, so a busy (here: paused) Slack queue does not hold them back. When events wait in
// their own queue (workers behind), only new incidents still page at once.

const SLOW_APPS = Array.from({ length: 16 }, (_, i) => `slow-app-${i}`);
const PULSE_APPS = Array.from({ length: 4 }, (_, i) => `pulse-app-${i}`);

let slack: FakeSlack;
let stack: TestStack;
let integration: { id: string; secret: string };

beforeAll(async () => {
  const ownChannels = [...SLOW_APPS, ...PULSE_APPS, 'page-app'];
  slack = await startFakeSlack({ channels: { ...DEFAULT_FAKE_SLACK_CHANNELS, ...Object.fromEntries(ownChannels.map((app, i) => [app, `C0OWN${String(i).padStart(4, '0')}`])) } });
  stack = await startTestStack({ config: slackSettings(slack) });
  integration = await createIntegration(stack, ['inline-app', 'late-app', ...ownChannels]);
  // Each of these apps has its own channel, so Slack's per-channel pace holds nobody back.
  for (const app of ownChannels) await stack.call('POST', '/api/v1/services', { body: { name: app, herokuAppNames: [app], slackChannels: [`#${app}`] } });
  stack.startWorker();
});
afterAll(async () => {
  await stack?.stop();
  await slack?.close();
});

const crash = (app: string) => {
  const id = randomUUID();
  return { id, data: { app: { name: app }, name: 'web.1', state: 'crashed', management: 'formation', exit_status: 1 }, created_at: new Date().toISOString(), webhook_metadata: { event: { id, include: 'dyno' } } };
};
const build = (app: string) => ({
  id: randomUUID(),
  resource: 'build',
  action: 'update',
  data: { id: randomUUID(), app: { name: app }, status: 'succeeded', source_blob: { version: 'abc1234' } },
  created_at: new Date().toISOString(),
});
async function send(event: object) {
  expect((await postWebhook(stack, integration.id, JSON.stringify(event), { secret: integration.secret })).status).toBe(202);
}
const roots = (text: string) => slack.messages(slack.channelId('general')).filter((m) => m.thread_ts === undefined && m.text.includes(text));
/** Every event applied and its job finished (notifications sent or queued). */
const eventsDone = async () => {
  await stack.api.settled();
  await waitFor(async () => Object.values(await stack.runtime.queues.events.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).every((n) => n === 0), { what: 'events done' });
};
const slackQueued = async () => Object.values(await stack.runtime.queues.slack.getJobCounts('waiting', 'prioritized')).reduce((a, b) => a + b, 0);

describe('Slack right after the event', () => {
  it('a new incident and a pulse reach Slack while the Slack queue is held up', async () => {
    await stack.runtime.queues.slack.pause();
    try {
      await send(crash('inline-app'));
      await send(build('inline-app'));
      await waitFor(() => roots('crashed on inline-app').length === 1, { what: 'incident message posted' });
      await waitFor(() => roots('[Heroku][Build] inline-app succeeded').length === 1, { what: 'pulse posted' });
      await eventsDone();
      expect(await slackQueued()).toBe(0);
    } finally {
      await stack.runtime.queues.slack.resume();
    }
  });

  it('when events wait in their queue, a new incident still pages at once; changes and pulses go through the Slack queue', async () => {
    const held = async (...events: object[]) => {
      await stack.runtime.queues.events.pause();
      try {
        for (const event of events) await send(event);
        await new Promise((resolve) => setTimeout(resolve, 400));
      } finally {
        await stack.runtime.queues.events.resume();
      }
      await eventsDone();
    };
    await stack.runtime.queues.slack.pause();
    try {
      await held(crash('late-app'), build('late-app'));
      expect(roots('crashed on late-app')).toHaveLength(1);
      expect(roots('[Heroku][Build] late-app')).toHaveLength(0);
      expect(await slackQueued()).toBe(1);

      // A second crash is a change to the incident already in Slack: it waits for the queue.
      await held(crash('late-app'));
      const root = roots('crashed on late-app')[0]!;
      expect(slack.messages(slack.channelId('general')).filter((m) => m.thread_ts === root.ts)).toHaveLength(0);
      expect(await slackQueued()).toBe(2);
    } finally {
      await stack.runtime.queues.slack.resume();
    }
    await waitFor(() => roots('[Heroku][Build] late-app').length === 1, { what: 'pulse posted from the queue' });
    const root = roots('crashed on late-app')[0]!;
    await waitFor(() => slack.messages(slack.channelId('general')).filter((m) => m.thread_ts === root.ts).length === 1, { what: 'alert reply posted from the queue' });
  });

  it('a page keeps a slot of its own: pulses stuck on a slow Slack do not push it into the queue', async () => {
    // SLACK_INLINE_SYNCS is 4: three pulses whose posts Slack answers only after 6 s take the
    // three slots changes and pulses may use; a fourth pulse finds none and is queued. A new
    // incident right after still pages at once, while the Slack queue is held up.
    for (let i = 0; i < 4; i += 1) slack.delayNextResponse('chat.postMessage', 6_000);
    const postsBefore = slack.callsOf('chat.postMessage').length;
    await stack.runtime.queues.slack.pause();
    try {
      for (const [i, app] of PULSE_APPS.slice(0, 3).entries()) {
        await send(build(app));
        await waitFor(() => slack.callsOf('chat.postMessage').length === postsBefore + i + 1, { what: `slow pulse post ${i + 1} under way` });
      }
      await send(build(PULSE_APPS[3]!));
      await waitFor(async () => (await slackQueued()) === 1, { what: 'the fourth pulse queued' });
      await send(crash('page-app'));
      const pages = () => slack.messages(slack.channelId('page-app')).filter((m) => m.thread_ts === undefined && m.text.includes('crashed on page-app'));
      await waitFor(() => pages().length === 1, { what: 'the page posted while the pulses hold their slots', timeoutMs: 3_000 });
    } finally {
      await stack.runtime.queues.slack.resume();
    }
    const pulses = () => PULSE_APPS.map((app) => slack.messages(slack.channelId(app)).filter((m) => m.thread_ts === undefined).length);
    await waitFor(() => pulses().every((n) => n === 1), { what: 'every pulse posted once', timeoutMs: 15_000 });
    await waitFor(() => slack.calls.every((call) => call.answeredAt !== undefined), { what: 'the slow answers given', timeoutMs: 15_000 });
    expect(pulses()).toEqual([1, 1, 1, 1]);
  });

  it('a slow Slack holds at most the inline slots: every event is still applied at once', async () => {
    // Each post takes 6 s to answer. Sixteen new incidents, ten event slots: if every slot waited
    // on Slack, six events would be applied only once Slack answered.
    for (const _ of SLOW_APPS) slack.delayNextResponse('chat.postMessage', 6_000);
    const started = Date.now();
    for (const app of SLOW_APPS) await send(crash(app));
    await waitFor(
      async () => (await stack.sql("SELECT count(*)::int AS n FROM incidents WHERE app_name LIKE 'slow-app-%'"))[0].n === SLOW_APPS.length,
      { what: 'every incident recorded', timeoutMs: 10_000 },
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    // And each gets its message once, inline or through the Slack queue.
    const posted = (app: string) => slack.messages(slack.channelId(app)).filter((m) => m.thread_ts === undefined).length;
    await waitFor(() => SLOW_APPS.every((app) => posted(app) === 1), { what: 'every message posted', timeoutMs: 20_000 });
    expect(SLOW_APPS.map(posted)).toEqual(SLOW_APPS.map(() => 1));
  });
});

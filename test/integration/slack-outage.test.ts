import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegration, postWebhook, slackSettings, startTestStack, waitFor, type TestStack } from '../support/stack.js';
import { startFakeSlack, type FakeMessage, type FakeSlack, type RecordedCall } from '../support/fake-slack.js';

const INTERVAL_MS = 100;
const RETRY_AFTER_S = 1;
/** How long Slack answers 500, then how long it answers 429. */
const ERROR_PHASE_MS = 2_500;
const RATE_LIMIT_PHASE_MS = 2_500;
/**
 * A request that had its slot before the 429 came back is already on its way; on a busy machine
 * it can take a few hundred ms to arrive. Retry-After (1 s) is much longer, so the rest of the
 * window must still be quiet.
 */
const IN_FLIGHT_MS = 250;

const SERVICES = [
  { name: 'storefront', herokuAppNames: ['shop-web', 'shop-api'], slackChannels: ['#ops'] },
  { name: 'payments', herokuAppNames: ['pay-web', 'pay-worker'], slackChannels: ['#ops', '#alerts'] },
  { name: 'releases', herokuAppNames: ['deploy-bot'], slackChannels: ['#deploys'] },
];
/** `stray` belongs to no service: it goes to the default channel. */
const APPS = [...SERVICES.flatMap((s) => s.herokuAppNames), 'stray'];
const channelsOf = (app: string) => SERVICES.find((s) => s.herokuAppNames.includes(app))?.slackChannels ?? ['#general'];

const STATUS_LABEL: Record<string, string> = { triggered: 'Triggered', acknowledged: 'Acknowledged', resolved: 'Resolved' };
const STATUS_RANK: Record<string, number> = { Triggered: 0, Acknowledged: 1, Resolved: 2 };
const THREAD_KINDS = ['alert', 'acknowledged', 'resolved', 'action_run'];
const CHAT = new Set(['chat.postMessage', 'chat.update']);

let slack: FakeSlack;
let stack: TestStack;
let integration: { id: string; secret: string };

beforeAll(async () => {
  slack = await startFakeSlack();
  stack = await startTestStack({ config: slackSettings(slack, { SLACK_CHANNEL_INTERVAL_MS: String(INTERVAL_MS) }) });
  integration = await createIntegration(stack, APPS);
  for (const service of SERVICES) expect((await stack.call('POST', '/api/v1/services', { body: service })).status).toBe(201);
  stack.startWorker();
});
afterAll(async () => {
  await stack?.stop();
  await slack?.close();
});

// Event times increase in the order the bodies are built, so each app's events happened in send order.
const origin = Date.now() - 30 * 60_000;
let tick = 0;
const happenedAt = () => new Date(origin + (tick += 1) * 1_000).toISOString();

function dyno(app: string, name: string, state: 'crashed' | 'up') {
  const id = randomUUID();
  const data = { app: { name: app }, name, state, management: 'formation', ...(state === 'crashed' && { exit_status: 1 }) };
  return { id, data, created_at: happenedAt(), webhook_metadata: { event: { id, include: 'dyno' } } };
}
function build(app: string, status: 'failed' | 'succeeded') {
  return { id: randomUUID(), resource: 'build', action: 'update', data: { id: randomUUID(), app: { name: app }, status, source_blob: { version: 'abc1234def' } }, created_at: happenedAt() };
}

let sent = 0;
/** Sends each app's events in order, the apps at once. */
async function burst(perApp: Map<string, object[]>) {
  await Promise.all(
    [...perApp.values()].map(async (events) => {
      for (const event of events) {
        expect((await postWebhook(stack, integration.id, JSON.stringify(event), { secret: integration.secret })).status).toBe(202);
        sent += 1;
      }
    }),
  );
  await waitFor(async () => (await stack.sql("SELECT count(*)::int AS n FROM events WHERE status = 'processed'"))[0].n === sent, { what: 'every event processed', timeoutMs: 15_000 });
}

/** Waits until no event or Slack job is waiting, delayed or running. */
async function idle(timeoutMs: number) {
  await stack.api.settled();
  await waitFor(
    async () => {
      const slackJobs = await stack.runtime.queues.slack.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      const eventJobs = await stack.runtime.queues.events.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return [...Object.values(slackJobs), ...Object.values(eventJobs)].every((n) => n === 0);
    },
    { what: 'Slack deliveries done', timeoutMs },
  );
}

const chatCalls = () => slack.calls.filter((c) => CHAT.has(c.method));
const channelOf = (call: RecordedCall) => slack.channelId(String(call.params.channel));
const mentions = (value: unknown, needle: string) => JSON.stringify(value ?? null).includes(needle);
const incidentUrl = (id: string) => `/incidents/${id}`;
const header = (message: { blocks: unknown[] | undefined }) => ((message.blocks?.[0] as any)?.text?.text ?? '') as string;
const label = (text: unknown) => /^(Triggered|Acknowledged|Resolved)\b/.exec(String(text))?.[1];

describe('Slack answering 500, then 429, during a burst', () => {
  it('delivers every message late, once each, in order per incident, honouring Retry-After', { timeout: 60_000 }, async () => {
    // Before the outage: each app has a crashed web.1 and a failed build, both posted.
    await burst(new Map(APPS.map((app) => [app, [dyno(app, 'web.1', 'crashed'), build(app, 'failed')]])));
    await idle(15_000);
    const postedBefore = chatCalls().filter((c) => c.ok).length;
    expect(postedBefore).toBeGreaterThan(0);

    // Slack fails every chat call with HTTP 500 while a burst changes and creates incidents.
    const outageStart = Date.now();
    const serverError = { kind: 'http', status: 500 } as const;
    slack.setFault('chat.postMessage', serverError);
    slack.setFault('chat.update', serverError);
    await burst(
      new Map(
        APPS.map((app) => [
          app,
          [
            dyno(app, 'web.1', 'crashed'), // a second alert on the open incident
            dyno(app, 'web.2', 'crashed'), // a new incident
            dyno(app, 'web.1', 'up'), // resolves web.1
            build(app, 'succeeded'), // resolves the build incident, and a pulse
            dyno(app, 'web.3', 'crashed'), // a new incident, resolved before Slack is back
            dyno(app, 'web.3', 'up'),
          ],
        ]),
      ),
    );
    // People act during the outage too: web.2 is acknowledged on every other app, and on the first also resolved.
    const web2 = await stack.sql<{ id: string; app_name: string }>("SELECT id, app_name FROM incidents WHERE dedup_key LIKE '%:dyno:web.2'");
    for (const incident of web2.filter((row) => APPS.indexOf(row.app_name) % 2 === 0)) {
      expect((await stack.call('POST', `/api/v1/incidents/${incident.id}/acknowledge`)).status).toBe(200);
      if (incident.app_name === APPS[0]) expect((await stack.call('POST', `/api/v1/incidents/${incident.id}/resolve`)).status).toBe(200);
    }
    await waitFor(() => Date.now() - outageStart >= ERROR_PHASE_MS && slack.calls.filter((c) => c.status === 500).length >= 5, {
      what: 'Slack answering 500 for a while',
      timeoutMs: 15_000,
    });

    // Then Slack rate-limits every chat call.
    const rateLimitStart = Date.now();
    const rateLimited = { kind: 'rate_limited', retryAfter: RETRY_AFTER_S } as const;
    slack.setFault('chat.postMessage', rateLimited);
    slack.setFault('chat.update', rateLimited);
    await waitFor(() => Date.now() - rateLimitStart >= RATE_LIMIT_PHASE_MS && slack.calls.filter((c) => c.status === 429).length >= 3, {
      what: 'Slack answering 429 for a while',
      timeoutMs: 15_000,
    });

    slack.setFault('chat.postMessage', undefined);
    slack.setFault('chat.update', undefined);
    const healedAt = Date.now();
    await idle(25_000);
    const calls = [...slack.calls];
    const chat = calls.filter((c) => CHAT.has(c.method));

    // No job failed for good, no channel was given up, every event was applied.
    expect((await stack.runtime.queues.slack.getJobCounts('failed')).failed).toBe(0);
    expect((await stack.runtime.queues.events.getJobCounts('failed')).failed).toBe(0);
    expect(await stack.sql('SELECT status::text, count(*)::int AS n FROM events GROUP BY status')).toEqual([{ status: 'processed', n: sent }]);
    expect(await stack.sql("SELECT target, error FROM slack_messages WHERE status <> 'posted'")).toEqual([]);
    expect(await stack.sql("SELECT message FROM timeline_entries WHERE kind = 'slack_error'")).toEqual([]);

    const incidents = await stack.sql<{ id: string; app_name: string; dedup_key: string; status: string; alert_count: number }>(
      'SELECT id, app_name, dedup_key, status::text, alert_count FROM incidents ORDER BY number',
    );
    const expectedStatus = (app: string, key: string) => {
      if (!key.endsWith(':dyno:web.2')) return 'resolved';
      if (app === APPS[0]) return 'resolved';
      return APPS.indexOf(app) % 2 === 0 ? 'acknowledged' : 'triggered';
    };
    // Events of one app are applied concurrently, so an `up` may be applied before the crash that
    // happened just before it: that crash still counts (web.3 is recorded, web.1 has both alerts).
    for (const app of APPS) {
      const rows = incidents.filter((row) => row.app_name === app);
      expect(rows.map((row) => row.dedup_key.replace(`heroku:${app}:`, '')).sort(), app).toEqual(['build', 'dyno:web.1', 'dyno:web.2', 'dyno:web.3']);
      expect(rows.find((row) => row.dedup_key.endsWith(':dyno:web.1'))!.alert_count, app).toBe(2);
    }
    for (const incident of incidents) expect(incident.status, incident.dedup_key).toBe(expectedStatus(incident.app_name, incident.dedup_key));
    const pulses = await stack.sql<{ id: string; app_name: string; external_id: string; status: string }>('SELECT id, app_name, external_id, status FROM pulses');
    expect(pulses).toHaveLength(APPS.length * 2);

    // Exactly one top-level message per incident and per pulse in each of its channels, and nothing else.
    const roots = slack.messages().filter((m) => m.thread_ts === undefined);
    const expectedRoots = [...incidents, ...pulses].reduce((n, row) => n + channelsOf(row.app_name).length, 0);
    expect(roots).toHaveLength(expectedRoots);
    const stored = await stack.sql<{ incident_id: string | null; pulse_id: string | null; target: string; channel: string; ts: string }>(
      'SELECT incident_id, pulse_id, target, channel, ts FROM slack_messages',
    );
    expect(stored).toHaveLength(expectedRoots);

    const rootFor = (channel: string, needle: string): FakeMessage => {
      const found = roots.filter((m) => m.channel === slack.channelId(channel) && mentions(m.blocks, needle));
      expect(found, `${needle} in ${channel}`).toHaveLength(1);
      return found[0]!;
    };
    const isLate = (call: RecordedCall | undefined) => call !== undefined && call.at >= outageStart;
    const okIndex = (match: (call: RecordedCall) => boolean) => calls.findIndex((c) => c.ok && CHAT.has(c.method) && match(c));
    // Everything refused was refused before the first delivery after the outage: nothing slipped through.
    const lastRefused = calls.findLastIndex((c) => CHAT.has(c.method) && !c.ok);
    expect(calls[lastRefused]!.at).toBeGreaterThanOrEqual(outageStart);
    expect(calls.slice(0, lastRefused + 1).filter((c) => c.ok && CHAT.has(c.method) && c.at >= outageStart)).toEqual([]);
    const deliveredLate = (index: number) => index > lastRefused && isLate(calls[index]);

    for (const incident of incidents) {
      const url = incidentUrl(incident.id);
      const timeline = (await stack.sql<{ message: string }>('SELECT message FROM timeline_entries WHERE incident_id = $1 AND kind = ANY($2) ORDER BY seq', [incident.id, THREAD_KINDS])).map(
        (row) => row.message,
      );
      for (const channel of channelsOf(incident.app_name)) {
        const root = rootFor(channel, url);
        expect(stored.find((row) => row.incident_id === incident.id && row.target === channel)).toMatchObject({ channel: root.channel, ts: root.ts });

        // The message shows the incident as it ended.
        expect(header(root), incident.dedup_key).toMatch(new RegExp(`^${STATUS_LABEL[incident.status]}: `));
        expect(String(root.text)).toMatch(new RegExp(`^${STATUS_LABEL[incident.status]} `));
        expect(mentions(root.blocks, `*Alerts*\\n${incident.alert_count}`)).toBe(true);
        expect(mentions(root.blocks, 'incident_resolve')).toBe(incident.status !== 'resolved');

        // Every state the channel was sent (answered or refused) moves forward only.
        const states = chat
          .filter((c) => channelOf(c) === root.channel && c.params.thread_ts === undefined && mentions(c.params.blocks, url))
          .map((c) => label(c.params.text));
        expect(states.every((state) => state !== undefined)).toBe(true);
        const ranks = states.map((state) => STATUS_RANK[state!]!);
        expect(ranks, `${incident.dedup_key} in ${channel}: ${states.join(' -> ')}`).toEqual([...ranks].sort((a, b) => a - b));

        // The thread tells each change once, in order, however late the message was posted.
        const lines = slack
          .messages(root.channel)
          .filter((m) => m.thread_ts === root.ts)
          .flatMap((m) => m.text.split('\n'));
        const postedIndex = okIndex((c) => c.method === 'chat.postMessage' && channelOf(c) === root.channel && c.params.thread_ts === undefined && mentions(c.params.blocks, url));
        expect(postedIndex).toBeGreaterThanOrEqual(0);
        expect(lines, incident.dedup_key).toEqual(timeline);

        // What changed during the outage arrived, late: the post of a new incident, or the
        // update and reply of one posted before.
        if (calls[postedIndex]!.at >= outageStart) expect(deliveredLate(postedIndex), `${incident.dedup_key} posted late`).toBe(true);
        else if (incident.status === 'resolved') {
          const updated = okIndex((c) => c.method === 'chat.update' && c.params.ts === root.ts && channelOf(c) === root.channel && label(c.params.text) === 'Resolved');
          expect(deliveredLate(updated), `${incident.dedup_key} updated late`).toBe(true);
          const replied = okIndex((c) => c.method === 'chat.postMessage' && c.params.thread_ts === root.ts && channelOf(c) === root.channel && /^Resolved/m.test(String(c.params.text)));
          expect(deliveredLate(replied), `${incident.dedup_key} reply late`).toBe(true);
        }
      }
    }

    // Pulses: one post each per channel; those of the burst arrived late.
    for (const pulse of pulses) {
      for (const channel of channelsOf(pulse.app_name)) {
        const root = rootFor(channel, pulse.external_id);
        expect(header(root)).toBe(`[Heroku][Build] ${pulse.app_name} ${pulse.status}`);
        expect(stored.find((row) => row.pulse_id === pulse.id && row.target === channel)).toMatchObject({ channel: root.channel, ts: root.ts });
        const posted = okIndex((c) => c.method === 'chat.postMessage' && channelOf(c) === root.channel && mentions(c.params.blocks, pulse.external_id));
        expect(posted).toBeGreaterThanOrEqual(0);
        if (pulse.status === 'succeeded') expect(deliveredLate(posted), `pulse ${pulse.app_name} ${pulse.status} late`).toBe(true);
        else expect(calls[posted]!.at).toBeLessThan(outageStart);
      }
    }

    // Slack really refused: 500s, then 429s, and pulsebridge kept trying through both.
    const refused = chat.filter((c) => !c.ok);
    expect(refused.filter((c) => c.status === 500).length).toBeGreaterThanOrEqual(5);
    expect(refused.filter((c) => c.status === 429).length).toBeGreaterThanOrEqual(3);
    expect(refused.every((c) => c.at >= outageStart && c.at <= healedAt)).toBe(true);

    // Retry-After was honoured: once pulsebridge had the 429, nothing reached that channel until
    // it had passed. Requests already on their way (a quiet channel takes a short burst at once)
    // could not know: those arriving within IN_FLIGHT_MS of the answer are excused.
    for (const limited of chat.filter((c) => c.status === 429)) {
      const answeredAt = limited.answeredAt ?? limited.at;
      const tooSoon = chat.filter((c) => channelOf(c) === channelOf(limited) && c.at > answeredAt + IN_FLIGHT_MS && c.at < answeredAt + RETRY_AFTER_S * 1_000);
      expect(tooSoon.map((c) => `${c.method} ${c.at - answeredAt} ms after a 429 was answered`)).toEqual([]);
    }
  });
});

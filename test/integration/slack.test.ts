import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createIntegration, postWebhook, slackSettings, startTestStack, waitFor, type TestStack } from '../support/stack.js';
import { DEFAULT_FAKE_SLACK_CHANNELS, startFakeSlack, type FakeSlack } from '../support/fake-slack.js';

const SIGNING_SECRET = 'slack-signing-secret-for-tests';
const INTERVAL_MS = 150;

let slack: FakeSlack;
let stack: TestStack;
let integration: { id: string; secret: string };
let minute = 0;

beforeAll(async () => {
  slack = await startFakeSlack({ channels: { ...DEFAULT_FAKE_SLACK_CHANNELS, 'private-ops': 'C0PRIVATE1' }, notInChannel: ['private-ops'] });
  stack = await startTestStack({
    config: slackSettings(slack, { SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_CHANNEL_INTERVAL_MS: String(INTERVAL_MS) }),
  });
  integration = await createIntegration(stack, ['shop', 'billing', 'quiet', 'evil', 'limited', 'down', 'broken', 'orderly', 'clicky', 'deploys-app']);
  await stack.call('POST', '/api/v1/services', { body: { name: 'shop', herokuAppNames: ['shop'], slackChannels: ['#ops'] } });
  await stack.call('POST', '/api/v1/services', { body: { name: 'billing', herokuAppNames: ['billing'], slackChannels: ['#ops', 'alerts'], postPulses: false } });
  await stack.call('POST', '/api/v1/services', { body: { name: 'deploys', herokuAppNames: ['deploys-app'], slackChannels: ['#deploys'] } });
  await stack.call('POST', '/api/v1/services', { body: { name: 'broken', herokuAppNames: ['broken'], slackChannels: ['#no-such-channel', 'private-ops', '#alerts'] } });
  stack.startWorker();
});
afterEach(() => slack.setOutage(false));
afterAll(async () => {
  await stack?.stop();
  await slack?.close();
});

const at = () => new Date(Date.UTC(2026, 10, 24, 10, 0, 0) + (minute += 1) * 60_000).toISOString();

function crash(app: string, dyno = 'web.1') {
  const id = randomUUID();
  return { id, data: { app: { name: app }, name: dyno, state: 'crashed', management: 'formation', exit_status: 1 }, created_at: at(), webhook_metadata: { event: { id, include: 'dyno' } } };
}
function up(app: string, dyno = 'web.1') {
  const id = randomUUID();
  return { id, data: { app: { name: app }, name: dyno, state: 'up', management: 'formation' }, created_at: at(), webhook_metadata: { event: { id, include: 'dyno' } } };
}
function releaseEvent(app: string, description: string) {
  return { id: randomUUID(), resource: 'release', action: 'update', data: { id: randomUUID(), app: { name: app }, status: 'succeeded', current: true, version: 7, description, slug: { commit: 'abcdef1234' } }, actor: { email: 'alice@example.com' }, created_at: at() };
}

async function send(...events: object[]) {
  for (const event of events) expect((await postWebhook(stack, integration.id, JSON.stringify(event), { secret: integration.secret })).status).toBe(202);
}

/** Waits until no Slack job is waiting, delayed or running. */
async function slackIdle(timeoutMs = 15_000) {
  await stack.api.settled();
  await waitFor(async () => {
    const counts = await stack.runtime.queues.slack.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    const events = await stack.runtime.queues.events.getJobCounts('waiting', 'active', 'delayed');
    return [...Object.values(counts), ...Object.values(events)].every((n) => n === 0);
  }, { what: 'Slack deliveries done', timeoutMs });
}

const roots = (channel: string) => slack.messages(slack.channelId(channel)).filter((m) => m.thread_ts === undefined);
const replies = (channel: string, ts: string) => slack.messages(slack.channelId(channel)).filter((m) => m.thread_ts === ts);
const incidentFor = async (dedupKey: string) => (await stack.sql('SELECT id FROM incidents WHERE dedup_key = $1 ORDER BY created_at DESC LIMIT 1', [dedupKey]))[0]?.id as string;
const header = (message: { blocks: unknown[] | undefined }) => ((message.blocks?.[0] as any)?.text?.text ?? '') as string;

describe('routing', () => {
  it('an incident goes to its services’ channels, or to the default channel when none is linked', async () => {
    await send(crash('shop'), crash('billing'), crash('quiet'));
    await slackIdle();
    expect(roots('#ops').map(header)).toEqual(expect.arrayContaining(['Triggered: Dyno web.1 crashed on shop (exit status 1)', 'Triggered: Dyno web.1 crashed on billing (exit status 1)']));
    expect(roots('alerts').map(header)).toEqual(['Triggered: Dyno web.1 crashed on billing (exit status 1)']);
    expect(roots('general').map(header)).toEqual(['Triggered: Dyno web.1 crashed on quiet (exit status 1)']);
  });

  it('pulses go to services that post pulses; a service that turned them off gets none', async () => {
    await send(releaseEvent('deploys-app', 'Deploy 1234abcd'), releaseEvent('billing', 'Deploy to billing'));
    await slackIdle();
    expect(roots('#deploys').map(header)).toContain('[Heroku][Release] Deploy 1234abcd');
    for (const channel of ['#ops', 'alerts', 'general']) expect(roots(channel).map(header)).not.toContain('[Heroku][Release] Deploy to billing');
  });
});

describe('one message per incident, kept current', () => {
  it('grouped alerts, acknowledge and resolve update the message and reply in its thread, with who did it', async () => {
    await send(crash('orderly'));
    await slackIdle();
    const [message] = roots('general').filter((m) => header(m).includes('orderly'));
    expect(message).toBeDefined();
    expect(JSON.stringify(message!.blocks)).toContain('incident_acknowledge');

    await send(crash('orderly'));
    await slackIdle();
    const incidentId = await incidentFor('heroku:orderly:dyno:web.1');
    expect((await stack.call('POST', `/api/v1/incidents/${incidentId}/acknowledge`)).status).toBe(200);
    await slackIdle();
    await send(up('orderly'));
    await slackIdle();

    const final = slack.messages(slack.channelId('general')).find((m) => m.ts === message!.ts)!;
    expect(header(final)).toBe('Resolved: Dyno web.1 crashed on orderly (exit status 1)');
    expect(JSON.stringify(final.blocks)).not.toContain('incident_acknowledge');
    expect(JSON.stringify(final.blocks)).toContain('*Alerts*\\n2');
    expect(final.edits).toBe(3);
    expect(replies('general', message!.ts).map((m) => m.text)).toEqual([
      'Alert: Dyno web.1 crashed on orderly (exit status 1)',
      'Acknowledged by admin (ADMIN_TOKEN)',
      'Resolved: Dyno web.1 is up again',
    ]);
    const stored = await stack.sql('SELECT channel, ts, status::text FROM slack_messages WHERE incident_id = $1', [incidentId]);
    expect(stored).toEqual([{ channel: slack.channelId('general'), ts: message!.ts, status: 'posted' }]);
  });
});

describe('untrusted text', () => {
  it('a release description with <!channel> and a link arrives as harmless text', async () => {
    await send(releaseEvent('evil', 'Deploy <!channel> & <https://evil.example|click>'));
    await slackIdle();
    const posted = slack.calls.filter((c) => c.method === 'chat.postMessage' && JSON.stringify(c.params).includes('evil.example'));
    expect(posted.length).toBeGreaterThan(0);
    for (const call of posted) {
      const raw = `${call.params.text} ${JSON.stringify(call.params.blocks)}`;
      expect(raw).not.toContain('<!channel>');
      expect(raw).not.toContain('<https://evil.example');
      expect(raw).toContain('&lt;!channel&gt;');
    }
  });
});

describe('delivery under Slack trouble', () => {
  it('honours 429 Retry-After and paces each channel', async () => {
    slack.failNext('chat.postMessage', 1, { kind: 'rate_limited', retryAfter: 1 });
    const started = Date.now();
    await send(crash('limited', 'web.1'), crash('limited', 'web.2'), crash('limited', 'web.3'));
    await slackIdle();
    const calls = slack.calls.filter((c) => c.method === 'chat.postMessage' && JSON.stringify(c.params).includes('on limited'));
    expect(calls[0]!.status).toBe(429);
    const delivered = calls.filter((c) => c.ok);
    expect(delivered).toHaveLength(3);
    // Nothing reached the channel until Retry-After had passed, and then one per interval from
    // there, without the burst a quiet channel gets: the k-th message no sooner than k intervals
    // after the block ended (a send that starts late does not push the next slots back).
    const blockEnd = calls[0]!.at + 1_000;
    expect(delivered[0]!.at).toBeGreaterThanOrEqual(blockEnd - 50);
    for (let k = 1; k < delivered.length; k += 1) expect(delivered[k]!.at - blockEnd).toBeGreaterThanOrEqual(k * INTERVAL_MS - 40);
    expect(roots('general').filter((m) => header(m).includes('on limited'))).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('an outage delays messages; after it every message arrives exactly once', async () => {
    slack.setOutage(true);
    await send(crash('down', 'web.1'), crash('down', 'web.2'), crash('down', 'web.1'));
    await waitFor(() => slack.calls.some((c) => c.status === 503), { what: 'a call during the outage' });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    slack.setOutage(false);
    await slackIdle(30_000);
    const messages = roots('general').filter((m) => header(m).includes('on down'));
    expect(messages.map(header).sort()).toEqual(['Triggered: Dyno web.1 crashed on down (exit status 1)', 'Triggered: Dyno web.2 crashed on down (exit status 1)']);
    const web1 = messages.find((m) => header(m).includes('web.1'))!;
    expect(JSON.stringify(web1.blocks)).toContain('*Alerts*\\n2');
    // Posted late, the message still gets the thread a prompt post would have had: the grouped
    // alert once, as a reply.
    expect(replies('general', web1.ts).map((m) => m.text)).toEqual(['Alert: Dyno web.1 crashed on down (exit status 1)']);
  });

  it('permanent errors go on the incident timeline and are not retried; other channels still get it', async () => {
    await send(crash('broken'));
    await slackIdle();
    const incidentId = await incidentFor('heroku:broken:dyno:web.1');
    const detail = await stack.call('GET', `/api/v1/incidents/${incidentId}`);
    const errors = detail.body.timeline.filter((t: { kind: string }) => t.kind === 'slack_error').map((t: { message: string }) => t.message);
    expect(errors.sort()).toEqual(['Slack could not deliver to #no-such-channel: channel_not_found', 'Slack could not deliver to private-ops: not_in_channel']);
    expect(slack.calls.filter((c) => c.method === 'chat.postMessage' && c.params.channel === '#no-such-channel')).toHaveLength(1);
    expect(roots('alerts').map(header)).toContain('Triggered: Dyno web.1 crashed on broken (exit status 1)');
    // Later changes do not try the failed channels again.
    expect((await stack.call('POST', `/api/v1/incidents/${incidentId}/resolve`)).status).toBe(200);
    await slackIdle();
    expect(slack.calls.filter((c) => c.params.channel === '#no-such-channel')).toHaveLength(1);
  });

  it('updates for one incident arrive in order: a burst ending in resolve ends resolved', async () => {
    await send(crash('shop', 'web.9'), crash('shop', 'web.9'), crash('shop', 'web.9'), up('shop', 'web.9'));
    await slackIdle();
    const message = roots('#ops').find((m) => header(m).includes('web.9 crashed on shop'))!;
    expect(header(message)).toBe('Resolved: Dyno web.9 crashed on shop (exit status 1)');
    const updates = slack.calls.filter((c) => c.method === 'chat.update' && c.params.ts === message.ts && c.ok);
    const last = updates[updates.length - 1];
    if (last) expect(String(last.params.text)).toMatch(/^Resolved/);
  });
});

describe('buttons', () => {
  const click = async (actionId: string, incidentId: string, options: { secret?: string; timestamp?: number; unsigned?: boolean } = {}) => {
    const payload = JSON.stringify({ type: 'block_actions', user: { id: 'U42', username: 'dana', name: 'dana' }, actions: [{ action_id: actionId, value: incidentId }] });
    const body = `payload=${encodeURIComponent(payload)}`;
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    const signature = `v0=${createHmac('sha256', options.secret ?? SIGNING_SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
    return fetch(`${stack.url}/slack/interactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(!options.unsigned && { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature }) },
      body,
    });
  };

  it('a signed Acknowledge click acknowledges as the Slack user; unsigned, wrongly signed and stale clicks are refused', async () => {
    await send(crash('clicky'));
    await slackIdle();
    const incidentId = await incidentFor('heroku:clicky:dyno:web.1');
    for (const bad of [{ unsigned: true }, { secret: 'wrong' }, { timestamp: Math.floor(Date.now() / 1000) - 600 }]) {
      const response = await click('incident_acknowledge', incidentId, bad);
      expect(response.status).toBe(401);
    }
    expect((await stack.call('GET', `/api/v1/incidents/${incidentId}`)).body.status).toBe('triggered');

    expect((await click('incident_acknowledge', incidentId)).status).toBe(200);
    const incident = (await stack.call('GET', `/api/v1/incidents/${incidentId}`)).body;
    expect(incident).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'dana (Slack)' });
    await slackIdle();
    const message = roots('general').find((m) => header(m).includes('clicky'))!;
    expect(header(message)).toBe('Acknowledged: Dyno web.1 crashed on clicky (exit status 1)');
    expect(replies('general', message.ts).map((m) => m.text)).toEqual(['Acknowledged by dana (Slack)']);

    expect((await click('incident_resolve', incidentId)).status).toBe(200);
    expect((await stack.call('GET', `/api/v1/incidents/${incidentId}`)).body).toMatchObject({ status: 'resolved', resolvedBy: 'dana (Slack)' });
  });
});

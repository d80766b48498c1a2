import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegration, postWebhook, signInUi, slackSettings, startTestStack, waitFor, type TestStack } from '../support/stack.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';

// "Send test event" on an integration's page: a signed delivery through the real ingress and
// worker that must leave every real incident, pulse, suspect deploy and service channel alone.
const APP = 'shop-web';

let slack: FakeSlack;
let stack: TestStack;
let integration: { id: string; secret: string };

beforeAll(async () => {
  slack = await startFakeSlack();
  stack = await startTestStack({ config: slackSettings(slack, { SLACK_CHANNEL_INTERVAL_MS: '0' }) });
  stack.startWorker();
  integration = await createIntegration(stack, [APP]);
  const service = await stack.call('POST', '/api/v1/services', { body: { name: 'shop', herokuAppNames: [APP], slackChannels: ['#ops'] } });
  expect(service.status).toBe(201);
});

afterAll(async () => {
  await stack?.stop();
  await slack?.close();
});

const send = async (event: Record<string, unknown>) => {
  const response = await postWebhook(stack, integration.id, JSON.stringify({ created_at: new Date().toISOString(), ...event }), { secret: integration.secret });
  expect(response.status).toBe(202);
  await waitFor(async () => (await stack.sql("SELECT status::text FROM events WHERE event_id = $1 AND status <> 'received'", [event.id])).length === 1, { what: `event ${String(event.id)} applied` });
};

/** A page's text as a reader sees it. */
const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&quot;|&#34;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .replace(/ ([,:])/g, '$1');

describe('Send test event', () => {
  it('exercises the ingress and the worker, touches nothing real, and shows what it did and would do', async () => {
    // Real life on the app: a release that went out, then a failed build (an open incident).
    await send({ id: randomUUID(), resource: 'release', action: 'update', data: { id: randomUUID(), app: { name: APP }, status: 'succeeded', current: true, version: 41, description: 'Deploy 1a2b3c4' } });
    await send({ id: randomUUID(), resource: 'build', action: 'update', data: { id: randomUUID(), app: { name: APP }, status: 'failed', source_blob: { version: 'deadbeefcafe' } } });
    const [incident] = await stack.sql("SELECT id, number, status::text, alert_count, updated_at FROM incidents WHERE dedup_key = 'heroku:shop-web:build'");
    expect(incident).toMatchObject({ status: 'triggered', alert_count: 1 });
    const timelineBefore = await stack.sql('SELECT kind, message FROM timeline_entries WHERE incident_id = $1 ORDER BY at, seq', [incident.id]);
    const pulsesBefore = await stack.call('GET', '/api/v1/pulses');
    // Everything the real events owe Slack is sent (right after their events, or from the Slack queue).
    await stack.api.settled();
    await waitFor(
      async () => {
        const counts = { ...(await stack.runtime.queues.events.getJobCounts('waiting', 'active', 'delayed', 'prioritized')), ...(await stack.runtime.queues.slack.getJobCounts('waiting', 'active', 'delayed', 'prioritized')) };
        return slack.messages('#ops').length >= 2 && Object.values(counts).every((n) => n === 0);
      },
      { what: 'the release and the incident posted to the service channel' },
    );
    // A paced channel may still hold a message back for a moment: wait until #ops is quiet.
    let seen = -1;
    let quietSince = Date.now();
    await waitFor(
      () => {
        const now = slack.messages('#ops').length;
        if (now !== seen) [seen, quietSince] = [now, Date.now()];
        return Date.now() - quietSince >= 2_000;
      },
      { what: '#ops quiet for 2 s', timeoutMs: 20_000 },
    );
    const opsBefore = slack.messages('#ops').length;

    const session = await signInUi(stack);
    const sent = await fetch(`${stack.url}/integrations/${integration.id}/test-event`, { method: 'POST', redirect: 'manual', headers: { cookie: session.cookie }, body: new URLSearchParams({ _csrf: session.csrf }) });
    expect(sent.status).toBe(303);
    const testId = /[?&]test=([0-9a-f-]{36})/.exec(sent.headers.get('location') ?? '')?.[1];
    expect(testId).toBeDefined();

    // Through the real pipeline: stored, queued and applied by the worker.
    await waitFor(async () => (await stack.sql("SELECT 1 FROM events WHERE id = $1 AND status = 'processed'", [testId])).length === 1, { what: 'test event processed' });
    // The real incident is untouched: not resolved, not grouped, no timeline entry.
    const [after] = await stack.sql('SELECT id, number, status::text, alert_count, updated_at FROM incidents WHERE id = $1', [incident.id]);
    expect(after).toEqual(incident);
    expect(await stack.sql('SELECT kind, message FROM timeline_entries WHERE incident_id = $1 ORDER BY at, seq', [incident.id])).toEqual(timelineBefore);
    const [testEvent] = await stack.sql('SELECT app_name, integration_id FROM events WHERE id = $1', [testId]);
    expect(testEvent).toEqual({ app_name: `test:${APP}`, integration_id: integration.id });
    const testPulses = await stack.sql('SELECT id, app_name FROM pulses WHERE event_id = $1', [testId]);
    expect(testPulses).toEqual([{ id: expect.any(String), app_name: `test:${APP}` }]);
    await waitFor(async () => (await stack.sql("SELECT 1 FROM slack_messages WHERE pulse_id = $1 AND status = 'posted'", [testPulses[0].id])).length === 1, { what: 'test pulse posted to the default channel' });

    // The test pulse is in no list of deploys.
    expect((await stack.call('GET', '/api/v1/pulses')).body.items).toEqual(pulsesBefore.body.items);
    expect((await stack.call('GET', `/api/v1/pulses?appName=test:${APP}`)).body.items).toEqual([]);
    const deploys = await (await fetch(`${stack.url}/deploys`, { headers: { cookie: session.cookie } })).text();
    expect(deploys).toContain('Deploy 1a2b3c4');
    expect(deploys).not.toContain(`test:${APP}`);
    // Nothing to the service's channel; the default channel got the test pulse, named as such.
    expect(slack.messages('#ops')).toHaveLength(opsBefore);
    expect(slack.messages('#general').map((m) => m.text).join('\n')).toContain(`test:${APP}`);

    // A real incident opened after it never takes the test pulse as its suspect deploy.
    await send({ id: randomUUID(), resource: 'dyno', action: 'update', data: { app: { name: APP }, name: 'web.1', type: 'web', state: 'crashed', exit_status: 1 } });
    const [crash] = await stack.sql("SELECT id FROM incidents WHERE dedup_key LIKE 'heroku:shop-web:dyno:%'");
    const detail = await stack.call('GET', `/api/v1/incidents/${crash.id}`);
    expect(detail.body.suspectPulses.map((p: { appName: string }) => p.appName)).not.toContain(`test:${APP}`);
    expect(JSON.stringify(detail.body.timeline)).not.toContain(testPulses[0].id);

    // The integration page says what the worker did and what the same delivery would do for the app.
    const panel = text(await (await fetch(`${stack.url}/integrations/${integration.id}?fragment=test&test=${testId}`, { headers: { cookie: session.cookie } })).text());
    expect(panel).toContain(`A test event of ${APP}, applied as app test:${APP}`);
    expect(panel).toContain('processed');
    expect(panel).toContain(`made a test build pulse "[Heroku][Build] test:${APP} succeeded" (not listed in Deploys, never a suspect deploy)`);
    expect(panel).toMatch(/Slack: #general posted/);
    expect(panel).toContain(`rule build-succeeded: would resolve incident #${incident.number} "Build failed on ${APP} (deadbee)"`);
    expect(panel).toContain(`rule build-pulse: would make a build pulse "[Heroku][Build] ${APP} succeeded", posted to shop (#ops)`);
  });

  it('services may not claim a test app name', async () => {
    const refused = await stack.call('POST', '/api/v1/services', { body: { name: 'sneaky', herokuAppNames: [`test:${APP}`], slackChannels: ['#ops'] } });
    expect(refused.status).toBe(400);
  });

  it('an id that is not a test event shows no test result', async () => {
    const session = await signInUi(stack);
    const [real] = await stack.sql("SELECT id FROM events WHERE app_name = $1 LIMIT 1", [APP]);
    const panel = text(await (await fetch(`${stack.url}/integrations/${integration.id}?fragment=test&test=${real.id}`, { headers: { cookie: session.cookie } })).text());
    expect(panel.trim()).toBe('');
  });
});

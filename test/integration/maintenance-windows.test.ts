import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackClient, endDueMaintenanceWindows, escalateOnce } from '@pulsebridge/core';
import { dynoCrashBody } from '../support/fixtures.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WEBHOOK_EXAMPLES_DIR } from '../support/fixtures.js';
import { sendSlackInteraction } from '../support/slack-clicks.js';
import { createIntegration, postWebhook, signInUi, slackSettings, startTestStack, waitFor, type TestStack } from '../support/stack.js';

// Maintenance windows: incidents opening in one are recorded but not posted or escalated; when it
// ends they are raised again or resolved, as the window says. The test runs the end passes itself.

const SLACK_SIGNING_SECRET = 'signing-secret-maintenance';
let slack: FakeSlack;
let stack: TestStack;
let integration: { id: string; secret: string };
let serviceId: string;

beforeAll(async () => {
  slack = await startFakeSlack();
  stack = await startTestStack({ config: slackSettings(slack, { SLACK_CHANNEL_INTERVAL_MS: '20', SLACK_SIGNING_SECRET }) });
  stack.startWorker({ reconcile: false });
  integration = await createIntegration(stack, ['mw-app', 'mw-other', 'mw-svc-app', 'mw-deploying', 'np-app']);
  serviceId = (await stack.call('POST', '/api/v1/services', { body: { name: `storefront ${randomUUID().slice(0, 6)}`, herokuAppNames: ['mw-svc-app'], slackChannels: ['#ops'] } })).body.id;
});
afterAll(async () => {
  await stack?.stop();
  await slack?.close();
});

async function crash(app: string, dyno = 'web.1') {
  expect((await postWebhook(stack, integration.id, dynoCrashBody(app, dyno), { secret: integration.secret })).status).toBe(202);
  const [incident] = await waitFor(async () => {
    const rows = await stack.sql<{ id: string; suppressed: boolean }>('SELECT id, suppressed FROM incidents WHERE dedup_key = $1', [`heroku:${app}:dyno:${dyno}`]);
    return rows.length > 0 && rows;
  }, { what: `the incident on ${app}: ${JSON.stringify(await stack.sql("SELECT status, error FROM events ORDER BY received_at DESC LIMIT 2"))}` });
  return incident!;
}
const posted = (incidentId: string) => stack.sql('SELECT 1 FROM slack_messages WHERE incident_id = $1 AND ts IS NOT NULL', [incidentId]);
const kinds = async (incidentId: string) => (await stack.sql<{ kind: string }>('SELECT kind FROM timeline_entries WHERE incident_id = $1 ORDER BY seq', [incidentId])).map((e) => e.kind);

describe('maintenance windows', () => {
  it('an incident opening in a window is recorded, suppressed and not posted or escalated; raised again when the window ends', async () => {
    const window = await stack.call('POST', '/api/v1/maintenance-windows', { body: { appNames: ['mw-app'], minutes: 30, onEnd: 'reraise' } });
    expect(window.status).toBe(201);
    expect(window.body).toMatchObject({ appNames: ['mw-app'], onEnd: 'reraise', createdBy: 'admin (ADMIN_TOKEN)', endedAt: null });

    const quiet = await crash('mw-app');
    const control = await crash('mw-other');
    await waitFor(async () => (await posted(control.id)).length > 0, { what: "the other app's message" });
    expect(quiet.suppressed).toBe(true);
    expect(await kinds(quiet.id)).toEqual(['triggered', 'suppressed']);
    expect(await posted(quiet.id)).toEqual([]);
    expect((await stack.call('GET', `/api/v1/incidents/${quiet.id}`)).body).toMatchObject({ suppressed: true, maintenanceWindowId: window.body.id });
    const session = await signInUi(stack);
    const page = await (await fetch(`${stack.url}/incidents/${quiet.id}`, { headers: { cookie: session.cookie } })).text();
    expect(page).toMatch(/<dt>Suppressed<\/dt><dd>opened during a maintenance window until <time datetime="[^"]+">[^<]+<\/time> \(by admin \(ADMIN_TOKEN\)\)/);
    // Not escalated either, even under a default policy that covers it.
    const escalator = { pool: stack.runtime.db.pool, slack: createSlackClient({ botToken: slack.token, apiUrl: slack.apiUrl })!, logger: stack.runtime.logger };
    await escalateOnce({ ...escalator, defaultPolicy: { minSeverity: 'info', levels: [{ targets: ['U0AAAAAA1'], delayMinutes: 5 }], repeatEveryMinutes: null, directMessages: false } });
    expect(await stack.sql('SELECT 1 FROM incident_escalations WHERE incident_id = $1', [quiet.id])).toEqual([]);

    expect(await endDueMaintenanceWindows(stack.runtime.db.pool)).toEqual([]);
    expect((await stack.call('DELETE', `/api/v1/maintenance-windows/${window.body.id}`)).status).toBe(204);
    const raised = await endDueMaintenanceWindows(stack.runtime.db.pool);
    expect(raised.map((r) => r.id)).toEqual([quiet.id]);
    await stack.runtime.queues.enqueueSlackIncidents(raised);
    await waitFor(async () => (await posted(quiet.id)).length > 0, { what: 'the raised incident posted' });
    expect(await kinds(quiet.id)).toEqual(['triggered', 'suppressed', 'raised']);
    expect((await stack.call('GET', `/api/v1/maintenance-windows/${window.body.id}`)).body.endedAt).not.toBeNull();
  });

  it("a service's window that resolves on its end resolves what opened in it, never posting it", async () => {
    const window = await stack.call('POST', '/api/v1/maintenance-windows', { body: { serviceIds: [serviceId], startsAt: new Date(Date.now() - 60_000).toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString(), onEnd: 'resolve' } });
    expect(window.status).toBe(201);
    const quiet = await crash('mw-svc-app');
    expect(quiet.suppressed).toBe(true);
    await stack.call('DELETE', `/api/v1/maintenance-windows/${window.body.id}`);
    await endDueMaintenanceWindows(stack.runtime.db.pool);
    const [row] = await stack.sql<{ status: string; resolved_by: string }>('SELECT status::text, resolved_by FROM incidents WHERE id = $1', [quiet.id]);
    expect(row).toEqual({ status: 'resolved', resolved_by: 'pulsebridge (maintenance window ended)' });
    expect(await kinds(quiet.id)).toEqual(['triggered', 'suppressed', 'resolved']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await posted(quiet.id)).toEqual([]);
  });

  it('refuses a window that ends before it starts, is in the past, covers nothing, names an unknown service, or overlaps another', async () => {
    const at = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
    const create = (body: Record<string, unknown>) => stack.call('POST', '/api/v1/maintenance-windows', { body: { onEnd: 'resolve', ...body } });
    expect((await create({ appNames: ['mw-other'], startsAt: at(30), endsAt: at(10) })).body.error).toMatchObject({ code: 'validation_failed', message: 'endsAt must be after startsAt' });
    expect((await create({ appNames: ['mw-other'], startsAt: at(-30), endsAt: at(-10) })).body.error.message).toBe('endsAt is in the past');
    expect((await create({ minutes: 10 })).body.error.message).toBe('give at least one app name or service id');
    expect((await create({ serviceIds: [randomUUID()], minutes: 10 })).status).toBe(400);
    expect((await create({ appNames: ['mw-other'], minutes: 10, startsAt: at(1) })).status).toBe(400);
    expect((await create({ appNames: ['mw-other'], startsAt: 'tomorrow', endsAt: at(10) })).status).toBe(400);
    const first = await create({ appNames: ['mw-other', 'mw-app'], startsAt: at(60), endsAt: at(120) });
    expect(first.status).toBe(201);
    const overlapping = await create({ appNames: ['mw-app'], startsAt: at(90), endsAt: at(150) });
    expect(overlapping.status).toBe(409);
    expect(overlapping.body.error.message).toContain(`it overlaps maintenance window ${first.body.id}`);
    expect((await create({ appNames: ['mw-app'], startsAt: at(120), endsAt: at(150) })).status).toBe(201);
    // Ending one that has not started calls it off at once.
    expect((await stack.call('DELETE', `/api/v1/maintenance-windows/${first.body.id}`)).status).toBe(204);
    expect((await stack.call('GET', `/api/v1/maintenance-windows/${first.body.id}`)).body.endedAt).not.toBeNull();
    expect((await stack.call('GET', '/api/v1/maintenance-windows')).body.items.length).toBeGreaterThanOrEqual(2);
    // Requests at once for the same app: one window, the others refused as overlapping it.
    const racing = await Promise.all(Array.from({ length: 6 }, () => create({ appNames: ['mw-race'], startsAt: at(200), endsAt: at(260) })));
    expect(racing.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
  });

  it("a deploy's Slack message has a Silence button: a click silences its app for 30 minutes, and tells the person", async () => {
    const release = JSON.parse(readFileSync(path.join(WEBHOOK_EXAMPLES_DIR, 'real/api-release-create-succeeded.json'), 'utf8'));
    release.id = randomUUID();
    release.data.id = randomUUID();
    release.data.app.name = 'mw-deploying';
    expect((await postWebhook(stack, integration.id, JSON.stringify(release), { secret: integration.secret })).status).toBe(202);
    const message = await waitFor(() => slack.messages('general').find((m) => (JSON.stringify(m.blocks) ?? '').includes('Silence mw-deploying')), { what: 'the pulse message' });
    const button = (message.blocks as { type: string; elements?: { action_id: string; value: string; text: { text: string }; confirm?: unknown }[] }[]).flatMap((b) => b.elements ?? []).find((e) => e.action_id === 'pulse_silence')!;
    expect(button).toMatchObject({ value: 'mw-deploying', text: { text: 'Silence mw-deploying for 30 min' } });
    expect(button.confirm).toBeDefined();
    const click = () => sendSlackInteraction(stack.url, SLACK_SIGNING_SECRET, { type: 'block_actions', trigger_id: randomUUID(), user: { id: 'U42', name: 'dana' }, channel: { id: slack.channelId('general') }, actions: [{ action_id: 'pulse_silence', value: 'mw-deploying' }] });
    expect((await click()).status).toBe(200);
    await waitFor(() => slack.ephemerals().some((e) => e.user === 'U42' && e.text.startsWith('Silenced mw-deploying until ')), { what: 'the confirmation' });
    const [window] = await stack.sql<{ created_by: string; on_end: string; minutes: number }>("SELECT created_by, on_end, round(extract(epoch FROM ends_at - starts_at) / 60)::int AS minutes FROM maintenance_windows WHERE 'mw-deploying' = ANY(app_names)");
    expect(window).toEqual({ created_by: 'dana (Slack)', on_end: 'reraise', minutes: 30 });
    expect((await crash('mw-deploying')).suppressed).toBe(true);
    // A second click while it lasts is told why nothing changed.
    expect((await click()).status).toBe(200);
    await waitFor(() => slack.ephemerals().some((e) => e.text.startsWith('Not silenced: it overlaps maintenance window')), { what: 'the refusal' });
  });
});

describe('notification preferences', () => {
  it('a service posts incidents from its severity up; those below stay in the UI', async () => {
    const created = await stack.call('POST', '/api/v1/services', { body: { name: `quiet service ${randomUUID().slice(0, 6)}`, herokuAppNames: ['np-app'], slackChannels: ['#ops'], postMinSeverity: 'critical' } });
    expect(created.body).toMatchObject({ postMinSeverity: 'critical' });
    const high = await crash('np-app', 'worker.1');
    const critical = await crash('np-app', 'web.1');
    await waitFor(async () => (await posted(critical.id)).length > 0, { what: 'the critical incident posted' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await posted(high.id)).toEqual([]);
    expect((await stack.call('PATCH', `/api/v1/services/${created.body.id}`, { body: { postMinSeverity: 'urgent' } })).status).toBe(400);
  });
});

describe('maintenance from the service page', () => {
  it('silences the service for the next N minutes and ends it, for responders too', async () => {
    const responderToken = (await stack.call('POST', '/api/v1/tokens', { body: { name: 'mw responder', role: 'responder' } })).body.token;
    const session = await signInUi(stack, responderToken);
    const post = (path: string, fields: Record<string, string>) =>
      fetch(`${stack.url}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: session.csrf, ...fields }) });
    const notice = async (response: Response) => decodeURIComponent(response.headers.get('location') ?? '');
    expect(await notice(await post(`/services/${serviceId}/maintenance`, { minutes: 'soon', onEnd: 'reraise' }))).toContain('Give how many minutes');
    expect(await notice(await post(`/services/${serviceId}/maintenance`, { minutes: '45', onEnd: 'resolve' }))).toContain('Silenced until ');
    const page = await (await fetch(`${stack.url}/services/${serviceId}`, { headers: { cookie: session.cookie } })).text();
    expect(page).toContain('(by mw responder; then resolve what opened in it)');
    const [window] = await stack.sql<{ id: string; on_end: string }>("SELECT id, on_end FROM maintenance_windows WHERE $1 = ANY(service_ids) AND ended_at IS NULL AND ends_at > now()", [serviceId]);
    expect(window!.on_end).toBe('resolve');
    expect(await notice(await post(`/services/${serviceId}/maintenance/${window!.id}/end`, {}))).toContain('Maintenance window ended');
    expect((await stack.sql<{ ended: boolean }>('SELECT ends_at <= now() AS ended FROM maintenance_windows WHERE id = $1', [window!.id]))[0]!.ended).toBe(true);
  });

  it("silences an incident's app for the next N minutes from its page", async () => {
    const admin = await signInUi(stack);
    const incident = await crash('np-app', 'web.7');
    const response = await fetch(`${stack.url}/incidents/${incident.id}/silence`, { method: 'POST', redirect: 'manual', headers: { cookie: admin.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: admin.csrf, minutes: '20' }) });
    expect(decodeURIComponent(response.headers.get('location') ?? '')).toContain('Silenced np-app until ');
    expect(await stack.sql("SELECT 1 FROM maintenance_windows WHERE 'np-app' = ANY(app_names) AND ended_at IS NULL")).toHaveLength(1);
  });
});

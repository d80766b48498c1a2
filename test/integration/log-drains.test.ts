import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createRuntime, crossingEvent, DrainEvaluator, DrainWindowStore, loadRuleSet, quietEvent, storeEvents, type Runtime } from '@pulsebridge/core';
import { startApiServer, type ApiServer } from '@pulsebridge/api';
import { appLine, body, routerLine, runtimeLine } from '../support/logplex.js';
import { createIntegration, postWebhook, signInUi, slackSettings, startTestStack, waitFor, type TestStack } from '../support/stack.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';

let slack: FakeSlack;
let stack: TestStack;
let integration: { id: string; secret: string };
/** Path of each monitored app's drain URL (PUBLIC_URL is not where the test API listens). */
let drainPath: Record<string, string>;

beforeAll(async () => {
  slack = await startFakeSlack();
  stack = await startTestStack({ config: slackSettings(slack, { DRAIN_EVALUATE_INTERVAL_MS: '200' }) });
  integration = await createIntegration(stack, ['shop', 'billing', 'quiet-app', 'scaled', 'flood', 'victim', 'shares']);
  await stack.call('POST', '/api/v1/services', { body: { name: 'shop', herokuAppNames: ['shop'], slackChannels: ['#ops'] } });
  const { body: detail } = await stack.call('GET', `/api/v1/integrations/heroku/${integration.id}`);
  drainPath = Object.fromEntries(detail.drainUrls.map((drain: { appName: string; url: string }) => [drain.appName, new URL(drain.url).pathname]));
  stack.startWorker();
});
afterAll(async () => {
  await stack?.stop();
  await slack?.close();
});

async function drain(path: string, text: string | Buffer, headers: Record<string, string> = {}) {
  const response = await fetch(`${stack.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/logplex-1', 'logplex-msg-count': '1', 'user-agent': 'Logplex/v123', ...headers },
    body: text,
  });
  const answer = await response.text();
  return { status: response.status, body: answer === '' ? undefined : JSON.parse(answer) };
}

const incidentsOf = (dedupKey: string) =>
  stack.sql('SELECT id, status::text, alert_count, severity::text, title, entity, resolved_by FROM incidents WHERE dedup_key = $1 ORDER BY number', [dedupKey]);

/** The first incident with this dedup key, once the worker has opened it. */
const firstIncident = async (dedupKey: string) =>
  (await waitFor(async () => {
    const found = await incidentsOf(dedupKey);
    return found.length > 0 && found;
  }, { what: dedupKey, timeoutMs: 20_000 }))[0];

/** A drain evaluator like the worker's, on a clock the test moves (quiet periods are minutes long). */
const evaluatorAt = async (now: () => number) =>
  new DrainEvaluator({
    pool: stack.runtime.db.pool,
    windows: new DrainWindowStore(stack.runtime.redis, stack.config.queuePrefix),
    queues: stack.runtime.queues,
    rules: (await loadRuleSet(stack.config.configDir)).drains.rules,
    metrics: stack.runtime.metrics,
    logger: stack.runtime.logger,
    now,
  });

describe('log drains', () => {
  it('give every monitored app its own HTTPS drain URL with a secret, in what the integration returns', async () => {
    const { body: detail } = await stack.call('GET', `/api/v1/integrations/heroku/${integration.id}`);
    expect(detail.drainUrls.map((d: { appName: string }) => d.appName)).toEqual(['shop', 'billing', 'quiet-app', 'scaled', 'flood', 'victim', 'shares']);
    for (const { appName, url } of detail.drainUrls) expect(url).toMatch(new RegExp(`^http://pulsebridge\\.test/drains/heroku/${integration.id}/${appName}/[A-Za-z0-9_-]{32}$`));
    // The same URLs on every read, and different per app.
    expect(new Set(Object.values(drainPath)).size).toBe(7);
    // A monitored name that is no Heroku app name still gets a URL that reaches its drain.
    const odd = await createIntegration(stack, ['my app/x?y#z']);
    const { body: oddDetail } = await stack.call('GET', `/api/v1/integrations/heroku/${odd.id}`);
    expect(oddDetail.drainUrls[0].url).toContain('/my%20app%2Fx%3Fy%23z/');
    expect((await drain(new URL(oddDetail.drainUrls[0].url).pathname, body([routerLine()]))).status).toBe(204);
    const { body: listed } = await stack.call('GET', '/api/v1/integrations/heroku');
    expect(listed.items.find((item: { id: string }) => item.id === integration.id).drainUrls).toEqual(detail.drainUrls);
  });

  it('refuse a wrong secret, an unknown integration and an app not monitored alike, and bad requests with a clear error', async () => {
    const good = body([routerLine()]);
    const [, , , id, app, token] = drainPath.shop!.split('/');
    const wrong = `/drains/heroku/${id}/${app}/${token!.slice(0, -1)}${token!.endsWith('A') ? 'B' : 'A'}`;
    const unknown = `/drains/heroku/${randomUUID()}/${app}/${token}`;
    const notMonitored = `/drains/heroku/${id}/elsewhere/${token}`;
    for (const path of [wrong, unknown, notMonitored, `/drains/heroku/not-a-uuid/${app}/${token}`]) {
      expect(await drain(path, good)).toMatchObject({ status: 404, body: { error: { code: 'unknown_drain', message: 'no drain has this URL' } } });
    }
    expect(await drain(drainPath.shop!, good, { 'content-type': 'application/json' })).toMatchObject({ status: 415, body: { error: { code: 'unsupported_media_type' } } });
    expect(await drain(drainPath.shop!, Buffer.alloc(1024 * 1024 + 1, 'a'))).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
    expect(await drain(`${drainPath.shop}%E0%A4%A`, good)).toMatchObject({ status: 400 });
    expect((await fetch(`${stack.url}${drainPath.shop}`)).status).toBe(405);
    // Garbage is read as no frames at all: answered, counted as nothing.
    for (const garbage of ['', 'garbage', '99999999 <1>1 x', Buffer.from([0xff, 0xfe, 0x00, 0x31, 0x20, 0x3c]), `${'9'.repeat(200)} <158>1 `]) {
      expect((await drain(drainPath.billing!, garbage)).status).toBe(204);
    }
    expect(await incidentsOf('heroku:billing:web:log:H12')).toEqual([]);
  });

  it('turn a burst of H12 into one incident naming the app, process type and code, with its suspect deploy, in Slack', async () => {
    const release = { id: randomUUID(), resource: 'release', action: 'update', data: { id: randomUUID(), app: { name: 'shop' }, status: 'succeeded', current: true, version: 42, description: 'Deploy 9f8e7d6c', slug: { commit: '9f8e7d6c5b4a' } }, actor: { email: 'alice@example.com' }, created_at: new Date(Date.now() - 5 * 60_000).toISOString() };
    expect((await postWebhook(stack, integration.id, JSON.stringify(release), { secret: integration.secret })).status).toBe(202);
    await waitFor(async () => (await stack.sql("SELECT 1 FROM pulses WHERE app_name = 'shop' AND version = 'v42'")).length > 0, { what: 'release pulse' });

    const batch = body([routerLine(), routerLine({ code: 'H12' }), routerLine({ code: 'H12' }), routerLine({ code: 'H12' }), appLine('web.1', 'Completed 200 OK')]);
    expect((await drain(drainPath.shop!, batch, { 'logplex-frame-id': 'A1B2C3D4' })).status).toBe(204);
    // Logplex retried the same batch: not counted twice (three more would reach the threshold of five).
    expect((await drain(drainPath.shop!, batch, { 'logplex-frame-id': 'A1B2C3D4' })).status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await incidentsOf('heroku:shop:web:log:H12')).toEqual([]);
    expect((await drain(drainPath.shop!, body([routerLine({ code: 'H12', dyno: 'web.2' }), routerLine({ code: 'H12', dyno: 'web.3' })]), { 'logplex-frame-id': 'E5F6' })).status).toBe(204);

    const incident = await firstIncident('heroku:shop:web:log:H12');
    expect(incident).toMatchObject({ status: 'triggered', alert_count: 1, severity: 'high', entity: 'log:H12', title: 'H12 Request timeout on shop (web): 5 in 1 min' });
    const { body: detail } = await stack.call('GET', `/api/v1/incidents/${incident.id}`);
    expect(detail).toMatchObject({ entity: 'log:H12', dedupKey: 'heroku:shop:web:log:H12', appName: 'shop', serviceIds: [expect.any(String)] });
    expect(detail.timeline.map((t: { kind: string }) => t.kind)).toEqual(['triggered', 'suspect_deploy']);
    expect(detail.timeline[1].message).toMatch(/^Triggered \d+ min after release v42 by alice@example\.com \(9f8e7d6\)$/);
    await waitFor(() => slack.messages(slack.channelId('#ops')).some((m) => JSON.stringify(m).includes('H12 Request timeout on shop (web)')), { what: 'Slack message', timeoutMs: 10_000 });

    // The incident page charts the signal per minute, with the threshold and the suspect deploy, as SVG drawn on the server.
    const ui = await signInUi(stack);
    const page = await (await fetch(`${stack.url}/incidents/${incident.id}`, { headers: { cookie: ui.cookie } })).text();
    const chart = /<figure class="signal-chart">[\s\S]*?<\/figure>/.exec(page)?.[0] ?? '';
    expect(chart).toContain('<svg');
    expect(chart).toContain('threshold 5</text>');
    expect(chart).toContain('release v42</text>');
    expect(chart).toMatch(/H12 count on web per 1-minute window, \d\d:\d\d to \d\d:\d\d UTC; threshold 5; peak 5 at \d\d:\d\d UTC; suspect deploy release v42/);
    expect(chart.match(/<rect class="bar"/g)?.length).toBeGreaterThan(30);

    // The crossing is in the archive, as a drain event, and a replay changes nothing.
    const { body: events } = await stack.call('GET', '/api/v1/events?resource=log');
    const crossing = events.items.find((event: { entity: string }) => event.entity === 'log:H12');
    expect(crossing).toMatchObject({ source: 'heroku_drain', action: 'crossed', appName: 'shop', status: 'processed' });
    expect((await stack.call('POST', `/api/v1/events/${crossing.id}/replay`)).status).toBe(202);
    await waitFor(async () => (await stack.sql('SELECT processed_at > received_at AS done FROM events WHERE id = $1', [crossing.id]))[0].done, { what: 'replay' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await incidentsOf('heroku:shop:web:log:H12')).toMatchObject([{ alert_count: 1 }]);
  });

  it('show each app its drain URL, the command to add it, when it last sent and its lines per minute, on the integration page', async () => {
    const ui = await signInUi(stack);
    const page = await (await fetch(`${stack.url}/integrations/${integration.id}`, { headers: { cookie: ui.cookie } })).text();
    const section = /<section class="card" id="log-drains">[\s\S]*?<\/section>/.exec(page)?.[0] ?? '';
    for (const [app, path] of Object.entries(drainPath)) expect(section).toContain(`heroku drains:add http://pulsebridge.test${path} -a ${app}`);
    // shop sent 3 bodies of 5 and 2 frames (the retried one is not counted): 7 lines in this minute or the one before.
    const shopRow = /<tr>\s*<td><strong>shop<\/strong>[\s\S]*?<\/tr>/.exec(section)?.[0] ?? '';
    expect(shopRow).toMatch(/<time datetime="[^"]+"/);
    expect(shopRow.match(/<td class="numbers">([^<]*)<\/td>/)?.[1]?.split(' · ').map(Number).reduce((a, b) => a + b, 0)).toBe(7);
    expect(/<tr>\s*<td><strong>scaled<\/strong>[\s\S]*?<\/tr>/.exec(section)?.[0]).toContain('none yet');
  });

  it('keep hostile text of a drain line out of incidents, Slack and HTML: only counts and known names are used', async () => {
    const hostile = '<!channel> <script>alert(1)</script> *bold* <https://evil.example|click>';
    const line = `<158>1 2026-12-06T10:00:00+00:00 ${hostile.replace(/ /g, '_')} heroku router ${hostile.replace(/ /g, '_')} at=error code=H10 desc="${hostile}" method=GET path="/${hostile}" host=x dyno=${hostile.replace(/ /g, '')}.1 connect= service= status=503 bytes= protocol=https`;
    expect((await drain(drainPath.billing!, body([line]))).status).toBe(204);
    const incident = await firstIncident('heroku:billing:other:log:H10');
    expect(incident.title).toBe('H10 App crashed on billing (other): 1 in 1 min');
    const ui = await signInUi(stack);
    const page = await (await fetch(`${stack.url}/incidents/${incident.id}`, { headers: { cookie: ui.cookie } })).text();
    expect(page).not.toContain('<script>alert');
    expect(JSON.stringify(slack.calls)).not.toContain('<!channel>');
  });

  it('count runtime errors per process type, and never page for an R14 under its threshold', async () => {
    expect((await drain(drainPath.billing!, body([runtimeLine('worker.1', 'Error R14 (Memory quota exceeded)'), runtimeLine('worker.2', 'Error R14 (Memory quota exceeded)'), runtimeLine('web.1', 'Error R14 (Memory quota exceeded)')]))).status).toBe(204);
    expect((await drain(drainPath.billing!, body([runtimeLine('worker.1', 'Error R15 (Memory quota vastly exceeded)')]))).status).toBe(204);
    const r15 = await firstIncident('heroku:billing:worker:log:R15');
    expect(r15).toMatchObject({ severity: 'critical', entity: 'log:R15' });
    // Two R14 on worker and one on web within five minutes: below three per process type.
    expect(await incidentsOf('heroku:billing:worker:log:R14')).toEqual([]);
  });

  it('resolve an incident by itself once its signal stayed quiet for the quiet period, saying so on the timeline', async () => {
    expect((await drain(drainPath['quiet-app']!, body([runtimeLine('web.1', 'Error R15 (Memory quota vastly exceeded)')]))).status).toBe(204);
    const incident = await firstIncident('heroku:quiet-app:web:log:R15');
    const clock = { now: Date.now() + 9 * 60_000 };
    const evaluator = await evaluatorAt(() => clock.now);
    // Nine minutes on: not yet quiet for ten.
    expect(await evaluator.tick()).toMatchObject({ resolved: 0 });
    clock.now += 2 * 60_000;
    // (The incidents of the tests before this one went quiet too.)
    expect((await evaluator.tick()).resolved).toBeGreaterThanOrEqual(1);
    await waitFor(async () => (await incidentsOf('heroku:quiet-app:web:log:R15'))[0].status === 'resolved', { what: 'auto-resolve' });
    const { body: detail } = await stack.call('GET', `/api/v1/incidents/${incident.id}`);
    expect(detail.timeline.at(-1)).toMatchObject({ kind: 'auto_resolved', message: expect.stringMatching(/^Resolved: quiet for 10 min: R15 on web stayed below the threshold after the window that ended /) });
    expect(detail).toMatchObject({ status: 'resolved', resolvedAt: expect.any(String) });
    // The H12 incident of shop went quiet in the same pass: its Slack thread says why it resolved.
    await waitFor(() => slack.messages(slack.channelId('#ops')).some((m) => m.thread_ts !== undefined && JSON.stringify(m).includes('quiet for 10 min: H12 on web')), { what: 'Slack thread reply', timeoutMs: 10_000 });
    // Judged again (by this or another worker), nothing more happens.
    clock.now += 10_000;
    expect(await evaluator.tick()).toMatchObject({ resolved: 0 });
  });

  it('never resolve an incident that alerted again since the quiet period began, and resolve those of a deleted integration', async () => {
    const other = await createIntegration(stack, ['orphan', 'flappy']);
    const { body: otherDetail } = await stack.call('GET', `/api/v1/integrations/heroku/${other.id}`);
    const paths = Object.fromEntries(otherDetail.drainUrls.map((d: { appName: string; url: string }) => [d.appName, new URL(d.url).pathname]));
    const r15 = body([runtimeLine('web.1', 'Error R15 (Memory quota vastly exceeded)')]);
    expect((await drain(paths.orphan, r15)).status).toBe(204);
    expect((await drain(paths.flappy, r15)).status).toBe(204);
    const orphan = await firstIncident('heroku:orphan:web:log:R15');
    const flappy = await firstIncident('heroku:flappy:web:log:R15');

    // flappy alerts again (a later window) after its quiet event was worked out from the first one.
    const rules = await loadRuleSet(stack.config.configDir);
    const [crossing] = (await stack.sql("SELECT payload -> 'signal' AS signal, occurred_at FROM events WHERE app_name = 'flappy' AND action = 'crossed'"));
    const stale = quietEvent({ id: flappy.id, appName: 'flappy', entity: 'log:R15', dedupKey: 'heroku:flappy:web:log:R15' }, crossing.signal, crossing.occurred_at, 10);
    const later = crossingEvent('flappy', { rule: rules.drains.rules.find((r) => r.name === 'r15-memory-quota-vastly-exceeded')!, processType: 'web', windowStart: Math.floor(Date.now() / 60_000) + 1, count: 1, requests: null }, Date.now() + 60_000);
    const store = async (event: typeof stale) => {
      const [stored] = await storeEvents(stack.runtime.db.pool, [{ ...event, integrationId: other.id, addonResourceId: null, payloadJson: JSON.stringify(event.payload) }]);
      await stack.runtime.queues.enqueueEvents([stored as { eventId: string; eventRowId: string }]);
      await waitFor(async () => (await stack.sql("SELECT status::text FROM events WHERE id = $1", [(stored as { eventRowId: string }).eventRowId]))[0].status === 'processed', { what: 'applied' });
    };
    await store(later);
    await store(stale);
    expect(await incidentsOf('heroku:flappy:web:log:R15')).toMatchObject([{ status: 'triggered', alert_count: 2 }]);

    // The integration of orphan is deleted: its incident still goes quiet and resolves.
    expect((await stack.call('DELETE', `/api/v1/integrations/heroku/${other.id}`)).status).toBe(204);
    const evaluator = await evaluatorAt(() => Date.now() + 11 * 60_000);
    await evaluator.tick();
    await waitFor(async () => (await incidentsOf('heroku:orphan:web:log:R15'))[0].status === 'resolved', { what: 'orphan resolved' });
    expect((await stack.call('GET', `/api/v1/incidents/${orphan.id}`)).body.timeline.at(-1)).toMatchObject({ kind: 'auto_resolved' });
  });

  it('judge a 5xx share again when requests alone bring its window to enough requests', async () => {
    // Two bodies in one two-minute window: not within a few seconds of its end.
    while ((Date.now() % 120_000) > 110_000) await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await drain(drainPath.shares!, body(Array.from({ length: 5 }, () => routerLine({ status: 500 })))))).toMatchObject({ status: 204 });
    // Five 5xx of five requests: under the 20 requests the share needs. Judged, nothing opens.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await incidentsOf('heroku:shares:web:log:5xx')).toEqual([]);
    // Thirty 200s, no error in them: 5 of 35 is 14 %, over 10 %.
    expect((await drain(drainPath.shares!, body(Array.from({ length: 30 }, () => routerLine({ status: 200 })))))).toMatchObject({ status: 204 });
    const incident = await firstIncident('heroku:shares:web:log:5xx');
    expect(incident.title).toBe('Server errors (5xx answers) on shares (web): 14.3% of 35 requests in 2 min');
  });

  it('bound what one drain can make: a flood of made-up process types is folded into `other` and opens a bounded number of incidents, and other apps are judged in the same pass', async () => {
    const flood = body(Array.from({ length: 2_000 }, (_, i) => routerLine({ code: 'H10', desc: 'App crashed', dyno: `p${i}.1` })));
    expect((await drain(drainPath.flood!, flood)).status).toBe(204);
    expect((await drain(drainPath.flood!, body(Array.from({ length: 2_000 }, (_, i) => routerLine({ code: 'H10', desc: 'App crashed', dyno: `q${i}.1` }))))).status).toBe(204);
    expect((await drain(drainPath.victim!, body([runtimeLine('web.1', 'Error R15 (Memory quota vastly exceeded)')]))).status).toBe(204);
    await waitFor(async () => (await incidentsOf('heroku:victim:web:log:R15')).length === 1, { what: 'the other app judged', timeoutMs: 10_000 });
    const keys = await stack.runtime.redis.keys(`${stack.config.queuePrefix}:drain:w:${integration.id}:flood:*`);
    let fields = 0;
    let counted = 0;
    for (const key of keys) {
      const hash = await stack.runtime.redis.hgetall(key);
      fields += Object.keys(hash).length;
      counted += Object.entries(hash).filter(([field]) => field.endsWith(' H10')).reduce((sum, [, n]) => sum + Number(n), 0);
    }
    // At most 300 fields, and then one `other` field per signal.
    expect(fields).toBeLessThanOrEqual(330 * keys.length);
    // Every line is still counted, the overflow under `other`.
    expect(counted).toBe(4_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const opened = await stack.sql("SELECT count(*)::int AS n FROM incidents WHERE app_name = 'flood'");
    expect(opened[0].n).toBeGreaterThan(0);
    expect(opened[0].n).toBeLessThanOrEqual(20 * 3);
  });

  it('give two API processes the same counts as one: windows live in Redis', async () => {
    const logger = createLogger({ level: 'silent', service: 'second-api' });
    const second: Runtime = createRuntime(stack.config, { process: 'api', logger });
    const api: ApiServer = await startApiServer(second, { port: 0, host: '127.0.0.1', rules: await loadRuleSet(stack.config.configDir) });
    try {
      const h13 = body([routerLine({ code: 'H13', desc: 'Connection closed without response' })]);
      // Five H13 (the threshold), alternating between the two processes; none alone has five.
      for (let i = 0; i < 5; i += 1) {
        const base = i % 2 === 0 ? stack.url : api.url;
        const response = await fetch(`${base}${drainPath.scaled}`, { method: 'POST', headers: { 'content-type': 'application/logplex-1' }, body: h13 });
        expect(response.status).toBe(204);
      }
      const incident = await firstIncident('heroku:scaled:web:log:H13');
      expect(incident).toMatchObject({ title: 'H13 Connection closed without response on scaled (web): 5 in 1 min', alert_count: 1 });
    } finally {
      await api.close();
      await second.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInUi, startTestStack, type TestStack, type UiSession } from '../support/stack.js';

// The list pages' filter menus offer each value on its own, and the chosen one stays selected.
let stack: TestStack;
let session: UiSession;
beforeAll(async () => {
  stack = await startTestStack();
  session = await signInUi(stack);
});
afterAll(async () => stack?.stop());

async function menu(pathAndQuery: string, name: string): Promise<{ values: string[]; selected: string[] }> {
  const page = await (await fetch(`${stack.url}${pathAndQuery}`, { headers: { cookie: session.cookie } })).text();
  const select = new RegExp(`<select name="${name}">([\\s\\S]*?)</select>`).exec(page)?.[1] ?? '';
  const options = [...select.matchAll(/<option value="([^"]*)"\s*(selected)?/g)];
  return { values: options.map((option) => option[1]!), selected: options.filter((option) => option[2]).map((option) => option[1]!) };
}

describe('list filters in the web UI', () => {
  it.each([
    ['/incidents?status=resolved', 'status', ['', 'triggered', 'acknowledged', 'resolved'], 'resolved'],
    ['/incidents?severity=high', 'severity', ['', 'critical', 'high', 'medium', 'low', 'info'], 'high'],
    ['/events?status=failed', 'status', ['', 'received', 'processed', 'skipped', 'failed'], 'failed'],
  ])('%s offers each %s and keeps the chosen one', async (url, name, values, chosen) => {
    const found = await menu(url, name);
    expect(found.values).toEqual(values);
    expect(found.selected).toEqual([chosen]);
  });
});

describe('the web UI and the REST API answer the same filters with the same rows', () => {
  let checkoutId = '';
  const ids = (page: string, kind: 'incidents' | 'events') => [...page.matchAll(new RegExp(`href="/${kind}/([0-9a-f-]{36})"`, 'g'))].map((m) => m[1]!).sort();
  const ui = async (path: string) => (await fetch(`${stack.url}${path}`, { headers: { cookie: session.cookie } })).text();
  const rest = async (path: string) => ((await stack.call('GET', path)).body.items as { id: string; summary?: string }[]);

  beforeAll(async () => {
    const [checkout] = await stack.sql("INSERT INTO services (name, heroku_app_names) VALUES ('filters checkout', ARRAY['f-shop']) RETURNING id");
    const statuses = ['triggered', 'acknowledged', 'resolved'];
    const severities = ['critical', 'high', 'info'];
    for (let i = 0; i < 12; i += 1) {
      const app = i % 2 === 0 ? 'f-shop' : 'f-api';
      const [incident] = await stack.sql(
        "INSERT INTO incidents (title, status, severity, dedup_key, app_name, entity, triggered_at) VALUES ($1, $2, $3, $4, $5, 'dyno', now() - make_interval(mins => $6)) RETURNING id",
        [`filters ${i}`, statuses[i % 3], severities[i % 3 === 0 ? 0 : i % 2 === 0 ? 1 : 2], `filters:${i}`, app, i],
      );
      if (app === 'f-shop') await stack.sql('INSERT INTO incident_services (incident_id, service_id) VALUES ($1, $2)', [incident.id, checkout.id]);
      const [pulse] = await stack.sql(
        "INSERT INTO pulses (kind, summary, app_name, status, dedup_key, occurred_at) VALUES ($1, $2, $3, 'succeeded', $4, now() - make_interval(mins => $5)) RETURNING id, occurred_at",
        [i % 2 === 0 ? 'release' : 'build', `filters pulse ${i}`, app, `filters-pulse:${i}`, i],
      );
      if (app === 'f-shop') await stack.sql('INSERT INTO pulse_services (pulse_id, service_id, occurred_at) VALUES ($1, $2, $3)', [pulse.id, checkout.id, pulse.occurred_at]);
      await stack.sql(
        "INSERT INTO events (event_id, source, resource, entity, action, app_name, payload, status) VALUES ($1, 'heroku_webhook', 'dyno', 'dyno', 'update', $2, '{}'::jsonb, $3)",
        [`filters-event-${i}`, app, ['received', 'processed', 'skipped', 'failed'][i % 4]],
      );
    }
    checkoutId = checkout.id;
  });

  it('incidents: status, severity, app and service, alone and together', async () => {
    const service = checkoutId;
    for (const [page, api] of [
      ['status=acknowledged', 'status=acknowledged'],
      ['severity=high', 'severity=high'],
      ['app=f-api', 'appName=f-api'],
      [`service=${service}`, `serviceId=${service}`],
      [`status=triggered&severity=critical&app=f-shop&service=${service}`, `status=triggered&severity=critical&appName=f-shop&serviceId=${service}`],
    ]) {
      const expected = (await rest(`/api/v1/incidents?limit=200&${api}`)).map((item) => item.id).sort();
      expect(expected.length, api).toBeGreaterThan(0);
      expect(ids(await ui(`/incidents?${page}`), 'incidents'), page).toEqual(expected);
    }
  });

  it('deploys and events', async () => {
    const service = checkoutId;
    for (const [page, api] of [['app=f-api', 'appName=f-api'], [`service=${service}`, `serviceId=${service}`]]) {
      const expected = (await rest(`/api/v1/pulses?limit=200&${api}`)).map((item) => item.summary!).sort();
      expect(expected.length, api).toBeGreaterThan(0);
      const shown = [...(await ui(`/deploys?${page}`)).matchAll(/<td>(filters pulse \d+)<\/td>/g)].map((m) => m[1]!).sort();
      expect(shown, page).toEqual(expected);
    }
    const expected = (await rest('/api/v1/events?limit=200&status=failed')).map((item) => item.id).sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(ids(await ui('/events?status=failed'), 'events')).toEqual(expected);
  });
});

describe('service forms and the REST API accept and refuse the same input', () => {
  const form = async (fields: Record<string, string>) => {
    const response = await fetch(`${stack.url}/services`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: session.cookie },
      body: new URLSearchParams({ _csrf: session.csrf, ...fields }),
    });
    return decodeURIComponent(new URL(response.headers.get('location') ?? '/', stack.url).searchParams.get('notice') ?? '');
  };
  const count = async (name: string) => (await stack.sql('SELECT count(*)::int AS n FROM services WHERE name = $1', [name]))[0].n as number;

  it.each([
    ['a channel that is no Slack channel', { name: 'forms one', slackChannels: 'ops, #bad!' }, /^#bad!: is not a Slack channel id or name\.$/],
    ["a test event's app", { name: 'forms two', herokuAppNames: 'test:shop' }, /^test:shop: must not start with test: \(test events' apps\)\.$/],
    ['no name', { name: '  ' }, /^Name: a service needs a name\.$/],
  ])('%s', async (_what, fields, notice) => {
    expect(await form(fields)).toMatch(notice);
    const body = { name: fields.name, ...('slackChannels' in fields && { slackChannels: fields.slackChannels.split(',').map((c) => c.trim()) }), ...('herokuAppNames' in fields && { herokuAppNames: [fields.herokuAppNames] }) };
    expect((await stack.call('POST', '/api/v1/services', { body })).status).toBe(400);
    expect(await count(fields.name)).toBe(0);
  });

  it('a name taken is refused alike', async () => {
    expect((await stack.call('POST', '/api/v1/services', { body: { name: 'forms taken' } })).status).toBe(201);
    expect(await form({ name: 'forms taken' })).toBe('a service named "forms taken" already exists');
    expect((await stack.call('POST', '/api/v1/services', { body: { name: 'forms taken' } })).status).toBe(409);
  });
});

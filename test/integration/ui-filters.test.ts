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

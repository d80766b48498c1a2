import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegration, postWebhook, signInUi, startTestStack, waitFor, type TestStack } from '../support/stack.js';

/**
 * Rows that no longer come in through the API but that a database may hold (written before the
 * ingest kept event times in range, or by hand): times PostgreSQL accepts but JavaScript or
 * Prisma cannot read, NULLs where allowed, JSON that is not an object. Every list and detail,
 * REST and UI, still answers 200.
 */
let stack: TestStack;
let cookie: string;
const ids = { events: [] as string[], incidents: [] as string[], services: [] as string[], runs: [] as string[], integration: '' };

const ODD_TIMES = ['10000-01-01 00:00:00+00', '0001-01-01 00:00:00+00 BC', 'infinity', '-infinity', '294276-12-31 00:00:00+00', '4713-01-01 00:00:00+00 BC'];
const ODD_JSON = ['"just a string"', 'null', '[1, "two", null]', '12345.678', 'true', '{}', JSON.stringify({ a: { b: { c: [{ d: '\u2028 <script>' }] } } })];
const odd = (index: number) => ODD_TIMES[index % ODD_TIMES.length]!;
const oddJson = (index: number) => ODD_JSON[index % ODD_JSON.length]!;

beforeAll(async () => {
  stack = await startTestStack();
  stack.startWorker();
  // A few ordinary rows first, through the API.
  const integration = await createIntegration(stack, ['odd-app']);
  ids.integration = integration.id;
  for (const created_at of ['0000-01-01T00:00:00Z', '+010000-01-01T00:00:00Z', new Date().toISOString()]) {
    const body = JSON.stringify({ id: randomUUID(), resource: 'build', action: 'update', data: { id: randomUUID(), app: { name: 'odd-app' }, status: 'failed' }, created_at });
    expect((await postWebhook(stack, integration.id, body, { secret: integration.secret })).status).toBe(202);
  }
  await waitFor(async () => (await stack.sql("SELECT count(*)::int AS n FROM events WHERE status = 'processed'"))[0].n === 3, { what: 'ordinary events processed' });
  const service = await stack.call('POST', '/api/v1/services', { body: { name: 'odd service', herokuAppNames: ['odd-app'], slackChannels: [] } });
  expect(service.status).toBe(201);
  await stack.call('POST', '/api/v1/tokens', { body: { name: 'odd token', role: 'responder' } });

  // Then odd rows, straight into the database.
  for (let i = 0; i < ODD_TIMES.length; i += 1) {
    const [event] = await stack.sql(
      `INSERT INTO events (event_id, source, integration_id, resource, entity, action, app_name, occurred_at, payload, status, received_at, last_delivered_at, processed_at)
       VALUES ($1, 'heroku_webhook', $2, 'build', 'api:build', NULL, $3, $4, $5::jsonb, 'processed', $6, $7, $8) RETURNING id`,
      [`odd-${i}`, i % 2 === 0 ? integration.id : null, i % 3 === 0 ? null : 'odd-app', i % 2 === 0 ? odd(i) : null, oddJson(i), odd(i + 1), odd(i + 2), i % 2 === 1 ? odd(i + 3) : null],
    );
    ids.events.push(event.id);
    const [incident] = await stack.sql(
      `INSERT INTO incidents (title, status, severity, dedup_key, app_name, entity, triggered_at, created_at, updated_at, acknowledged_at, resolved_at, resolved_event_at)
       VALUES ($1, $2, 'high', $3, $4, 'dyno', $5, $6, $7, $8, $9, $10) RETURNING id`,
      [`odd incident ${i}`, i % 2 === 0 ? 'resolved' : 'triggered', `odd:${i}`, i % 3 === 0 ? null : 'odd-app', odd(i), odd(i + 1), odd(i + 2), i % 2 === 0 ? odd(i + 3) : null, i % 2 === 0 ? odd(i + 4) : null, i % 2 === 0 ? odd(i + 5) : null],
    );
    ids.incidents.push(incident.id);
    await stack.sql('INSERT INTO incident_services (incident_id, service_id) VALUES ($1, $2)', [incident.id, service.body.id]);
    await stack.sql("INSERT INTO timeline_entries (incident_id, at, kind, message, data, actor) VALUES ($1, $2, 'triggered', 'odd', $3::jsonb, NULL), ($1, $4, 'note', '', $5::jsonb, 'someone')", [
      incident.id,
      odd(i),
      oddJson(i),
      odd(i + 1),
      oddJson(i + 1),
    ]);
    const [pulse] = await stack.sql(
      `INSERT INTO pulses (kind, summary, app_name, status, dedup_key, correlation_id, occurred_at, data) VALUES ($1, 'odd pulse', $2, NULL, $3, $4, $5, $6::jsonb) RETURNING id`,
      [i % 2 === 0 ? 'release' : 'build', i % 3 === 0 ? null : 'odd-app', `odd-pulse:${i}`, i % 2 === 0 ? 'odd-correlation' : null, odd(i), oddJson(i)],
    );
    await stack.sql('INSERT INTO pulse_services (pulse_id, service_id, occurred_at) VALUES ($1, $2, $3)', [pulse.id, service.body.id, odd(i)]);
    const [run] = await stack.sql(
      `INSERT INTO action_runs (incident_id, kind, status, command, app_name, dyno_size, time_to_live, requested_by, created_at, started_at, finished_at, output)
       VALUES ($1, 'run', 'succeeded', 'echo odd', 'odd-app', 'standard-1X', 60, 'someone', $2, $3, $4, NULL) RETURNING id`,
      [incident.id, odd(i), odd(i + 1), odd(i + 2)],
    );
    ids.runs.push(run.id);
    const [serviceRow] = await stack.sql('INSERT INTO services (name, created_at, updated_at) VALUES ($1, $2, $3) RETURNING id', [`odd service ${i}`, odd(i), odd(i + 1)]);
    ids.services.push(serviceRow.id);
    await stack.sql("INSERT INTO api_tokens (name, role, token_hash, created_at, last_used_at, revoked_at) VALUES ($1, 'responder', $2, $3, $4, $5)", [
      `odd token ${i}`,
      randomUUID(),
      odd(i),
      odd(i + 1),
      i % 2 === 0 ? odd(i + 2) : null,
    ]);
  }
  await stack.sql('UPDATE heroku_integrations SET created_at = $1, updated_at = $2', [odd(0), odd(1)]);

  cookie = (await signInUi(stack)).cookie;
});
afterAll(async () => stack?.stop());

/** Every page of a list, one row at a time, until it ends (a page of only unreadable times ends it early), never more pages than rows. */
async function walk(path: string, rows: number): Promise<unknown[]> {
  const items: unknown[] = [];
  let cursor: string | null = null;
  for (let page = 0; page <= rows + 1; page += 1) {
    const response = await stack.call('GET', `${path}${path.includes('?') ? '&' : '?'}limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    expect(response.status, `${path} page ${page}: ${JSON.stringify(response.body)}`).toBe(200);
    items.push(...response.body.items);
    cursor = response.body.nextCursor ?? null;
    if (cursor === null) return items;
  }
  throw new Error(`${path} did not end`);
}

describe('every list and detail reads back whatever the database holds', () => {
  it('REST lists answer 200 on every page, and print every time as ISO 8601 or null', async () => {
    const lists = ['/api/v1/events', '/api/v1/incidents', '/api/v1/pulses', '/api/v1/services', '/api/v1/tokens', '/api/v1/integrations/heroku', `/api/v1/incidents/${ids.incidents[1]}/action-runs`];
    for (const path of lists) {
      const whole = await stack.call('GET', path);
      expect(whole.status, `${path}: ${JSON.stringify(whole.body)}`).toBe(200);
      expect(whole.body.items.length, path).toBeGreaterThan(0);
      const table = { '/api/v1/events': 'events', '/api/v1/incidents': 'incidents', '/api/v1/pulses': 'pulses' }[path];
      if (table !== undefined) expect(whole.body.items.length, path).toBe((await stack.sql(`SELECT count(*)::int AS n FROM ${table}`))[0].n);
      for (const item of whole.body.items) {
        for (const key of ['occurredAt', 'receivedAt', 'lastDeliveredAt', 'processedAt', 'createdAt', 'updatedAt', 'triggeredAt', 'acknowledgedAt', 'resolvedAt', 'lastUsedAt', 'revokedAt', 'startedAt', 'finishedAt']) {
          if (key in item && item[key] !== null) expect(item[key], `${path} ${key}`).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        }
      }
      await walk(path, whole.body.items.length);
    }
  });

  it('REST details answer 200', async () => {
    const details = [
      ...ids.events.map((id) => `/api/v1/events/${id}`),
      ...ids.incidents.map((id) => `/api/v1/incidents/${id}`),
      ...ids.services.map((id) => `/api/v1/services/${id}`),
      ...ids.runs.map((id) => `/api/v1/action-runs/${id}`),
      `/api/v1/integrations/heroku/${ids.integration}`,
    ];
    for (const path of details) {
      const response = await stack.call('GET', path);
      expect(response.status, `${path}: ${JSON.stringify(response.body)}`).toBe(200);
    }
    const event = await stack.call('GET', `/api/v1/events/${ids.events[0]}`);
    expect(event.body).toMatchObject({ occurredAt: null, receivedAt: null, payload: 'just a string' });
  });

  it('UI pages answer 200', async () => {
    const pages = [
      '/incidents',
      '/incidents?fragment=1',
      ...ids.incidents.map((id) => `/incidents/${id}`),
      '/deploys',
      '/events',
      ...ids.events.map((id) => `/events/${id}`),
      '/services',
      '/integrations',
      `/integrations/${ids.integration}`,
    ];
    for (const path of pages) {
      const response = await fetch(`${stack.url}${path}`, { headers: { cookie }, redirect: 'manual' });
      expect(response.status, `${path}: ${(await response.text()).slice(0, 500)}`).toBe(200);
    }
  });

  it('an event time out of range is stored as the receive time; the payload keeps the original', async () => {
    const rows = await stack.sql<{ occurred_at: Date; received_at: Date; created_at: string }>(
      "SELECT occurred_at, received_at, payload ->> 'created_at' AS created_at FROM events WHERE payload ->> 'created_at' IN ('0000-01-01T00:00:00Z', '+010000-01-01T00:00:00Z')",
    );
    expect(rows.map((row) => row.created_at).sort()).toEqual(['+010000-01-01T00:00:00Z', '0000-01-01T00:00:00Z']);
    for (const row of rows) expect(Math.abs(row.occurred_at.getTime() - row.received_at.getTime())).toBeLessThan(60_000);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrationDirectory, jobIdForEventRow } from '@pulsebridge/core';
import { ADDON, createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';
import { distinctWebhookFixtures, fixtureAppName, legacyFixtures, webhookFixtures } from '../support/fixtures.js';

const fixtures = distinctWebhookFixtures();
const monitoredApps = [...new Set(fixtures.map(fixtureAppName))];

let stack: TestStack;
let integration: { id: string; secret: string };

beforeAll(async () => {
  stack = await startTestStack();
  integration = await createIntegration(stack, monitoredApps);
  stack.startWorker();
});
afterAll(async () => stack?.stop());

async function jobCount(eventId: string) {
  const [row] = await stack.sql<{ id: string }>('SELECT id FROM events WHERE event_id = $1', [eventId]);
  const job = await stack.runtime.queues.events.getJob(jobIdForEventRow(row!.id));
  return job ? 1 : 0;
}

describe('Heroku webhook ingress', () => {
  it('covers every reference payload', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(33);
  });

  it.each(fixtures.map((fixture) => [fixture.name, fixture] as const))('%s: signed delivery is stored once, enqueued once and processed', async (_name, fixture) => {
    const response = await postWebhook(stack, integration.id, fixture.raw, { secret: integration.secret });
    expect(response.status).toBe(202);
    expect(response.body).toEqual({ status: 'accepted', eventId: fixture.json.id });

    const rows = await stack.sql('SELECT * FROM events WHERE event_id = $1', [fixture.json.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].integration_id).toBe(integration.id);
    expect(rows[0].app_name).toBe(fixtureAppName(fixture));
    expect(rows[0].payload).toEqual(fixture.json);
    expect(rows[0].resource).toBe(fixture.json.resource ?? 'dyno');
    expect(rows[0].entity).toBe(fixture.json.webhook_metadata?.event?.include ?? `api:${fixture.json.resource}`);
    expect(rows[0].delivery_id).toBe(fixture.json.webhook_metadata?.delivery?.id ?? null);

    const processed = await waitFor(async () => {
      const [row] = await stack.sql('SELECT status, processed_at FROM events WHERE event_id = $1', [fixture.json.id]);
      return row.status === 'processed' ? row : undefined;
    }, { what: `${fixture.name} processed` });
    expect(processed.processed_at).not.toBeNull();

    // The job was added once with the row-derived id; a redelivery neither stores nor enqueues again.
    const again = await postWebhook(stack, integration.id, fixture.raw, { secret: integration.secret });
    expect(again.status).toBe(202);
    expect(again.body).toEqual({ status: 'duplicate', eventId: fixture.json.id });
    const [after] = await stack.sql('SELECT count(*)::int AS n, max(delivery_count) AS deliveries, max(status::text) AS status FROM events WHERE event_id = $1', [fixture.json.id]);
    expect(after).toEqual({ n: 1, deliveries: 2, status: 'processed' });
  });

  it('acknowledges a different body under an already stored event id without overwriting it', async () => {
    const [original, variant] = webhookFixtures().filter((fixture) => fixture.json.id === 'aab185d0-2611-4f40-817c-caba2ad7d2de');
    expect(original!.raw.equals(variant!.raw)).toBe(false);
    for (const fixture of [original!, variant!]) {
      expect((await postWebhook(stack, integration.id, fixture.raw, { secret: integration.secret })).status).toBe(202);
    }
    const rows = await stack.sql('SELECT payload FROM events WHERE event_id = $1', [original!.json.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].payload).toEqual(original!.json);
  });

  it('keeps one job per event id in the queue', async () => {
    await stack.api.settled();
    const fixture = fixtures[0]!;
    expect(await jobCount(fixture.json.id)).toBe(1);
    const counts = await stack.runtime.queues.events.getJobCounts('completed', 'waiting', 'active', 'delayed', 'failed');
    expect(Object.values(counts).reduce((sum, n) => sum + n, 0)).toBe(fixtures.length);
  });
});

describe('legacy add-on notifications', () => {
  const legacy = legacyFixtures();
  const basic = (id: string, password: string) => `Basic ${Buffer.from(`${id}:${password}`).toString('base64')}`;
  const post = (body: unknown, authorization?: string) =>
    fetch(`${stack.url}/heroku/resources/resource-123/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization && { authorization }) },
      body: JSON.stringify(body),
    });

  it.each(['deploy', 'attach', 'detach'] as const)('%s is accepted with 200, stored once and processed', async (name) => {
    const response = await post(legacy[name], basic(ADDON.id, ADDON.password));
    expect(response.status).toBe(200);
    const { eventId } = (await response.json()) as { eventId: string };
    const again = await post(legacy[name], basic(ADDON.id, ADDON.password));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ status: 'duplicate', eventId });

    const rows = await stack.sql('SELECT resource, entity, app_name, addon_resource_id, source, delivery_count FROM events WHERE event_id = $1', [eventId]);
    expect(rows).toEqual([
      {
        resource: name,
        entity: `addon:${name}`,
        app_name: name === 'deploy' ? 'deploying-furiously-42' : 'example',
        addon_resource_id: 'resource-123',
        source: 'heroku_addon',
        delivery_count: 2,
      },
    ]);
    await waitFor(async () => (await stack.sql('SELECT status FROM events WHERE event_id = $1', [eventId]))[0].status === 'processed', { what: 'legacy processed' });
  });

  it('refuses missing or wrong Basic credentials with 401', async () => {
    for (const authorization of [undefined, basic(ADDON.id, 'wrong'), basic('someone-else', ADDON.password), 'Bearer x', 'Basic !!!']) {
      const response = await post(legacy.deploy, authorization);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic/);
      expect(((await response.json()) as any).error.code).toBe('unauthorized');
    }
  });

  it('rejects an unknown event name with 400', async () => {
    const response = await post({ heroku_id: 'app@heroku.com', event: 'explode', detail: {} }, basic(ADDON.id, ADDON.password));
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error.code).toBe('not_a_heroku_event');
  });
});

describe('the integration directory behind both ingresses', () => {
  it('reads an integration once for requests that find it expired together, and never caches a read that overlapped a change', async () => {
    const integration = await createIntegration(stack, ['one-read']);
    let reads = 0;
    const pool = stack.runtime.db.pool;
    const counting = {
      query: (...args: Parameters<typeof pool.query>) => {
        reads += 1;
        return (pool.query as (...a: unknown[]) => unknown)(...args);
      },
    } as unknown as typeof pool;
    const directory = new IntegrationDirectory(counting, stack.config.secretKey, { ttlMs: 50, maxEntries: 100 });
    const first = await Promise.all(Array.from({ length: 50 }, () => directory.get(integration.id)));
    expect(reads).toBe(1);
    expect(first.every((record) => record?.monitored.has('one-read'))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await Promise.all(Array.from({ length: 50 }, () => directory.get(integration.id)));
    expect(reads).toBe(2);

    // A change in this process while a read is under way: the next request reads again.
    await new Promise((resolve) => setTimeout(resolve, 60));
    const overlapping = directory.get(integration.id);
    await stack.sql("UPDATE heroku_integrations SET monitored_apps = '{one-read,two-read}' WHERE id = $1", [integration.id]);
    directory.invalidate(integration.id);
    await overlapping;
    expect((await directory.get(integration.id))?.monitored.has('two-read')).toBe(true);
    expect(reads).toBe(4);
  });
});

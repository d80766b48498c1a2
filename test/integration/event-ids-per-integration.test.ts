import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDON, createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
  stack.startWorker();
});
afterAll(async () => stack?.stop());

const failedBuild = (id: string, app: string) =>
  JSON.stringify({ id, resource: 'build', action: 'update', data: { id: randomUUID(), app: { name: app }, status: 'failed' }, created_at: new Date().toISOString() });

async function statusOf(id: string, integrationId: string): Promise<string | undefined> {
  return (await stack.sql('SELECT status::text FROM events WHERE event_id = $1 AND integration_id = $2', [id, integrationId]))[0]?.status;
}

describe('event ids are unique per integration', () => {
  it('an event skipped by an integration that does not monitor its app is processed when it comes through one that does', async () => {
    const elsewhere = await createIntegration(stack, ['some-other-app'], 'other account');
    const monitoring = await createIntegration(stack, ['billing-api'], 'billing account');
    const id = randomUUID();
    const body = failedBuild(id, 'billing-api');

    const first = await postWebhook(stack, elsewhere.id, body, { secret: elsewhere.secret });
    expect(first.status).toBe(202);
    await waitFor(async () => (await statusOf(id, elsewhere.id)) === 'skipped', { what: 'skipped through the first integration' });

    const second = await postWebhook(stack, monitoring.id, body, { secret: monitoring.secret });
    expect(second.status).toBe(202);
    expect(second.body).toEqual({ status: 'accepted', eventId: id });
    await waitFor(async () => (await statusOf(id, monitoring.id)) === 'processed', { what: 'processed through the monitoring integration' });
    const incidents = await stack.sql("SELECT alert_count FROM incidents WHERE app_name = 'billing-api'");
    expect(incidents).toEqual([{ alert_count: 1 }]);

    // Each integration still deduplicates its own redeliveries.
    for (const integration of [elsewhere, monitoring]) {
      const again = await postWebhook(stack, integration.id, body, { secret: integration.secret });
      expect(again.body).toEqual({ status: 'duplicate', eventId: id });
    }
    const rows = await stack.sql('SELECT integration_id, delivery_count FROM events WHERE event_id = $1 ORDER BY delivery_count', [id]);
    expect(rows).toHaveLength(2);
    expect(rows.map((row) => row.delivery_count)).toEqual([2, 2]);
  });

  it('legacy add-on notifications, which have no integration, are still stored once', async () => {
    const body = JSON.stringify({ heroku_id: 'resource-1', event: 'deploy', detail: { app: 'billing-api', head: 'abc123', user: 'dev@example.com' } });
    const post = () =>
      fetch(`${stack.url}/heroku/resources/resource-1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${ADDON.id}:${ADDON.password}`).toString('base64')}` },
        body,
      });
    const responses = await Promise.all([post(), post(), post()]);
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200]);
    const rows = await stack.sql("SELECT delivery_count FROM events WHERE source = 'heroku_addon'");
    expect(rows).toEqual([{ delivery_count: 3 }]);
  });
});

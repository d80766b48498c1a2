import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIdForEventRow, signHerokuBody } from '@pulsebridge/core';
import { createIntegration, postWebhook, startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let integration: { id: string; secret: string };

const event = (id: string = randomUUID(), app = 'sample-app') =>
  JSON.stringify({ id, resource: 'build', action: 'update', data: { app: { name: app }, status: 'succeeded' }, created_at: '2026-11-24T10:00:00Z' });

beforeAll(async () => {
  stack = await startTestStack();
  integration = await createIntegration(stack, ['sample-app']);
});
afterAll(async () => stack?.stop());

async function storedCount() {
  return (await stack.sql('SELECT count(*)::int AS n FROM events'))[0].n as number;
}

describe('webhook ingress refuses bad deliveries without storing them', () => {
  it('401 for a wrong signature, a signature made with another secret, and a missing one', async () => {
    const before = await storedCount();
    const body = event();
    const cases = [
      { signature: 'bm90IGEgc2lnbmF0dXJl', code: 'bad_signature' },
      { signature: signHerokuBody('another-secret', body), code: 'bad_signature' },
      { signature: signHerokuBody(integration.secret, `${body} `), code: 'bad_signature' },
      { signature: null, code: 'missing_signature' },
      { signature: '', code: 'missing_signature' },
    ];
    for (const { signature, code } of cases) {
      const response = await postWebhook(stack, integration.id, body, { signature });
      expect(response.status).toBe(401);
      expect(response.body.error.code).toBe(code);
      expect(response.body.error.message).toMatch(/Heroku-Webhook-Hmac-SHA256/);
    }
    expect(await storedCount()).toBe(before);
  });

  it('404 for an integration that does not exist, whatever the id looks like', async () => {
    for (const id of [randomUUID(), 'not-a-uuid', '1']) {
      const response = await postWebhook(stack, id, event(), { secret: integration.secret });
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('unknown_integration');
    }
  });

  it('400 for a body that is not JSON, or JSON that is not a Heroku event', async () => {
    const cases: [string, string][] = [
      ['{"id": "x", ', 'invalid_json'],
      ['', 'invalid_json'],
      ['[1,2,3]', 'not_a_heroku_event'],
      ['"just a string"', 'not_a_heroku_event'],
      [JSON.stringify({ resource: 'build', data: {} }), 'not_a_heroku_event'],
      [JSON.stringify({ id: randomUUID(), resource: 'build' }), 'not_a_heroku_event'],
      [JSON.stringify({ id: randomUUID(), data: { foo: 1 } }), 'not_a_heroku_event'],
      [JSON.stringify({ id: 'x'.repeat(300), resource: 'build', data: {} }), 'not_a_heroku_event'],
    ];
    for (const [body, code] of cases) {
      const response = await postWebhook(stack, integration.id, body, { secret: integration.secret });
      expect(response.status, body).toBe(400);
      expect(response.body.error.code).toBe(code);
    }
  });

  it('400 for a payload PostgreSQL cannot store, without failing other deliveries in its batch', async () => {
    const good = Array.from({ length: 20 }, () => event());
    const bad = JSON.stringify({ id: randomUUID(), resource: 'build', data: { app: { name: 'sample-app' }, note: 'nul \u0000 byte' } });
    const responses = await Promise.all([...good, bad].map((body) => postWebhook(stack, integration.id, body, { secret: integration.secret })));
    expect(responses.slice(0, 20).map((r) => r.status)).toEqual(Array(20).fill(202));
    expect(responses[20]!.status).toBe(400);
    expect(responses[20]!.body.error.message).toMatch(/cannot be stored/);
  });

  it('413 for a body over 1 MiB, before storing anything', async () => {
    const before = await storedCount();
    const huge = JSON.stringify({ id: randomUUID(), resource: 'build', data: { blob: 'x'.repeat(1024 * 1024) } });
    const response = await postWebhook(stack, integration.id, huge, { secret: integration.secret });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('payload_too_large');
    expect(await storedCount()).toBe(before);
  });

  it('a body just under the limit is accepted', async () => {
    const id = randomUUID();
    const padding = 'x'.repeat(1024 * 1024 - 200);
    const body = JSON.stringify({ id, resource: 'build', data: { app: { name: 'sample-app' }, padding } });
    expect(body.length).toBeLessThan(1024 * 1024);
    const response = await postWebhook(stack, integration.id, body, { secret: integration.secret });
    expect(response.status).toBe(202);
  });
});

describe('redeliveries', () => {
  it('50 concurrent deliveries of one event make one row and one job', async () => {
    const id = randomUUID();
    const body = event(id);
    const responses = await Promise.all(Array.from({ length: 50 }, () => postWebhook(stack, integration.id, body, { secret: integration.secret })));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(202));
    expect(responses.filter((r) => r.body.status === 'accepted')).toHaveLength(1);
    expect(responses.filter((r) => r.body.status === 'duplicate')).toHaveLength(49);
    const rows = await stack.sql('SELECT id, delivery_count FROM events WHERE event_id = $1', [id]);
    expect(rows).toEqual([{ id: expect.any(String), delivery_count: 50 }]);
    await stack.api.settled();
    const jobs = await stack.runtime.queues.events.getJobs(['waiting', 'active', 'completed', 'delayed', 'prioritized']);
    expect(jobs.filter((job) => job.id === jobIdForEventRow(rows[0].id))).toHaveLength(1);
  });

  it('an event id with characters BullMQ forbids in job ids still gets one valid job', async () => {
    const id = 'release:42:1234';
    const responses = await Promise.all([1, 2, 3].map(() => postWebhook(stack, integration.id, event(id), { secret: integration.secret })));
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202]);
    await stack.api.settled();
    const [row] = await stack.sql('SELECT id FROM events WHERE event_id = $1', [id]);
    const jobId = jobIdForEventRow(row.id);
    expect(jobId).not.toContain(':');
    const job = await stack.runtime.queues.events.getJob(jobId);
    expect(job?.data).toEqual({ eventRowId: row.id });
  });
});

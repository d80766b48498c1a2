import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadEventDataError, isRefusedData, storeEvents, type NewEvent } from '@pulsebridge/core';
import { createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';
import { dynoCrashBody } from '../support/fixtures.js';

let stack: TestStack;
let integration: { id: string; secret: string };

const build = (id = randomUUID()) =>
  JSON.stringify({ id, resource: 'build', action: 'update', data: { app: { name: 'sample-app' }, status: 'succeeded' }, created_at: new Date().toISOString() });
const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

beforeAll(async () => {
  stack = await startTestStack();
  integration = await createIntegration(stack, ['sample-app']);
});
afterAll(async () => stack?.stop());

describe('a delivery PostgreSQL refuses fails alone', () => {
  it('in a mixed burst every good delivery is accepted and each bad one is refused with 400 and a clear error', async () => {
    const good = Array.from({ length: 60 }, () => build());
    const bad: { body: string; code: string; message: RegExp }[] = [
      { body: `{"id":"${randomUUID()}","resource":"build","data":{"app":{"name":"sample-app"},"deep":${nested(20_000)}}}`, code: 'refused', message: /nests deeper than 64 levels/ },
      { body: JSON.stringify({ id: randomUUID(), resource: randomBytes(9 * 1024).toString('base64'), data: { app: { name: 'sample-app' } } }), code: 'not_a_heroku_event', message: /`resource` is longer than 100/ },
      { body: JSON.stringify({ id: randomUUID(), data: {}, webhook_metadata: { event: { include: `api:${'x'.repeat(12 * 1024)}` } } }), code: 'not_a_heroku_event', message: /`webhook_metadata.event.include` is longer than 100/ },
      { body: JSON.stringify({ id: randomUUID(), resource: 'build', data: { app: { name: 'a'.repeat(5_000) } } }), code: 'not_a_heroku_event', message: /app name is longer than 100/ },
      { body: JSON.stringify({ id: randomUUID(), resource: 'build', data: { app: { name: 'sample-app' }, note: 'nul \u0000 byte' } }), code: 'refused', message: /NUL character/ },
      // Only PostgreSQL knows this one: jsonb refuses a lone surrogate escape (SQLSTATE 22P05).
      { body: `{"id":"${randomUUID()}","resource":"build","data":{"app":{"name":"sample-app"},"note":"\\udc00"}}`, code: 'refused', message: /cannot be stored/ },
    ];
    const bodies = [...good.slice(0, 30), ...bad.map((b) => b.body), ...good.slice(30)];
    const responses = await Promise.all(bodies.map((body) => postWebhook(stack, integration.id, body, { secret: integration.secret })));
    const goodResponses = [...responses.slice(0, 30), ...responses.slice(30 + bad.length)];
    expect(goodResponses.map((r) => r.status)).toEqual(Array(60).fill(202));
    for (const [index, expected] of bad.entries()) {
      const response = responses[30 + index]!;
      expect(response.status, expected.code).toBe(400);
      expect(response.body.error.code).toBe(expected.code);
      expect(response.body.error.message).toMatch(expected.message);
    }
    const stored = await stack.sql<{ event_id: string }>('SELECT event_id FROM events');
    expect(stored.map((row) => row.event_id).sort()).toEqual(good.map((body) => JSON.parse(body).id).sort());
  });

  it('a batch insert PostgreSQL refuses is retried row by row: only the refused rows fail', async () => {
    const row = (overrides: Partial<NewEvent> = {}): NewEvent => {
      const eventId = randomUUID();
      return {
        eventId,
        deliveryId: null,
        source: 'heroku_webhook',
        resource: 'build',
        entity: 'api:build',
        action: 'update',
        appName: 'sample-app',
        occurredAt: new Date(),
        integrationId: integration.id,
        addonResourceId: null,
        payloadJson: JSON.stringify({ id: eventId }),
        ...overrides,
      };
    };
    // What the envelope checks would refuse, stored directly: an index row too large (54000) and JSON too deep (54001).
    const batch = [row(), row({ resource: randomBytes(9 * 1024).toString('base64') }), row(), row({ payloadJson: nested(100_000) }), row()];
    const results = await storeEvents(stack.runtime.db.pool, batch);
    expect(results.map((result) => (result instanceof BadEventDataError ? 'refused' : result.inserted))).toEqual([true, 'refused', true, 'refused', true]);
    expect((results[1] as BadEventDataError).message).toMatch(/index row/);
    expect((results[3] as BadEventDataError).message).toMatch(/stack depth/);
  });

  it('classifies SQLSTATEs: the data (22, 23, 54) against the database (connection, shutdown, resources)', () => {
    for (const code of ['22P02', '22P05', '22008', '23502', '23503', '54000', '54001']) expect(isRefusedData({ code }), code).toBe(true);
    for (const code of ['08006', '57P01', '53300', '40P01', '42P01']) expect(isRefusedData({ code }), code).toBe(false);
    expect(isRefusedData({ code: '23505', constraint: 'events_event_id_integration_id_key' })).toBe(false);
    expect(isRefusedData(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isRefusedData(undefined)).toBe(false);
  });

  it('a crash of a dyno with a 1,100-character name opens an incident, its repeat groups into it, and another long name apart', async () => {
    stack.startWorker();
    // CJK characters (3 bytes each in UTF-8) from a fixed sequence: long and incompressible enough to overflow an index row.
    const cjk = (length: number, seed: number) => Array.from({ length }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 7919 + seed) % 20_000))).join('');
    const shared = cjk(1_050, 1);
    const dyno = `web.${shared}${cjk(50, 2)}`;
    const other = `web.${shared}${cjk(50, 3)}`;
    let processed = 0;
    for (const name of [dyno, dyno, other]) {
      const response = await postWebhook(stack, integration.id, dynoCrashBody('sample-app', name), { secret: integration.secret });
      expect(response.status).toBe(202);
      processed += 1;
      await waitFor(async () => (await stack.sql("SELECT count(*)::int AS n FROM events WHERE resource = 'dyno' AND status = 'processed'"))[0].n === processed, {
        what: `crash ${processed} processed`,
      });
    }
    const incidents = await stack.sql<{ dedup_key: string; alert_count: number; status: string }>(
      "SELECT dedup_key, alert_count, status::text FROM incidents WHERE entity = 'dyno' ORDER BY alert_count DESC",
    );
    expect(incidents.map((incident) => [incident.alert_count, incident.status])).toEqual([
      [2, 'triggered'],
      [1, 'triggered'],
    ]);
    for (const incident of incidents) {
      expect(incident.dedup_key.length).toBeLessThanOrEqual(200);
      expect(incident.dedup_key.startsWith(`heroku:sample-app:dyno:web.${shared.slice(0, 100)}`)).toBe(true);
    }
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOwnRedis, type OwnRedis } from '../support/own-redis.js';
import { createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';

let redis: OwnRedis;
let stack: TestStack;

beforeAll(async () => {
  redis = await startOwnRedis();
  stack = await startTestStack({ config: { REDIS_URL: redis.url, RECONCILE_GRACE_MS: '500', RECONCILE_INTERVAL_MS: '300' } });
});
afterAll(async () => {
  await stack?.stop();
  await redis?.kill();
});

describe('Redis restarted with its data gone in the middle of a burst', () => {
  it('every accepted event is processed exactly once', async () => {
    const apps = Array.from({ length: 10 }, (_, i) => `restart-app-${i}`);
    const integration = await createIntegration(stack, apps);
    stack.startWorker();
    const events = Array.from({ length: 120 }, (_, i) =>
      JSON.stringify({ id: randomUUID(), resource: 'build', action: 'update', data: { id: randomUUID(), app: { name: apps[i % apps.length] }, status: 'succeeded', source_blob: { version: 'abc' } }, created_at: new Date().toISOString() }),
    );
    let accepted = 0;
    for (const [index, body] of events.entries()) {
      if (index === 40) {
        // Redis dies and comes back empty, as a restart without persistence does.
        await redis.kill();
      }
      if (index === 60) {
        await redis.start();
      }
      const response = await postWebhook(stack, integration.id, body, { secret: integration.secret });
      // PostgreSQL holds what was acknowledged, so ingress answers 202 even while Redis is down.
      expect(response.status).toBe(202);
      accepted += 1;
    }
    expect(accepted).toBe(events.length);
    await waitFor(async () => (await stack.sql("SELECT count(*)::int AS n FROM events WHERE status = 'processed'"))[0].n === events.length, {
      what: 'every accepted event processed',
      timeoutMs: 30_000,
    });
    // Exactly once: one pulse per build, never two.
    expect((await stack.sql("SELECT count(*)::int AS n FROM pulses WHERE app_name LIKE 'restart-app-%'"))[0].n).toBe(events.length);
  });
});

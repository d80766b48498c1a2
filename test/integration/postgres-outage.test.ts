import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegration, createTestDatabase, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

let stack: TestStack;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;

beforeAll(async () => {
  const direct = new URL(await createTestDatabase());
  proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  direct.port = String(proxy.port);
  stack = await startTestStack({ database: direct.toString() });
});
afterAll(async () => {
  proxy?.restore();
  await stack?.stop();
  await proxy?.close();
});

const build = (id: string) => JSON.stringify({ id, resource: 'build', action: 'update', data: { app: { name: 'sample-app' }, status: 'failed' } });

describe('PostgreSQL down', () => {
  it('ingress answers 503 with Retry-After so Heroku retries, /readyz says why, and all recovers', async () => {
    const integration = await createIntegration(stack, ['sample-app']);
    stack.startWorker();
    const warm = randomUUID();
    expect((await postWebhook(stack, integration.id, build(warm), { secret: integration.secret })).status).toBe(202);

    proxy.cut();
    const id = randomUUID();
    const during = await postWebhook(stack, integration.id, build(id), { secret: integration.secret });
    expect(during.status).toBe(503);
    expect(during.body.error.code).toBe('unavailable');
    expect(during.headers.get('retry-after')).toBe('5');
    const ready = await fetch(`${stack.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as any).checks.postgres).toMatch(/unreachable/);

    proxy.restore();
    // Heroku's retry of the same delivery is stored once and processed.
    const retried = await waitFor(async () => {
      const response = await postWebhook(stack, integration.id, build(id), { secret: integration.secret });
      return response.status === 202 ? response : undefined;
    }, { what: 'ingress recovers' });
    expect(retried.body.status).toBe('accepted');
    await waitFor(async () => (await stack.sql('SELECT status::text FROM events WHERE event_id = $1', [id]))[0]?.status === 'processed', { what: 'processed after recovery' });
    expect((await fetch(`${stack.url}/readyz`)).status).toBe(200);
  });
});

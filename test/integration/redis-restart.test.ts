import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';

/** A redis-server of this test's own (never the machine's shared one), keeping nothing on disk. */
function startRedis(port: number): ChildProcess {
  return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function answers(port: number) {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

let port: number;
let redis: ChildProcess;
let stack: TestStack;

beforeAll(async () => {
  port = await freePort();
  redis = startRedis(port);
  await waitFor(() => answers(port), { what: 'own redis-server up' });
  stack = await startTestStack({ config: { REDIS_URL: `redis://127.0.0.1:${port}`, RECONCILE_GRACE_MS: '500', RECONCILE_INTERVAL_MS: '300' } });
});
afterAll(async () => {
  await stack?.stop();
  redis?.kill('SIGKILL');
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
        redis.kill('SIGKILL');
        await waitFor(async () => !(await answers(port)), { what: 'redis down' });
      }
      if (index === 60) {
        redis = startRedis(port);
        await waitFor(() => answers(port), { what: 'redis back' });
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

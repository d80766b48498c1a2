import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkReadiness, createMetrics } from '@pulsebridge/core';
import { startMetricsServer } from '@pulsebridge/worker';
import { createTestDatabase } from '../support/stack.js';
import { freePort } from '../support/ports.js';
import { REDIS_URL } from '../support/services.js';

// The worker's /readyz, as the API's: 200 when PostgreSQL and Redis answer, 503 otherwise.
const closers: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

async function readyz(databaseUrl: string, redisUrl: string) {
  const pool = new pg.Pool({ connectionString: databaseUrl, connectionTimeoutMillis: 1_000 });
  pool.on('error', () => undefined);
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  redis.on('error', () => undefined);
  await redis.connect().catch(() => undefined);
  const server: Server = await startMetricsServer(createMetrics({ process: 'worker' }), 0, { readiness: () => checkReadiness({ pool, redis }, 1_000) });
  closers.push(() => pool.end(), () => redis.disconnect(), () => new Promise((resolve) => server.close(resolve)));
  const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`);
  return { status: response.status, body: (await response.json()) as { status: string; checks: Record<string, string> } };
}

describe('worker /readyz', () => {
  let databaseUrl: string;
  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
  });

  it('is 200 when PostgreSQL and Redis answer', async () => {
    const { status, body } = await readyz(databaseUrl, REDIS_URL);
    expect(status).toBe(200);
    expect(body).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('is 503 naming what does not answer', async () => {
    const closed = await freePort();
    const noPostgres = await readyz(`postgresql://postgres@127.0.0.1:${closed}/x`, REDIS_URL);
    expect(noPostgres.status).toBe(503);
    expect(noPostgres.body.checks).toEqual({ postgres: expect.stringMatching(/^unreachable/), redis: 'ok' });
    const noRedis = await readyz(databaseUrl, `redis://127.0.0.1:${closed}`);
    expect(noRedis.status).toBe(503);
    expect(noRedis.body.checks).toEqual({ postgres: 'ok', redis: expect.stringMatching(/^unreachable/) });
  });
});

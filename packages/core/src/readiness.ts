import type { Redis } from 'ioredis';
import type pg from 'pg';

/** What `/readyz` answers: ready when PostgreSQL and Redis both answer within the timeout. */
export interface Readiness {
  ready: boolean;
  body: { status: 'ready' | 'unavailable'; checks: { postgres: string; redis: string } };
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Asks PostgreSQL and Redis once each (the API's and the worker's `/readyz`). */
export async function checkReadiness(deps: { pool: pg.Pool; redis: Redis }, timeoutMs = 2_000): Promise<Readiness> {
  const answer = (work: Promise<unknown>) =>
    withTimeout(work, timeoutMs).then(
      () => 'ok',
      (err: Error) => `unreachable: ${err.message}`,
    );
  const [postgres, redis] = await Promise.all([answer(deps.pool.query('SELECT 1')), answer(deps.redis.ping())]);
  const ready = postgres === 'ok' && redis === 'ok';
  return { ready, body: { status: ready ? 'ready' : 'unavailable', checks: { postgres, redis } } };
}

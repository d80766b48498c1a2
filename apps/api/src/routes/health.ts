import type { Router } from 'express';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { AppError, metricsScrapeAllowed, type Metrics } from '@pulsebridge/core';

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** `/healthz` (process up), `/readyz` (PostgreSQL and Redis answer), `/metrics` (Prometheus; behind METRICS_TOKEN when set). */
export function registerHealthRoutes(router: Router, deps: { pool: pg.Pool; redis: Redis; metrics: Metrics; metricsToken: string | undefined }) {
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const [postgres, redis] = await Promise.all([
      withTimeout(deps.pool.query('SELECT 1'), 2_000).then(
        () => 'ok',
        (err: Error) => `unreachable: ${err.message}`,
      ),
      withTimeout(deps.redis.ping(), 2_000).then(
        () => 'ok',
        (err: Error) => `unreachable: ${err.message}`,
      ),
    ]);
    const ready = postgres === 'ok' && redis === 'ok';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks: { postgres, redis } });
  });

  router.get('/metrics', async (req, res, next) => {
    if (!metricsScrapeAllowed(deps.metricsToken, req.headers.authorization)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      return next(new AppError('unauthorized', 'send METRICS_TOKEN as `Authorization: Bearer <token>`'));
    }
    try {
      const body = await deps.metrics.registry.metrics();
      res.setHeader('Content-Type', deps.metrics.registry.contentType);
      res.send(body);
    } catch {
      // Queue depth needs Redis; without it, serve what does not.
      res.status(503).json({ error: { code: 'unavailable', message: 'metrics need Redis to read queue depth' } });
    }
  });
}

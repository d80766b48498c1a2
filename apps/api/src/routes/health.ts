import type { Router } from 'express';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { AppError, checkReadiness, metricsScrapeAllowed, type Metrics } from '@pulsebridge/core';

/** `/healthz` (process up), `/readyz` (PostgreSQL and Redis answer), `/metrics` (Prometheus; behind METRICS_TOKEN when set). */
export function registerHealthRoutes(router: Router, deps: { pool: pg.Pool; redis: Redis; metrics: Metrics; metricsToken: string | undefined }) {
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const { ready, body } = await checkReadiness(deps);
    res.status(ready ? 200 : 503).json(body);
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

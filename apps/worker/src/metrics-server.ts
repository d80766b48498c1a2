import { createServer, type Server } from 'node:http';
import { metricsScrapeAllowed, type Metrics, type Readiness } from '@pulsebridge/core';

/**
 * The worker's own `/metrics` (job durations and failures; behind METRICS_TOKEN when set),
 * `/healthz` (process up) and `/readyz` (PostgreSQL and Redis reachable: 200, else 503).
 */
export async function startMetricsServer(
  metrics: Metrics,
  port: number,
  options: { token?: string | undefined; readiness?: () => Promise<Readiness> } = {},
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (req.url === '/readyz' && options.readiness !== undefined) {
      options.readiness().then(
        ({ ready, body }) => res.writeHead(ready ? 200 : 503, { 'Content-Type': 'application/json' }).end(JSON.stringify(body)),
        () => res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"status":"unavailable"}'),
      );
      return;
    }
    if (req.url === '/metrics') {
      if (!metricsScrapeAllowed(options.token, req.headers.authorization)) {
        res
          .writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer realm="metrics"' })
          .end('{"error":{"code":"unauthorized","message":"send METRICS_TOKEN as `Authorization: Bearer <token>`"}}');
        return;
      }
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(body),
        () => res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"error":{"code":"unavailable","message":"metrics need Redis"}}'),
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":{"code":"not_found","message":"try /metrics, /healthz or /readyz"}}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, resolve);
  });
  return server;
}

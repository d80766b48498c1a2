import { createServer, type Server } from 'node:http';
import type { Metrics } from '@pulsebridge/core';

/** The worker's own `/metrics` (job durations and failures) and `/healthz`. */
export async function startMetricsServer(metrics: Metrics, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (req.url === '/metrics') {
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(body),
        () => res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"error":{"code":"unavailable","message":"metrics need Redis"}}'),
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":{"code":"not_found","message":"try /metrics or /healthz"}}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, resolve);
  });
  return server;
}

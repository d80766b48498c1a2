import { createServer, type Server } from 'node:http';
import type { Express } from 'express';
import { createIngestor, createProducerRedis, DrainWindowStore, IntegrationDirectory, webhookIncludes, type Ingestor, type RuleSet, type Runtime } from '@pulsebridge/core';
import { createApp } from './app.js';
import { createWebhookIngress } from './routes/webhooks.js';
import { createDrainIngress } from './routes/drains.js';
import { guardRequests } from './http/request-guard.js';

export interface ApiServer {
  server: Server;
  url: string;
  /** Resolves when every delivery accepted so far has been stored and its enqueue attempted. */
  settled(): Promise<void>;
  /** Stops accepting connections, lets in-flight requests finish, stores what they submitted. */
  close(): Promise<void>;
}

/** The express app and the ingestor behind the webhook ingress, built from a runtime (nothing listens yet). */
export function buildApi(runtime: Runtime, rules: RuleSet): { app: Express; ingestor: Ingestor; integrations: IntegrationDirectory; drainWindows: DrainWindowStore } {
  const integrations = new IntegrationDirectory(runtime.db.pool, runtime.config.secretKey);
  const drainWindows = new DrainWindowStore(runtime.redis, runtime.config.queuePrefix);
  const ingestor = createIngestor({
    pool: runtime.db.pool,
    queues: runtime.queues,
    integrations,
    metrics: runtime.metrics,
    logger: runtime.logger,
    addon: runtime.config.addon,
    maxBatch: runtime.config.ingest.maxBatch,
    eventJobs: { maxEvents: runtime.config.ingest.eventsPerJob, lingerMs: runtime.config.ingest.eventJobLingerMs },
  });
  const webhookInclude = webhookIncludes(rules.rules.flatMap((rule) => [...rule.entities]));
  return { app: createApp({ ...runtime, integrations, ingestor, webhookInclude, rules, drainWindows }), ingestor, integrations, drainWindows };
}

/** Builds the app from a runtime and listens on `port` (0 picks a free one). */
export async function startApiServer(runtime: Runtime, options: { port: number; host?: string; rules: RuleSet }): Promise<ApiServer> {
  const { app, ingestor, integrations } = buildApi(runtime, options.rules);
  const ingress = createWebhookIngress({ ingestor, metrics: runtime.metrics, logger: runtime.logger });
  // Drain batches have a connection of their own, pipelined: many batches counted in one turn of
  // the event loop go to Redis in one write.
  const drainRedis = createProducerRedis(runtime.config.redisUrl, { tlsVerify: runtime.config.redisTlsVerify, autoPipelining: true });
  drainRedis.on('error', (err) => runtime.logger.warn({ err: err.message }, 'drain redis connection error'));
  const drains = createDrainIngress({
    integrations,
    windows: new DrainWindowStore(drainRedis, runtime.config.queuePrefix),
    secretKey: runtime.config.secretKey,
    metrics: runtime.metrics,
    logger: runtime.logger,
  });
  const server = createServer(
    guardRequests((req, res) => {
      if (!ingress.handle(req, res) && !drains.handle(req, res)) app(req, res);
    }, runtime.logger),
  );
  server.listen(options.port, options.host ?? '0.0.0.0');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // Heroku keeps connections alive; keep ours open longer than typical proxy idle timeouts.
  server.keepAliveTimeout = 65_000;
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    settled: () => ingestor.drain(),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await ingestor.drain();
      drainRedis.disconnect();
    },
  };
}

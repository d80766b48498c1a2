import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { createDatabase, type Database } from './db/client.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, registerQueueDepth, type Metrics } from './metrics.js';
import { createProducerRedis } from './queues/connections.js';
import { createQueues, type Queues } from './queues/queues.js';

/** The clients both processes build from config: one place, so the two apps cannot drift. */
export interface Runtime {
  config: Config;
  logger: Logger;
  db: Database;
  redis: Redis;
  queues: Queues;
  metrics: Metrics;
  close(): Promise<void>;
}

export function createRuntime(config: Config, options: { process: 'api' | 'worker'; logger?: Logger }): Runtime {
  const logger = options.logger ?? createLogger({ level: config.logLevel, service: `pulsebridge-${options.process}` });
  const db = createDatabase({ url: config.databaseUrl, ssl: config.databaseSsl, maxConnections: config.databasePoolSize, onError: (err) => logger.warn({ err }, 'idle database connection failed') });
  const redis = createProducerRedis(config.redisUrl, { tlsVerify: config.redisTlsVerify });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const queues = createQueues({ connection: redis, prefix: config.queuePrefix, eventJobAttempts: config.worker.eventJobAttempts, eventsPerJob: config.ingest.eventsPerJob });
  const metrics = createMetrics({ process: options.process });
  registerQueueDepth(metrics, [queues.events, queues.slack, queues.heroku]);
  return {
    config,
    logger,
    db,
    redis,
    queues,
    metrics,
    async close() {
      await queues.close().catch((err: unknown) => logger.warn({ err }, 'closing queues failed'));
      redis.disconnect();
      await db.close();
    },
  };
}

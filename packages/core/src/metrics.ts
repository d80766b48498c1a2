import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queue } from 'bullmq';
import { safeEqual } from './crypto.js';

/** Every metric pulsebridge exports; each process registers them in its own registry. */
export function createMetrics(options: { process: 'api' | 'worker' }) {
  const registry = new Registry();
  registry.setDefaultLabels({ process: options.process });
  collectDefaultMetrics({ register: registry, prefix: 'pulsebridge_' });
  return {
    registry,
    ingressRequests: new Counter({
      name: 'pulsebridge_ingress_requests_total',
      help: 'Webhook and add-on notification deliveries and drain batches by endpoint and outcome',
      labelNames: ['endpoint', 'outcome'] as const,
      registers: [registry],
    }),
    drainFrames: new Counter({
      name: 'pulsebridge_drain_frames_total',
      help: 'Log drain frames read (counted), skipped (unreadable) or dropped (over the per-body bound)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    drainCrossings: new Counter({
      name: 'pulsebridge_drain_crossings_total',
      help: 'Drain rule windows found above threshold and archived as events, and quiet periods that resolved incidents',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    ingestBatchSize: new Histogram({
      name: 'pulsebridge_ingest_batch_size',
      help: 'Deliveries stored per database round trip (group commit)',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200],
      registers: [registry],
    }),
    ingestStoreSeconds: new Histogram({
      name: 'pulsebridge_ingest_store_seconds',
      help: 'Time to store one batch of deliveries (one INSERT, one commit)',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    ingestEnqueueSeconds: new Histogram({
      name: 'pulsebridge_ingest_enqueue_seconds',
      help: 'Time to enqueue one batch of stored events (their jobs, added together)',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    enqueueFailures: new Counter({
      name: 'pulsebridge_ingest_enqueue_failures_total',
      help: 'Stored events whose enqueue failed (the reconciler enqueues them later)',
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'pulsebridge_job_duration_seconds',
      help: 'Job processing time by queue, job name and outcome',
      labelNames: ['queue', 'name', 'outcome'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    jobFailures: new Counter({
      name: 'pulsebridge_job_failures_total',
      help: 'Failed job attempts; final="true" when retries are exhausted',
      labelNames: ['queue', 'name', 'final'] as const,
      registers: [registry],
    }),
    eventJobEvents: new Histogram({
      name: 'pulsebridge_event_job_events',
      help: 'Events per event.process job (events stored together share a job, up to EVENT_JOB_MAX_EVENTS)',
      buckets: [1, 2, 3, 4, 6, 8, 16, 32, 100],
      registers: [registry],
    }),
    eventRuleFailures: new Counter({
      name: 'pulsebridge_event_rule_failures_total',
      help: 'Events marked failed because a rule rendered nonsense for them (an empty dedup key, an unknown severity)',
      registers: [registry],
    }),
    slackInline: new Counter({
      name: 'pulsebridge_slack_inline_total',
      help: "Slack deliveries tried right after an event's commit, by kind (page: a new incident's first message; incident: a change to one; pulse) and outcome: sent, queued (failed or its channel was busy), no_slot or behind (queued at once: slots taken, or the event waited long in its queue)",
      labelNames: ['kind', 'outcome'] as const,
      registers: [registry],
    }),
    reconcilerRequeued: new Counter({
      name: 'pulsebridge_reconciler_requeued_total',
      help: 'Stored events the reconciler found without a job and enqueued again',
      registers: [registry],
    }),
    reconcilerSlackResent: new Counter({
      name: 'pulsebridge_reconciler_slack_resent_total',
      help: 'Slack deliveries the reconciler queued again: incident syncs and pulse posts after Redis lost its data (incident, pulse), pages still unsent after the grace period (page)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Whether a scrape of `/metrics` may read them: anyone when no METRICS_TOKEN is set, else only
 * `Authorization: Bearer <token>` (compared in constant time).
 */
export function metricsScrapeAllowed(token: string | undefined, authorization: string | undefined): boolean {
  if (token === undefined) return true;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match !== null && safeEqual(match[1]!, token);
}

/** Adds `pulsebridge_queue_jobs{queue,state}`, read from Redis when /metrics is scraped. */
export function registerQueueDepth(metrics: Metrics, queues: Queue[]): void {
  new Gauge({
    name: 'pulsebridge_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'] as const,
    registers: [metrics.registry],
    async collect() {
      this.reset();
      await Promise.all(
        queues.map(async (queue) => {
          const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
          for (const [state, count] of Object.entries(counts)) this.set({ queue: queue.name, state }, count);
        }),
      );
    },
  });
}

/** Adds `pulsebridge_slack_queue_concurrency` (worker only): Slack jobs run at once, lowered while events are behind. */
export function registerSlackQueueConcurrency(metrics: Metrics): Gauge {
  return new Gauge({
    name: 'pulsebridge_slack_queue_concurrency',
    help: 'Slack jobs this worker runs at once: SLACK_CONCURRENCY, or half of it while events wait in their queue',
    registers: [metrics.registry],
  });
}

import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { JOB_CATALOG, QUEUE_NAMES, markEvent, type JobName, type JobPayload, type RuleSet, type Runtime } from '@pulsebridge/core';
import { processEvent } from './processors/process-event.js';
import { startReconciler } from './reconciler.js';

type Handlers = { [N in JobName]: (payload: JobPayload<N>, job: Job) => Promise<void> };

export interface Workers {
  /** Stops taking jobs, waits for running ones, stops the reconciler. */
  close(): Promise<void>;
}

/** Starts a BullMQ worker per queue and the reconciler, all on the runtime's clients. */
export function startWorkers(runtime: Runtime, options: { connection: Redis; rules: RuleSet; concurrency?: number; reconcile?: boolean }): Workers {
  const { logger, metrics, db } = runtime;
  // Typed against the catalog: a job name without a handler does not compile.
  const handlers: Handlers = {
    'event.process': (payload) => processEvent(payload, { pool: db.pool, logger, rules: options.rules }),
  };

  const run = async (job: Job) => {
    const name = job.name as JobName;
    const entry = JOB_CATALOG[name];
    if (entry === undefined) throw new Error(`no handler for job ${job.name}`);
    const payload = entry.schema.parse(job.data);
    const started = performance.now();
    try {
      await (handlers[name] as (payload: unknown, job: Job) => Promise<void>)(payload, job);
      metrics.jobDuration.observe({ queue: job.queueName, name, outcome: 'completed' }, (performance.now() - started) / 1000);
    } catch (error) {
      metrics.jobDuration.observe({ queue: job.queueName, name, outcome: 'failed' }, (performance.now() - started) / 1000);
      throw error;
    }
  };

  const eventsWorker = new Worker(QUEUE_NAMES.events, run, {
    connection: options.connection,
    prefix: runtime.config.queuePrefix,
    concurrency: options.concurrency ?? runtime.config.worker.concurrency,
  });
  eventsWorker.on('error', (err) => logger.error({ err }, 'events worker error'));
  eventsWorker.on('failed', (job, err) => {
    if (job === undefined) return;
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    metrics.jobFailures.inc({ queue: job.queueName, name: job.name, final: String(final) });
    const log = logger.child({ jobId: job.id, eventRowId: (job.data as { eventRowId?: string }).eventRowId });
    if (!final) {
      log.warn({ err, attempt: job.attemptsMade }, 'job failed; will retry');
      return;
    }
    log.error({ err }, 'job failed for good');
    // If this write fails too, the event stays `received` and the reconciler marks it later.
    void markEvent(db.pool, (job.data as { eventRowId: string }).eventRowId, 'failed', err.message).catch((markErr: unknown) =>
      log.warn({ err: markErr }, 'could not mark event failed'),
    );
  });

  const reconciler =
    options.reconcile === false
      ? undefined
      : startReconciler({ pool: db.pool, queues: runtime.queues, metrics, logger }, runtime.config.reconcile);

  return {
    async close() {
      await reconciler?.stop();
      await eventsWorker.close();
    },
  };
}

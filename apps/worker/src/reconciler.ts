import type { Queue } from 'bullmq';
import type pg from 'pg';
import { findStaleReceivedEvents, jobIdForEvent, markEvent, type Logger, type Metrics, type Queues } from '@pulsebridge/core';

export interface ReconcileResult {
  requeued: number;
  markedFailed: number;
}

/**
 * Finds events stored but still `received` after the grace period and makes sure each has a
 * job: Redis may have lost it (restart without persistence, flush) or the enqueue after the
 * 202 may have failed. A job that exhausted its retries marks its event `failed`.
 */
export async function reconcileOnce(deps: { pool: pg.Pool; queues: Queues; metrics: Metrics; logger: Logger }, options: { graceMs: number; limit?: number }): Promise<ReconcileResult> {
  const stale = await findStaleReceivedEvents(deps.pool, { graceMs: options.graceMs, limit: options.limit ?? 1_000 });
  if (stale.length === 0) return { requeued: 0, markedFailed: 0 };
  const queue: Queue = deps.queues.events;
  const states = await Promise.all(stale.map((event) => queue.getJobState(jobIdForEvent(event.eventId))));
  const missing = stale.filter((_, index) => states[index] === 'unknown');
  const failed = stale.filter((_, index) => states[index] === 'failed');

  await deps.queues.enqueueEvents(missing);
  for (const event of failed) {
    const job = await queue.getJob(jobIdForEvent(event.eventId));
    await markEvent(deps.pool, event.eventRowId, 'failed', job?.failedReason ?? 'processing failed');
  }
  if (missing.length > 0) {
    deps.metrics.reconcilerRequeued.inc(missing.length);
    deps.logger.warn({ requeued: missing.length }, 're-enqueued stored events whose jobs were missing');
  }
  return { requeued: missing.length, markedFailed: failed.length };
}

/** Runs `reconcileOnce` every `intervalMs` until stopped; errors are logged and retried next time. */
export function startReconciler(deps: Parameters<typeof reconcileOnce>[0], options: { graceMs: number; intervalMs: number }) {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = reconcileOnce(deps, options).catch((err: unknown) => deps.logger.warn({ err }, 'reconcile failed; will retry'));
  }, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

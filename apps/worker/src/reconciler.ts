import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import {
  ORPHANED_RUN_MARGIN_MS,
  SLACK_CATCH_UP_WINDOW_MS,
  failOrphanedRun,
  findOverdueRuns,
  findStaleReceivedEvents,
  jobIdForEventRow,
  markEventsFailed,
  pagesOwed,
  repeatEvery,
  runJobId,
  slackDeliveriesOwed,
  type Logger,
  type Metrics,
  type Queues,
} from '@pulsebridge/core';

export interface ReconcileResult {
  requeued: number;
  markedFailed: number;
}

/**
 * Finds events stored but still `received` after the grace period and makes sure each has a
 * job: Redis may have lost it (restart without persistence, flush) or the enqueue after the
 * 202 may have failed. A job that exhausted its retries marks its event `failed`. An event that
 * shares a job with others (see `enqueueEvents`) is looked for under its own job id, so one still
 * waiting past the grace period gets a job of its own too: whichever runs second finds it done
 * (and a requeued job that finds its event done leaves the notifications to the job that did it).
 */
export async function reconcileOnce(deps: { pool: pg.Pool; queues: Queues; metrics: Metrics; logger: Logger }, options: { graceMs: number; limit?: number }): Promise<ReconcileResult> {
  const stale = await findStaleReceivedEvents(deps.pool, { graceMs: options.graceMs, limit: options.limit ?? 1_000 });
  if (stale.length === 0) return { requeued: 0, markedFailed: 0 };
  const queue: Queue = deps.queues.events;
  const states = await Promise.all(stale.map((event) => queue.getJobState(jobIdForEventRow(event.eventRowId))));
  const missing = stale.filter((_, index) => states[index] === 'unknown');
  const failed = stale.filter((_, index) => states[index] === 'failed');

  await deps.queues.enqueueEvents(missing, { requeued: true });
  for (const event of failed) {
    const job = await queue.getJob(jobIdForEventRow(event.eventRowId));
    await markEventsFailed(deps.pool, [event.eventRowId], job?.failedReason ?? 'processing failed');
  }
  if (missing.length > 0) {
    deps.metrics.reconcilerRequeued.inc(missing.length);
    deps.logger.warn({ requeued: missing.length }, 're-enqueued stored events whose jobs were missing');
  }
  return { requeued: missing.length, markedFailed: failed.length };
}

/** What the reconciler needs to notice that Redis lost its data. */
export interface RedisLossWatch {
  redis: Redis;
  /** The queue prefix: the marker lives beside the queues' keys. */
  prefix: string;
  /** Whether this worker sends to Slack; without Slack there is nothing to send again. */
  slack: boolean;
}

/** Jobs added per round trip when sending again. */
const RESEND_CHUNK = 500;

/**
 * Redis keeps a marker key beside the queues. When it is missing, Redis lost its data (a restart
 * without persistence, a flush) or is new, and with the data went the Slack jobs it held: events
 * still `received` come back through `reconcileOnce`, but an event already applied has no
 * second chance there. So the Slack deliveries PostgreSQL shows as owed within
 * SLACK_CATCH_UP_WINDOW_MS are queued again (their syncs are idempotent: nothing is posted
 * twice), and then the marker is set. One worker does it (a short lock); a worker that dies
 * midway leaves the marker unset, and the next pass does it again.
 */
export async function resendSlackAfterRedisLoss(
  deps: { pool: pg.Pool; queues: Queues; metrics: Metrics; logger: Logger },
  watch: RedisLossWatch,
  windowMs = SLACK_CATCH_UP_WINDOW_MS,
): Promise<{ incidents: number; pulses: number } | null> {
  const marker = `${watch.prefix}:redis-epoch`;
  if ((await watch.redis.exists(marker)) === 1) return null;
  const lock = `${marker}:resending`;
  if ((await watch.redis.set(lock, String(process.pid), 'PX', 120_000, 'NX')) !== 'OK') return null;
  try {
    // Without Slack the marker is only set: enabling Slack later must not post the past hours.
    const owed = watch.slack ? await slackDeliveriesOwed(deps.pool, windowMs) : { incidents: [], pulseIds: [] };
    for (let i = 0; i < owed.incidents.length; i += RESEND_CHUNK) await deps.queues.enqueueSlack({ incidents: owed.incidents.slice(i, i + RESEND_CHUNK), pulseIds: [] });
    for (let i = 0; i < owed.pulseIds.length; i += RESEND_CHUNK) await deps.queues.enqueueSlack({ incidents: [], pulseIds: owed.pulseIds.slice(i, i + RESEND_CHUNK) });
    await watch.redis.set(marker, new Date().toISOString());
    if (owed.incidents.length + owed.pulseIds.length > 0) {
      deps.metrics.reconcilerSlackResent.inc({ kind: 'incident' }, owed.incidents.length);
      deps.metrics.reconcilerSlackResent.inc({ kind: 'pulse' }, owed.pulseIds.length);
      deps.logger.warn({ incidents: owed.incidents.length, pulses: owed.pulseIds.length }, 'Redis had no marker (it is new, or it lost its data): queued the Slack deliveries still owed again');
    }
    return { incidents: owed.incidents.length, pulses: owed.pulseIds.length };
  } finally {
    await watch.redis.del(lock);
  }
}

/**
 * A new incident whose page is still unsent once the grace period is over gets its Slack job
 * again: a job lost with the last writes of a Redis that crashed keeping the rest (AOF), or
 * any other way. Each pass looks at the incidents created in a band two intervals wide that
 * ends `graceMs` ago, so every incident is looked at once or twice. The job id is the one its
 * first job had when nothing changed since, so a job still waiting for its retry is not doubled.
 */
export async function resendUnsentPages(
  deps: { pool: pg.Pool; queues: Queues; metrics: Metrics; logger: Logger },
  options: { graceMs: number; intervalMs: number },
  now = Date.now(),
): Promise<number> {
  const to = new Date(now - options.graceMs);
  const pages = await pagesOwed(deps.pool, new Date(to.getTime() - 2 * options.intervalMs), to);
  if (pages.length === 0) return 0;
  for (let i = 0; i < pages.length; i += RESEND_CHUNK) await deps.queues.enqueueSlack({ incidents: pages.slice(i, i + RESEND_CHUNK), pulseIds: [] });
  deps.metrics.reconcilerSlackResent.inc({ kind: 'page' }, pages.length);
  deps.logger.info({ incidents: pages.length }, 'queued the Slack jobs of new incidents whose page is still unsent');
  return pages.length;
}

/** Job states in which a run's job will still run it: it then finishes the run itself. */
const RUN_JOB_PENDING = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);

/**
 * A run still `queued` or `running` well past its time to live (`marginMs` more) was orphaned:
 * the worker running it died (a crash, an out-of-memory kill) and no job is left to finish it,
 * or its job was lost or failed for good. Such a run is marked `failed` with the reason, and a
 * job of its own publishes that like any outcome (timeline entry, Slack upload of what output
 * was saved, the incident's thread). A run whose job still waits is left to it; an active job
 * that old has outlived its session's cut, so its worker is gone or stuck, and a late finish
 * cannot overwrite the verdict.
 */
export async function failOrphanedRuns(
  deps: { pool: pg.Pool; queues: Queues; logger: Logger },
  options: { marginMs?: number } = {},
  now = new Date(),
): Promise<string[]> {
  const overdue = await findOverdueRuns(deps.pool, { marginMs: options.marginMs ?? ORPHANED_RUN_MARGIN_MS }, now);
  const failed: string[] = [];
  for (const run of overdue) {
    const job = await deps.queues.heroku.getJob(runJobId(run.id));
    const state = job === undefined ? 'unknown' : await job.getState();
    if (RUN_JOB_PENDING.has(state)) continue;
    const marked = await failOrphanedRun(deps.pool, run, state === 'failed' ? (job?.failedReason ?? 'no reason given') : undefined);
    if (!marked) continue;
    await deps.queues.enqueueRun(run.id, 'orphaned');
    failed.push(run.id);
    deps.logger.warn({ runId: run.id, status: run.status, jobState: state }, 'marked an orphaned run failed');
  }
  return failed;
}

/** Runs `reconcileOnce` (after `resendSlackAfterRedisLoss` and `resendUnsentPages`, when watching) every `intervalMs` until stopped; errors are logged and retried next time. */
export function startReconciler(deps: Parameters<typeof reconcileOnce>[0], options: { graceMs: number; intervalMs: number }, watch?: RedisLossWatch) {
  const pass = async () => {
    if (watch !== undefined) await resendSlackAfterRedisLoss(deps, watch).catch((err: unknown) => deps.logger.warn({ err }, 'could not check whether Redis lost its data; will retry'));
    if (watch?.slack === true) await resendUnsentPages(deps, options).catch((err: unknown) => deps.logger.warn({ err }, 'could not check for unsent pages; will retry'));
    await failOrphanedRuns(deps).catch((err: unknown) => deps.logger.warn({ err }, 'could not check for orphaned runs; will retry'));
    await reconcileOnce(deps, options);
  };
  return repeatEvery(options.intervalMs, pass, (err) => deps.logger.warn({ err }, 'reconcile failed; will retry'));
}

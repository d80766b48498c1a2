import { UnrecoverableError } from 'bullmq';
import type pg from 'pg';
import { RuleRenderError, applyEvent, touchedByEvent, type EventProcessJob, type Logger, type RuleSet } from '@pulsebridge/core';
import type { Touched } from '../slack-notifier.js';

export interface ProcessEventDeps {
  pool: pg.Pool;
  logger: Logger;
  rules: RuleSet;
  /** Set when Slack is configured: sends (or queues) notifications for what the event changed. */
  notify?: (touched: Touched, queueWaitMs: number) => Promise<void>;
}

/**
 * `event.process`: applies one archived event under the rules, exactly once. An event
 * already processed or skipped is left alone unless the job is a replay.
 */
export async function processEvent(job: EventProcessJob, deps: ProcessEventDeps, queueWaitMs = 0): Promise<void> {
  try {
    const outcome = await applyEvent(deps.pool, deps.rules, job.eventRowId, { replay: job.replay === true });
    if (outcome.status === 'missing') throw new UnrecoverableError(`event ${job.eventRowId} is not in the archive`);
    // After the commit, and also when an earlier attempt committed: the job completes only
    // once the notifications are sent or queued (syncs and job ids make this idempotent).
    if (deps.notify && outcome.status !== 'skipped') {
      // What this run changed; for an event applied by an earlier attempt, read it back.
      const touched = outcome.status === 'processed' ? outcome.touched : await touchedByEvent(deps.pool, job.eventRowId);
      await deps.notify(touched, queueWaitMs);
    }
    if (outcome.status === 'processed' && outcome.incidentsOpened + outcome.alertsGrouped + outcome.incidentsResolved + outcome.pulsesCreated > 0) {
      deps.logger.debug({ eventRowId: job.eventRowId, ...outcome }, 'event applied');
    }
  } catch (error) {
    // A rule that renders nonsense for this payload will do so on every retry.
    if (error instanceof RuleRenderError) throw new UnrecoverableError(error.message);
    throw error;
  }
}

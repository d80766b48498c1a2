import { UnrecoverableError } from 'bullmq';
import type pg from 'pg';
import { RuleRenderError, applyEvent, type EventProcessJob, type Logger, type RuleSet } from '@pulsebridge/core';

export interface ProcessEventDeps {
  pool: pg.Pool;
  logger: Logger;
  rules: RuleSet;
}

/**
 * `event.process`: applies one archived event under the rules, exactly once. An event
 * already processed or skipped is left alone unless the job is a replay.
 */
export async function processEvent(job: EventProcessJob, deps: ProcessEventDeps): Promise<void> {
  try {
    const outcome = await applyEvent(deps.pool, deps.rules, job.eventRowId, { replay: job.replay === true });
    if (outcome.status === 'missing') throw new UnrecoverableError(`event ${job.eventRowId} is not in the archive`);
    if (outcome.status === 'processed' && outcome.incidentsOpened + outcome.alertsGrouped + outcome.incidentsResolved + outcome.pulsesCreated > 0) {
      deps.logger.debug({ eventRowId: job.eventRowId, ...outcome }, 'event applied');
    }
  } catch (error) {
    // A rule that renders nonsense for this payload will do so on every retry.
    if (error instanceof RuleRenderError) throw new UnrecoverableError(error.message);
    throw error;
  }
}

import type pg from 'pg';
import {
  RuleRenderError,
  applyPlannedEvents,
  planEvent,
  markEventsFailed,
  readEventsToApply,
  touchedByEvent,
  type EventProcessJob,
  type Logger,
  type PlannedEvent,
  type RuleSet,
  type TouchedIncident,
} from '@pulsebridge/core';
import type { Touched } from '../slack-notifier.js';

export interface ProcessEventDeps {
  pool: pg.Pool;
  logger: Logger;
  rules: RuleSet;
  /** Set when Slack is configured: sends (or queues) notifications for what the events changed. */
  notify?: (touched: Touched, queueWaitMs: number) => Promise<void>;
  /** Called for an event whose rule rendered nonsense: it is marked `failed` and left. */
  onRuleFailure?: () => void;
}

/**
 * `event.process`: applies a job's archived events under the rules, in order, each exactly
 * once. An event already processed or skipped is left alone unless the job is a replay.
 *
 * The events are read in one statement, mapped by the rules here, and applied together in one
 * transaction (one by one if that fails, so one that cannot be applied fails alone); their
 * notifications follow once all are applied, so an event's incident never waits for an earlier
 * event's Slack post. A failure other than a rule's throws: the job is retried, and the events
 * it had applied are found done (their notifications are read back and sent again, which is
 * idempotent). A rule that renders nonsense for an event would do so on every retry: that
 * event is marked `failed` with the reason and the others carry on.
 */
export async function processEvents(job: EventProcessJob, deps: ProcessEventDeps, queueWaitMs = 0): Promise<void> {
  const events = await readEventsToApply(deps.pool, job.eventRowIds);
  const touched: Touched[] = [];
  const plans: PlannedEvent[] = [];
  for (const eventRowId of job.eventRowIds) {
    const event = events.get(eventRowId);
    if (event === undefined) {
      deps.logger.warn({ eventRowId }, 'event is not in the archive; nothing to apply');
      continue;
    }
    let plan;
    try {
      plan = planEvent(deps.rules, event, { replay: job.replay });
    } catch (error) {
      if (!(error instanceof RuleRenderError)) throw error;
      await markEventsFailed(deps.pool, [eventRowId], error.message);
      deps.onRuleFailure?.();
      deps.logger.error({ eventRowId, err: error }, 'event failed: a rule rendered nonsense for it');
      continue;
    }
    if (plan !== 'already_done') plans.push(plan);
    else if (deps.notify && !job.requeued) {
      // Applied by an earlier attempt, which may have stopped before its notifications: read
      // back what it changed, so they are never skipped. (A requeued job's event was applied by
      // the job it shared, which sends them.)
      touched.push(await touchedByEvent(deps.pool, eventRowId));
    }
  }
  const outcomes = await applyPlannedEvents(deps.pool, plans, { replay: job.replay });
  for (const [index, outcome] of outcomes.entries()) {
    const eventRowId = plans[index]!.eventRowId;
    if (outcome.status === 'processed') {
      touched.push(outcome.touched);
      if (outcome.incidentsOpened + outcome.alertsGrouped + outcome.incidentsResolved + outcome.pulsesCreated > 0) {
        deps.logger.debug({ eventRowId, ...outcome }, 'event applied');
      }
    } else if (outcome.status === 'already_done' && deps.notify && !job.requeued) {
      // Applied since it was read (by an earlier attempt of this job): as above.
      touched.push(await touchedByEvent(deps.pool, eventRowId));
    }
  }
  // After the commits: the job completes only once the notifications are sent or queued.
  if (deps.notify && touched.length > 0) await deps.notify(mergeTouched(touched), queueWaitMs);
}

/**
 * What several events changed, as one: an incident touched by more than one appears once, at
 * its latest revision (its sync brings Slack up to that), `opened` if any of them opened it.
 */
export function mergeTouched(list: Touched[]): Touched {
  if (list.length === 1) return list[0]!;
  const incidents = new Map<string, TouchedIncident>();
  for (const incident of list.flatMap((touched) => touched.incidents)) {
    const seen = incidents.get(incident.id);
    if (seen === undefined) incidents.set(incident.id, incident);
    else {
      incidents.set(incident.id, {
        id: incident.id,
        updatedAt: incident.updatedAt > seen.updatedAt ? incident.updatedAt : seen.updatedAt,
        opened: seen.opened === true || incident.opened === true,
      });
    }
  }
  return { incidents: [...incidents.values()], pulseIds: [...new Set(list.flatMap((touched) => touched.pulseIds))] };
}

import { syncIncidentToSlack, type Logger, type Metrics, type Queues, type SlackDeliveryDeps, type TouchedIncident } from '@pulsebridge/core';

export type Touched = { incidents: TouchedIncident[]; pulseIds: string[] };

/**
 * An event that waited longer than this in its queue means the workers are behind: then applying
 * the backlog comes first, and its Slack work goes through the Slack queue (new incidents first).
 */
export const INLINE_MAX_QUEUE_WAIT_MS = 200;

/**
 * Sends what an event changed to Slack. An incident's sync runs right after the event's commit,
 * in the event's job, while one of `inlineSyncs` slots is free and its channel has room at once:
 * the message reaches Slack without a trip through the queue, and the worker runs one job less.
 * Everything else goes through the Slack queue, which retries, waits for busy channels and puts
 * new incidents first: pulses, incidents that find every slot taken, and any sync that fails or
 * would have to wait (its job then finishes the sync, which resumes where this one stopped), and
 * all of an event's notifications when the event waited long in its queue.
 *
 * `deps.pacer` must not wait (maxWaitMs 0): a wait would hold the event's slot.
 */
export function createSlackNotifier(deps: { slack: SlackDeliveryDeps; queues: Queues; inlineSyncs: number; metrics: Metrics; logger: Logger }) {
  let running = 0;
  return async function notify(touched: Touched, queueWaitMs: number): Promise<void> {
    const queued: TouchedIncident[] = [];
    const behind = queueWaitMs > INLINE_MAX_QUEUE_WAIT_MS;
    for (const incident of touched.incidents) {
      if (behind || running >= deps.inlineSyncs) {
        queued.push(incident);
        deps.metrics.slackInlineSyncs.inc({ outcome: behind ? 'behind' : 'no_slot' });
        continue;
      }
      running += 1;
      try {
        await syncIncidentToSlack(deps.slack, incident.id);
        deps.metrics.slackInlineSyncs.inc({ outcome: 'synced' });
      } catch (error) {
        deps.logger.debug({ err: error, incidentId: incident.id }, 'Slack sync after the event did not finish; queued');
        queued.push(incident);
        deps.metrics.slackInlineSyncs.inc({ outcome: 'queued' });
      } finally {
        running -= 1;
      }
    }
    await deps.queues.enqueueSlack({ incidents: queued, pulseIds: touched.pulseIds });
  };
}

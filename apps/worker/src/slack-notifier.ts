import { postPulseToSlack, syncIncidentToSlack, type Logger, type Metrics, type Queues, type SlackDeliveryDeps, type TouchedIncident } from '@pulsebridge/core';

export type Touched = { incidents: TouchedIncident[]; pulseIds: string[] };

/**
 * An event that waited longer than this in its queue means the workers are behind: then applying
 * the backlog comes first, and only a new incident's first message (the page) is still sent
 * right away; changes and pulses go through the Slack queue.
 */
export const INLINE_MAX_QUEUE_WAIT_MS = 200;

/**
 * Sends what events changed to Slack. New incidents' first messages (pages), then the other
 * incidents' syncs, then the pulses' posts, run right after the events' commits, in their job,
 * while one of `inlineSyncs` slots is free and the channel has room at once: messages reach Slack
 * without a trip through the queue, and the worker runs fewer jobs. Pages have slots of their
 * own (`inlineSlots`), so changes and pulses near capacity never push a page into the queue. Everything else goes through the Slack queue, which retries, waits for
 * busy channels and puts new incidents first, then pulses, then changes (pulses after changes
 * while events are behind): deliveries that find
 * every slot taken, any that fails or would have to wait (its job then finishes what this one
 * started), and an event's changes and pulses when the event waited long in its queue.
 *
 * `deps.slack.pacer` must not wait (maxWaitMs 0): a wait would hold the event's slot.
 */
export function createSlackNotifier(deps: { slack: SlackDeliveryDeps; queues: Queues; inlineSyncs: number; eventConcurrency: number; metrics: Metrics; logger: Logger }) {
  let running = 0;
  const { pages: pageSlots, others: otherSlots } = inlineSlots(deps.inlineSyncs, deps.eventConcurrency);
  /** Runs one delivery here if it may; false when it is left to the queue. */
  /** `page`: a new incident's first message; `incident`: a change to one already sent. */
  const deliver = async (kind: 'page' | 'incident' | 'pulse', id: string, behind: boolean, send: () => Promise<unknown>): Promise<boolean> => {
    if (behind || running >= (kind === 'page' ? pageSlots : otherSlots)) {
      deps.metrics.slackInline.inc({ kind, outcome: behind ? 'behind' : 'no_slot' });
      return false;
    }
    running += 1;
    try {
      await send();
      deps.metrics.slackInline.inc({ kind, outcome: 'sent' });
      return true;
    } catch (error) {
      deps.logger.debug({ err: error, kind, id }, 'Slack delivery after the event did not finish; queued');
      deps.metrics.slackInline.inc({ kind, outcome: 'queued' });
      return false;
    } finally {
      running -= 1;
    }
  };

  return async function notify(touched: Touched, queueWaitMs: number): Promise<void> {
    const behind = queueWaitMs > INLINE_MAX_QUEUE_WAIT_MS;
    const incidents: TouchedIncident[] = [];
    const ordered = [...touched.incidents.filter((incident) => incident.opened === true), ...touched.incidents.filter((incident) => incident.opened !== true)];
    for (const incident of ordered) {
      const page = incident.opened === true;
      if (!(await deliver(page ? 'page' : 'incident', incident.id, behind && !page, () => syncIncidentToSlack(deps.slack, incident.id)))) incidents.push(incident);
    }
    const pulseIds: string[] = [];
    for (const pulseId of touched.pulseIds) {
      if (!(await deliver('pulse', pulseId, behind, () => postPulseToSlack(deps.slack, pulseId)))) pulseIds.push(pulseId);
    }
    await deps.queues.enqueueSlack({ incidents, pulseIds }, { eventsBehind: behind });
  };
}

/**
 * How many inline deliveries may run at once in a worker. Changes and pulses take up to
 * `inlineSyncs - 1` slots; pages (a new incident's first message) up to `inlineSyncs + 2`, and
 * always fewer than the worker's event jobs, so one is left to apply events while Slack is slow.
 * With fewer than two slots there is nothing to set apart: every kind gets `inlineSyncs`.
 */
export function inlineSlots(inlineSyncs: number, eventConcurrency: number): { pages: number; others: number } {
  if (inlineSyncs < 2) return { pages: inlineSyncs, others: inlineSyncs };
  return { pages: Math.max(inlineSyncs, Math.min(inlineSyncs + 2, eventConcurrency - 1)), others: inlineSyncs - 1 };
}

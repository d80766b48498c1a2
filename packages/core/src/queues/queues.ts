import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { sha256Hex } from '../crypto.js';
import { JOB_CATALOG, MAX_EVENTS_PER_JOB, QUEUE_NAMES, eventJobId, runJobId, type QueueName } from './catalog.js';

export interface EventToEnqueue {
  /** Heroku's event id (or the legacy digest), unique only within its integration. */
  eventId: string;
  /** The stored row: the job id derives from it. */
  eventRowId: string;
}

/** Producers for every queue, with the catalog's options applied. */
export interface Queues {
  events: Queue;
  slack: Queue;
  /** Brings an incident's Slack messages up to date; one job per incident revision. */
  enqueueSlackIncidents(incidents: TouchedIncident[]): Promise<void>;
  /** Notifications for what one event changed (incidents and pulses), in one round trip. */
  /** `eventsBehind`: queued while events wait in their queue; their pulses then go after changes. */
  enqueueSlack(touched: { incidents: TouchedIncident[]; pulseIds: string[] }, options?: { eventsBehind?: boolean }): Promise<void>;
  heroku: Queue;
  /** A run's job (see `runJobId`); adding one that exists is a no-op. */
  enqueueRun(runId: string, purpose?: 'run' | 'orphaned'): Promise<void>;
  /** Queues a workflow run; with `resume`, a job of its own for a run whose job was lost (one per run and window). */
  enqueueWorkflowRun(workflowRunId: string, resume?: string): Promise<void>;
  /** Whether a job of the workflow run is waiting or running. */
  workflowRunJobPending(workflowRunId: string, resume?: string): Promise<boolean>;
  byName(name: QueueName): Queue;
  /**
   * Jobs for stored events, in order: up to `eventsPerJob` events per job. An event alone gets
   * the job id of its row (`jobIdForEventRow`), which the reconciler looks for; several share one job.
   * `requeued` (the reconciler): one event per job, marked so (see `EventProcessJobSchema`).
   */
  enqueueEvents(events: EventToEnqueue[], options?: { requeued?: boolean }): Promise<void>;
  /** A replay gets a fresh job id so it runs even when the original job is still kept. */
  enqueueReplay(event: EventToEnqueue): Promise<void>;
  close(): Promise<void>;
}

/**
 * The job id of one stored event. It derives from the row, not from Heroku's event id: the
 * same event id delivered through two integrations is two rows, each processed.
 */
export function jobIdForEventRow(eventRowId: string): string {
  return eventJobId(eventRowId, sha256Hex);
}

/** An incident a change touched: `opened` when the change created it (its first message is due). */
export interface TouchedIncident {
  id: string;
  updatedAt: Date;
  opened?: boolean;
}

/** One job per incident revision: a change never hides behind an earlier job for the same incident. */
const slackIncidentJob = (incident: TouchedIncident) => ({
  name: 'slack.incident',
  data: { incidentId: incident.id },
  opts: { ...JOB_CATALOG['slack.incident'].options(incident.opened ? 'new' : 'change'), jobId: `slack-incident-${incident.id}-${incident.updatedAt.getTime()}` },
});
const slackPulseJob = (pulseId: string, eventsBehind: boolean) => ({
  name: 'slack.pulse',
  data: { pulseId },
  opts: { ...JOB_CATALOG['slack.pulse'].options(eventsBehind), jobId: `slack-pulse-${pulseId}` },
});

/** Past this many jobs, one `addBulk` costs less than separate adds. */
const BULK_FROM = 8;

/**
 * Adds jobs, each atomically and idempotently by its id. BullMQ's `addBulk` builds a MULTI
 * pipeline, and ioredis copies every loaded script (64 for BullMQ) onto each pipeline: for the
 * one to a few jobs an event or a delivery batch usually makes, that costs the producer up to
 * twice the CPU of separate adds sent together (one job: 450 against 240 us). All-or-nothing is not needed:
 * a caller that fails retries the lot, and ids make the jobs already added no-ops.
 */
async function addJobs(queue: Queue, jobs: { name: string; data: object; opts: JobsOptions }[]): Promise<void> {
  if (jobs.length === 0) return;
  if (jobs.length >= BULK_FROM) {
    await queue.addBulk(jobs);
    return;
  }
  await Promise.all(jobs.map((job) => queue.add(job.name, job.data, job.opts)));
}

/** The id of a job carrying several events: a digest of their rows' ids, so adding the same group again is a no-op. */
export function jobIdForEventGroup(eventRowIds: string[]): string {
  return `events-${sha256Hex(eventRowIds.join('\n'))}`;
}

export function createQueues(options: { connection: Redis; prefix: string; eventJobAttempts: number; eventsPerJob?: number }): Queues {
  const events = new Queue(QUEUE_NAMES.events, { connection: options.connection, prefix: options.prefix });
  const slack = new Queue(QUEUE_NAMES.slack, { connection: options.connection, prefix: options.prefix });
  const heroku = new Queue(QUEUE_NAMES.heroku, { connection: options.connection, prefix: options.prefix });
  const eventOptions = JOB_CATALOG['event.process'].options(options.eventJobAttempts);
  const all = { [QUEUE_NAMES.events]: events, [QUEUE_NAMES.slack]: slack, [QUEUE_NAMES.heroku]: heroku } satisfies Record<QueueName, Queue>;
  return {
    events,
    slack,
    heroku,
    async enqueueRun(runId, purpose = 'run') {
      await heroku.add('heroku.run', { runId }, { ...JOB_CATALOG['heroku.run'].options(), jobId: runJobId(runId, purpose) });
    },
    async enqueueWorkflowRun(workflowRunId, resume) {
      await heroku.add('workflow.run', { workflowRunId }, { ...JOB_CATALOG['workflow.run'].options(), jobId: resume === undefined ? `workflow-${workflowRunId}` : `workflow-${workflowRunId}-${resume}` });
    },
    async workflowRunJobPending(workflowRunId, resume) {
      const ids = [`workflow-${workflowRunId}`, ...(resume === undefined ? [] : [`workflow-${workflowRunId}-${resume}`])];
      for (const id of ids) {
        const state = await (await heroku.getJob(id))?.getState();
        if (state !== undefined && state !== 'completed' && state !== 'failed' && state !== 'unknown') return true;
      }
      return false;
    },
    async enqueueSlackIncidents(incidents) {
      await addJobs(slack, incidents.map(slackIncidentJob));
    },
    async enqueueSlack(touched, enqueueOptions = {}) {
      const eventsBehind = enqueueOptions.eventsBehind === true;
      await addJobs(slack, [...touched.incidents.map(slackIncidentJob), ...touched.pulseIds.map((pulseId) => slackPulseJob(pulseId, eventsBehind))]);
    },
    byName: (name) => all[name],
    async enqueueEvents(list, enqueueOptions = {}) {
      const requeued = enqueueOptions.requeued === true && { requeued: true };
      // The reconciler's jobs carry one event each, under the event's job id, so its next pass finds them.
      const perJob = requeued ? 1 : Math.min(Math.max(1, options.eventsPerJob ?? 1), MAX_EVENTS_PER_JOB);
      const jobs = [];
      for (let start = 0; start < list.length; start += perJob) {
        const group = list.slice(start, start + perJob);
        jobs.push(
          group.length === 1
            ? { name: 'event.process', data: { eventRowId: group[0]!.eventRowId, ...requeued }, opts: { ...eventOptions, jobId: jobIdForEventRow(group[0]!.eventRowId) } }
            : {
                name: 'event.process',
                data: { eventRowIds: group.map((event) => event.eventRowId), ...requeued },
                opts: { ...eventOptions, jobId: jobIdForEventGroup(group.map((event) => event.eventRowId)) },
              },
        );
      }
      await addJobs(events, jobs);
    },
    async enqueueReplay(event) {
      await events.add(
        'event.process',
        { eventRowId: event.eventRowId, replay: true },
        { ...eventOptions, jobId: `replay-${event.eventRowId}-${Date.now()}` },
      );
    },
    async close() {
      await Promise.all(Object.values(all).map((queue) => queue.close()));
    },
  };
}

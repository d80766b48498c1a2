import { z } from 'zod';
import type { JobsOptions } from 'bullmq';

/** Queue names are persistent data in Redis: never rename one without migrating its jobs. */
export const QUEUE_NAMES = {
  events: 'events',
  slack: 'slack',
  heroku: 'heroku',
} as const;

export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/** Most events one `event.process` job carries (the producer's batch is split into jobs of at most this). */
export const MAX_EVENTS_PER_JOB = 100;

/**
 * One event (`eventRowId`, the shape every version reads) or several (`eventRowIds`, the events
 * a producer stored together), read as a list either way. Jobs carry row ids, never payloads.
 */
export const EventProcessJobSchema = z
  .object({
    eventRowId: z.uuid().optional(),
    eventRowIds: z.array(z.uuid()).min(1).max(MAX_EVENTS_PER_JOB).optional(),
    /** Set by a replay: process again even if the event was processed before. */
    replay: z.boolean().optional(),
    /**
     * Set by the reconciler, which gives an event still `received` a job of its own when it does
     * not find one under the event's job id: an event that shares a job looks the same. When
     * another job applied the event first, that job sends its notifications, and this one stops.
     */
    requeued: z.boolean().optional(),
  })
  .refine((job) => (job.eventRowId === undefined) !== (job.eventRowIds === undefined), { error: 'a job names its events by eventRowId or eventRowIds, not both' })
  .transform((job) => ({ eventRowIds: job.eventRowIds ?? [job.eventRowId!], replay: job.replay === true, requeued: job.requeued === true }));
export type EventProcessJob = z.infer<typeof EventProcessJobSchema>;

export const SlackIncidentJobSchema = z.object({ incidentId: z.uuid() });
export const SlackPulseJobSchema = z.object({ pulseId: z.uuid() });
export const HerokuRunJobSchema = z.object({ runId: z.uuid() });
export const WorkflowRunJobSchema = z.object({ workflowRunId: z.uuid() });

/** Slack jobs retry for about two hours (an outage delays messages, never loses them). */
const slackOptions = (): JobsOptions => ({
  attempts: 14,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 3_600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3_600 },
});

/** Every job pulsebridge runs: its queue, payload schema and default options. */
export const JOB_CATALOG = {
  'event.process': {
    queue: QUEUE_NAMES.events,
    schema: EventProcessJobSchema,
    options: (attempts: number): JobsOptions => ({
      attempts,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: { age: 3_600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3_600 },
    }),
  },
  // When Slack work queues up (a burst, a Slack outage), a new incident's message goes first.
  // Deploy pulses go before changes to incidents already posted while the events keep up: a late
  // change costs nothing extra (one update and one reply carry all of an incident's changes)
  // while every pulse is a post of its own; at 200/s on a two-core machine pulses reached Slack
  // at p99 1.8 s this way and 8.9 s behind changes. A pulse queued while the events are behind
  // (overload) goes after the changes: there, pulses first made new incidents 3-5x later
  // (changes found already synced cost little and free the cores for the backlog).
  // Priorities: lower runs first; none (0) before any.
  'slack.incident': {
    queue: QUEUE_NAMES.slack,
    schema: SlackIncidentJobSchema,
    options: (revision: 'new' | 'change'): JobsOptions => ({ ...slackOptions(), ...(revision === 'change' && { priority: 2 }) }),
  },
  'slack.pulse': {
    queue: QUEUE_NAMES.slack,
    schema: SlackPulseJobSchema,
    options: (eventsBehind = false): JobsOptions => ({ ...slackOptions(), priority: eventsBehind ? 3 : 1 }),
  },
  'heroku.run': {
    queue: QUEUE_NAMES.heroku,
    schema: HerokuRunJobSchema,
    // Retries only finish what a run started (publish its result); they never start a second dyno.
    options: (): JobsOptions => ({ attempts: 5, backoff: { type: 'exponential', delay: 2_000 }, removeOnComplete: { age: 86_400 }, removeOnFail: { age: 7 * 86_400 } }),
  },
  'workflow.run': {
    // Beside command runs: a workflow's actions may run a command for as long as a dyno lives.
    queue: QUEUE_NAMES.heroku,
    schema: WorkflowRunJobSchema,
    // A retry resumes where the run stopped; an action that may have acted is never done twice.
    options: (): JobsOptions => ({ attempts: 5, backoff: { type: 'exponential', delay: 2_000 }, removeOnComplete: { age: 86_400 }, removeOnFail: { age: 7 * 86_400 } }),
  },
} as const;

export type JobName = keyof typeof JOB_CATALOG;
export type JobPayload<N extends JobName> = z.infer<(typeof JOB_CATALOG)[N]['schema']>;

/**
 * The BullMQ job id of a run: `run` starts it (one per run), `orphaned` only publishes the
 * outcome of a run the reconciler failed (the first job may still be kept as failed).
 */
export function runJobId(runId: string, purpose: 'run' | 'orphaned' = 'run'): string {
  return purpose === 'run' ? `heroku-run-${runId}` : `heroku-run-${runId}-orphaned`;
}

/** Characters BullMQ and Redis keys accept in a custom job id without escaping. */
const SAFE_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The BullMQ job id of an event. BullMQ forbids `:` in custom ids and all-digit ids, so the
 * id carries a prefix, and an event id with other characters is replaced by its digest.
 */
export function eventJobId(eventId: string, hash: (value: string) => string): string {
  return `event-${SAFE_ID.test(eventId) ? eventId : hash(eventId)}`;
}

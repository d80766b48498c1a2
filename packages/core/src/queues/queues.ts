import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { sha256Hex } from '../crypto.js';
import { JOB_CATALOG, QUEUE_NAMES, eventJobId, type QueueName } from './catalog.js';

export interface EventToEnqueue {
  /** Heroku's event id (or the legacy digest): the job id derives from it. */
  eventId: string;
  eventRowId: string;
}

/** Producers for every queue, with the catalog's options applied. */
export interface Queues {
  events: Queue;
  byName(name: QueueName): Queue;
  enqueueEvents(events: EventToEnqueue[]): Promise<void>;
  /** A replay gets a fresh job id so it runs even when the original job is still kept. */
  enqueueReplay(event: EventToEnqueue): Promise<void>;
  close(): Promise<void>;
}

export function jobIdForEvent(eventId: string): string {
  return eventJobId(eventId, sha256Hex);
}

export function createQueues(options: { connection: Redis; prefix: string; eventJobAttempts: number }): Queues {
  const events = new Queue(QUEUE_NAMES.events, { connection: options.connection, prefix: options.prefix });
  const eventOptions = JOB_CATALOG['event.process'].options(options.eventJobAttempts);
  const all = { [QUEUE_NAMES.events]: events } satisfies Record<QueueName, Queue>;
  return {
    events,
    byName: (name) => all[name],
    async enqueueEvents(list) {
      if (list.length === 0) return;
      await events.addBulk(
        list.map((event) => ({
          name: 'event.process',
          data: { eventRowId: event.eventRowId },
          opts: { ...eventOptions, jobId: jobIdForEvent(event.eventId) },
        })),
      );
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

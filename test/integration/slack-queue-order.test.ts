import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerRedis } from '@pulsebridge/core';
import { startTestStack, type TestStack } from '../support/stack.js';

// The order in which the Slack queue hands out work that waited: what a backlog delays first.
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

/** Runs the waiting Slack jobs one at a time, as a worker would, and returns what each was for. */
async function drainInOrder(expected: number): Promise<string[]> {
  const seen: string[] = [];
  const connection = createWorkerRedis(stack.runtime.config.redisUrl);
  const queue = stack.runtime.queues.slack;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const worker = new Worker(
    queue.name,
    async (job) => {
      seen.push(String(job.data.incidentId ?? job.data.pulseId));
      if (seen.length === expected) done();
    },
    { connection, prefix: queue.opts.prefix, concurrency: 1 },
  );
  await all;
  await worker.close();
  connection.disconnect();
  return seen;
}

describe('Slack queue order', () => {
  it('pages first; pulses before changes while events keep up, after them while events are behind', async () => {
    const [change, page, pulse, latePulse] = ['change', 'page', 'pulse', 'late-pulse'].map((name) => `${name}-${randomUUID()}`) as [string, string, string, string];
    const queues = stack.runtime.queues;
    await queues.enqueueSlack({ incidents: [], pulseIds: [latePulse] }, { eventsBehind: true });
    await queues.enqueueSlack({ incidents: [{ id: change, updatedAt: new Date() }], pulseIds: [] });
    await queues.enqueueSlack({ incidents: [], pulseIds: [pulse] });
    await queues.enqueueSlack({ incidents: [{ id: page, updatedAt: new Date(), opened: true }], pulseIds: [] });
    expect(await drainInOrder(4)).toEqual([page, pulse, change, latePulse]);
  });
});

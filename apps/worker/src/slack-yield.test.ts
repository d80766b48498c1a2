import { describe, expect, it } from 'vitest';
import { EVENTS_BEHIND_QUEUE_WAIT_MS, SLACK_YIELD_HOLD_MS, createSlackYield } from './slack-yield.js';

function setup(concurrency: number) {
  let clock = 1_000_000;
  const slackQueue = { concurrency };
  const changes: number[] = [];
  const slackYield = createSlackYield(slackQueue, { concurrency, now: () => clock, onChange: (value) => changes.push(value) });
  return { slackQueue, changes, slackYield, advance: (ms: number) => (clock += ms) };
}

describe('the Slack queue yields while events are behind', () => {
  it.each([
    { concurrency: 8, yielded: 4 },
    { concurrency: 5, yielded: 2 },
    { concurrency: 1, yielded: 1 },
  ])('runs $yielded Slack jobs at once instead of $concurrency while events wait, and comes back after the hold', ({ concurrency, yielded }) => {
    const { slackQueue, slackYield, advance } = setup(concurrency);
    slackYield.noteEventQueueWait(EVENTS_BEHIND_QUEUE_WAIT_MS + 1);
    expect(slackQueue.concurrency).toBe(yielded);
    advance(SLACK_YIELD_HOLD_MS - 1);
    slackYield.adjust();
    expect(slackQueue.concurrency).toBe(yielded);
    advance(1);
    slackYield.adjust();
    expect(slackQueue.concurrency).toBe(concurrency);
  });

  it('an event that waited briefly changes nothing', () => {
    const { slackQueue, changes, slackYield } = setup(8);
    slackYield.noteEventQueueWait(EVENTS_BEHIND_QUEUE_WAIT_MS);
    slackYield.noteEventQueueWait(0);
    slackYield.adjust();
    expect(slackQueue.concurrency).toBe(8);
    expect(changes).toEqual([]);
  });

  it('each event that waits extends the hold, and each change is reported once', () => {
    const { slackQueue, changes, slackYield, advance } = setup(8);
    slackYield.noteEventQueueWait(500);
    advance(800);
    slackYield.noteEventQueueWait(300);
    advance(800);
    slackYield.adjust();
    expect(slackQueue.concurrency).toBe(4);
    advance(200);
    slackYield.adjust();
    slackYield.adjust();
    expect(slackQueue.concurrency).toBe(8);
    expect(changes).toEqual([4, 8]);
  });
});

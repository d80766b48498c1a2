/** An event that waited longer than this in its queue means the events are behind. */
export const EVENTS_BEHIND_QUEUE_WAIT_MS = 100;

/** How long the Slack queue keeps yielding after the last event that waited that long. */
export const SLACK_YIELD_HOLD_MS = 1_000;

/** How often the Slack queue's concurrency is brought in line with the events' state. */
const ADJUST_EVERY_MS = 200;

/**
 * While events wait in their queue, the Slack queue runs half as many jobs at once, so the
 * cores go to applying events (incidents committed, pages sent right after). The Slack queue
 * takes new incidents' pages first, then deploy pulses, then changes, so what waits is mostly
 * changes and pulses; they go out when the events have caught up. Concurrency comes back to its
 * setting `SLACK_YIELD_HOLD_MS` after the last event that waited.
 *
 * `target` is the Slack queue's BullMQ worker (anything with a settable `concurrency`).
 */
export function createSlackYield(target: { concurrency: number }, options: { concurrency: number; now?: () => number; onChange?: (concurrency: number) => void }) {
  const now = options.now ?? Date.now;
  const yielded = Math.max(1, Math.floor(options.concurrency / 2));
  let behindUntil = 0;

  const adjust = () => {
    const wanted = now() < behindUntil ? yielded : options.concurrency;
    if (target.concurrency !== wanted) {
      target.concurrency = wanted;
      options.onChange?.(wanted);
    }
  };

  let timer: NodeJS.Timeout | undefined;
  return {
    /** Called with each event job's time in its queue. */
    noteEventQueueWait(waitMs: number): void {
      if (waitMs <= EVENTS_BEHIND_QUEUE_WAIT_MS) return;
      behindUntil = now() + SLACK_YIELD_HOLD_MS;
      adjust();
    },
    /** Re-checks now; the timer does this every 200 ms. */
    adjust,
    start(): void {
      timer ??= setInterval(adjust, ADJUST_EVERY_MS);
      timer.unref();
    },
    stop(): void {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

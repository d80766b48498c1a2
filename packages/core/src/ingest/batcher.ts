/**
 * Group commit: callers submit one item each and wait for its result, while items that
 * arrive during the same turn of the event loop, or while an earlier batch is being
 * written, are handled together by one call of `handle`. An idle system adds no delay;
 * a busy one gets large batches and few round trips.
 *
 * With `linger`, a batch smaller than `linger.until` waits until its first item is `linger.ms`
 * old for more to join it: a little latency buys fuller batches at moderate load.
 */
export interface Batcher<I, O> {
  submit(item: I): Promise<O>;
  /** Resolves when every submitted item has been handled. */
  drain(): Promise<void>;
}

interface Pending<I, O> {
  item: I;
  submittedAt: number;
  resolve(value: O): void;
  reject(error: unknown): void;
}

export function createBatcher<I, O>(
  handle: (items: I[]) => Promise<O[]>,
  options: { maxBatch: number; maxInFlight: number; linger?: { ms: number; until: number } },
): Batcher<I, O> {
  let queue: Pending<I, O>[] = [];
  let inFlight = 0;
  let scheduled = false;
  let lingering: NodeJS.Timeout | undefined;
  let idleWaiters: (() => void)[] = [];

  const schedule = () => {
    if (scheduled || inFlight >= options.maxInFlight || queue.length === 0) return;
    const linger = options.linger;
    if (linger !== undefined && queue.length < linger.until) {
      const wait = queue[0]!.submittedAt + linger.ms - performance.now();
      if (wait > 0) {
        lingering ??= setTimeout(run, wait);
        return;
      }
    }
    scheduled = true;
    setImmediate(run);
  };

  const run = () => {
    scheduled = false;
    clearTimeout(lingering);
    lingering = undefined;
    while (inFlight < options.maxInFlight && queue.length > 0) {
      const batch = queue.slice(0, options.maxBatch);
      queue = queue.slice(batch.length);
      inFlight += 1;
      void handleBatch(batch);
    }
  };

  const handleBatch = async (batch: Pending<I, O>[]) => {
    try {
      const results = await handle(batch.map((pending) => pending.item));
      batch.forEach((pending, index) => pending.resolve(results[index] as O));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      inFlight -= 1;
      if (queue.length > 0) schedule();
      else if (inFlight === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const wake of waiters) wake();
      }
    }
  };

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, submittedAt: performance.now(), resolve, reject });
        schedule();
      });
    },
    drain() {
      if (queue.length === 0 && inFlight === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}

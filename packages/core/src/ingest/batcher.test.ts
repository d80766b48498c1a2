import { describe, expect, it } from 'vitest';
import { createBatcher } from './batcher.js';

describe('group-commit batcher', () => {
  it('handles items submitted in the same tick in one batch, and answers each with its own result', async () => {
    const batches: number[][] = [];
    const batcher = createBatcher(async (items: number[]) => {
      batches.push(items);
      return items.map((n) => n * 10);
    }, { maxBatch: 100, maxInFlight: 1 });
    const results = await Promise.all([1, 2, 3, 4].map((n) => batcher.submit(n)));
    expect(results).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1, 2, 3, 4]]);
  });

  it('gathers what arrives while a batch is in flight into the next one, capped at maxBatch', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const batcher = createBatcher(async (items: number[]) => {
      batches.push(items);
      if (batches.length === 1) await gate;
      return items;
    }, { maxBatch: 3, maxInFlight: 1 });
    const first = batcher.submit(0);
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [1, 2, 3, 4, 5].map((n) => batcher.submit(n));
    release();
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([[0], [1, 2, 3], [4, 5]]);
  });

  it('rejects every item of a failed batch and keeps serving later ones; drain waits for all', async () => {
    let fail = true;
    const batcher = createBatcher(async (items: string[]) => {
      if (fail) throw new Error('database down');
      return items;
    }, { maxBatch: 10, maxInFlight: 2 });
    const failed = await Promise.allSettled([batcher.submit('a'), batcher.submit('b')]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    const later = batcher.submit('c');
    await batcher.drain();
    await expect(later).resolves.toBe('c');
  });

  it('with linger, a small batch waits for more until its first item is linger.ms old', async () => {
    const batches: { items: number[]; afterMs: number }[] = [];
    const start = performance.now();
    const batcher = createBatcher(async (items: number[]) => {
      batches.push({ items, afterMs: performance.now() - start });
      return items;
    }, { maxBatch: 100, maxInFlight: 1, linger: { ms: 60, until: 4 } });
    const first = batcher.submit(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all([first, batcher.submit(2)]);
    expect(batches.map((batch) => batch.items)).toEqual([[1, 2]]);
    expect(batches[0]!.afterMs).toBeGreaterThanOrEqual(55);
  });

  it('with linger, a batch that reaches linger.until goes at once', async () => {
    const batches: number[][] = [];
    const batcher = createBatcher(async (items: number[]) => {
      batches.push(items);
      return items;
    }, { maxBatch: 100, maxInFlight: 1, linger: { ms: 60_000, until: 3 } });
    await Promise.all([1, 2, 3].map((n) => batcher.submit(n)));
    expect(batches).toEqual([[1, 2, 3]]);
  });
});

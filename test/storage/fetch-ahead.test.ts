import { describe, expect, it } from 'vitest';
import { fetchAhead } from '../../src/storage/fetch-ahead.ts';

/** A fetch whose completions the test releases in any order, counting what runs at once. */
function controlledFetch() {
  const pending = new Map<number, { resolve: (v: string) => void; reject: (e: Error) => void }>();
  const stats = { inFlight: 0, maxInFlight: 0, started: [] as number[] };
  const fetch = (n: number) =>
    new Promise<string>((resolve, reject) => {
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      stats.started.push(n);
      const done = () => stats.inFlight--;
      pending.set(n, {
        resolve: (v) => (done(), resolve(v)),
        reject: (e) => (done(), reject(e)),
      });
    });
  return { fetch, pending, stats };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('fetchAhead', () => {
  it('yields in input order while completions arrive out of order, never more than `concurrency` at once', async () => {
    const { fetch, pending, stats } = controlledFetch();
    const items = Array.from({ length: 20 }, (_, i) => i);
    const out: string[] = [];
    const consumer = (async () => {
      for await (const v of fetchAhead(items, fetch, { concurrency: 3, maxAhead: 5 })) out.push(v);
    })();
    // Release in a scrambled order: always the newest pending fetch first.
    while (out.length < items.length) {
      await tick();
      const newest = Math.max(...pending.keys());
      if (Number.isFinite(newest)) {
        pending.get(newest)!.resolve(`v${newest}`);
        pending.delete(newest);
      }
    }
    await consumer;
    expect(out).toEqual(items.map((i) => `v${i}`));
    expect(stats.maxInFlight).toBe(3);
    expect(stats.started).toEqual(items);
  });

  it('stops fetching when `maxAhead` results wait for a slow consumer', async () => {
    const { fetch, pending, stats } = controlledFetch();
    const iterator = fetchAhead(Array.from({ length: 50 }, (_, i) => i), fetch, { concurrency: 2, maxAhead: 4 })[Symbol.asyncIterator]();
    const first = iterator.next();
    for (let round = 0; round < 10; round++) {
      await tick();
      for (const [n, p] of pending) {
        p.resolve(`v${n}`);
        pending.delete(n);
      }
    }
    expect((await first).value).toBe('v0');
    await tick();
    // Consumer took 1: items 0..4 started (4 ahead after taking one), nothing beyond while it sleeps.
    expect(stats.started).toEqual([0, 1, 2, 3, 4]);
    await iterator.return(undefined);
  });

  it('pulls a lazy source no further than it fetches (a listing is not drained first)', async () => {
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield i;
      }
    }
    const seen: number[] = [];
    for await (const v of fetchAhead(source(), async (n) => n * 2, { concurrency: 4, maxAhead: 8 })) {
      seen.push(v);
      if (seen.length === 10) break;
    }
    expect(seen).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(pulled).toBeLessThanOrEqual(10 + 8);
  });

  it('throws a failed fetch at its position, after the results before it, and leaves no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const seen: number[] = [];
      const run = async () => {
        for await (const v of fetchAhead([1, 2, 3, 4, 5, 6], async (n) => {
          if (n === 3 || n === 5) throw new Error(`bad ${n}`);
          return n;
        }, { concurrency: 4 })) seen.push(v);
      };
      await expect(run()).rejects.toThrow('bad 3');
      expect(seen).toEqual([1, 2]);
      await tick();
      await tick();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('passes a source error through after the items before it', async () => {
    async function* source() {
      yield 1;
      yield 2;
      throw new Error('listing broke');
    }
    const seen: number[] = [];
    const run = async () => {
      for await (const v of fetchAhead(source(), async (n) => n, { concurrency: 2 })) seen.push(v);
    };
    await expect(run()).rejects.toThrow('listing broke');
    expect(seen).toEqual([1, 2]);
  });

  it('rejects bounds that cannot work', async () => {
    const run = (options: { concurrency: number; maxAhead?: number }) => fetchAhead([1], async (n) => n, options).next();
    await expect(run({ concurrency: 0 })).rejects.toThrow('concurrency must be >= 1');
    await expect(run({ concurrency: 4, maxAhead: 2 })).rejects.toThrow('maxAhead must be >= concurrency');
  });
});

export interface FetchAheadOptions {
  /** At most this many fetches run at once. */
  concurrency: number;
  /** At most this many items are fetched or fetching ahead of the consumer (default 2 x concurrency). */
  maxAhead?: number;
}

type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Fetches items ahead of their use and yields the results in the items' order: images download while earlier
 * batches run, and nothing downloads the whole data set first. The source is pulled lazily (an S3 listing stays
 * one page at a time). A failed fetch is thrown at its position, after the results before it; stopping early
 * (break) starts no new fetches and leaves no unhandled rejection behind.
 */
export async function* fetchAhead<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  fetch: (item: T) => Promise<R>,
  options: FetchAheadOptions,
): AsyncGenerator<R> {
  const concurrency = options.concurrency;
  const maxAhead = options.maxAhead ?? 2 * concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`fetchAhead: concurrency must be >= 1, got ${concurrency}`);
  if (!Number.isInteger(maxAhead) || maxAhead < concurrency) throw new RangeError(`fetchAhead: maxAhead must be >= concurrency, got ${maxAhead}`);
  const source = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : toAsync(items[Symbol.iterator]());
  const queue: Promise<Settled<R>>[] = [];
  let inFlight = 0;
  let sourceDone = false;
  let sourceError: { error: unknown } | undefined;
  let stopped = false;
  let busy = false;
  let current: Promise<void> = Promise.resolve();
  let again = false;

  // Pulls items and starts fetches while both bounds allow; re-runs when a fetch settles or the consumer takes one.
  const fill = async () => {
    try {
      do {
        again = false;
        while (!stopped && !sourceDone && inFlight < concurrency && queue.length < maxAhead) {
          let next: IteratorResult<T>;
          try {
            next = await source.next();
          } catch (error) {
            sourceError = { error };
            sourceDone = true;
            break;
          }
          if (next.done) {
            sourceDone = true;
            break;
          }
          inFlight++;
          const item = next.value;
          queue.push(
            Promise.resolve()
              .then(() => fetch(item))
              .then(
                (value): Settled<R> => ({ ok: true, value }),
                (error: unknown): Settled<R> => ({ ok: false, error }),
              )
              .finally(() => {
                inFlight--;
                void pump();
              }),
          );
        }
      } while (again && !stopped);
    } finally {
      busy = false;
    }
  };
  const pump = (): Promise<void> => {
    if (busy) {
      again = true;
      return current;
    }
    busy = true; // before fill(): a fill that finishes synchronously clears it
    current = fill();
    return current;
  };

  try {
    for (;;) {
      if (queue.length === 0) {
        if (sourceDone) break;
        await pump();
        continue;
      }
      const head = await queue[0];
      queue.shift();
      void pump();
      if (!head.ok) throw head.error;
      yield head.value;
    }
    if (sourceError) throw sourceError.error;
  } finally {
    stopped = true;
    if (!sourceDone) await source.return?.();
  }
}

async function* toAsync<T>(iterator: Iterator<T>): AsyncGenerator<T> {
  for (let next = iterator.next(); !next.done; next = iterator.next()) yield next.value;
}

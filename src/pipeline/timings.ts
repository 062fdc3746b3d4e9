import { appendFileSync } from 'node:fs';

/** RSS is sampled when the run has handled this many images (the benchmark compares 1,000 with 10,000). */
const RSS_MARKS = [1_000, 10_000] as const;

/** One line of `HEATGATE_TIMINGS`: where one run's time and memory went (docs/outputs.md, bench/whole.ts). */
export interface TimingsReport {
  /** Epoch milliseconds: the process started, and the first result line was written. */
  processStartEpochMs: number;
  firstResultEpochMs: number | null;
  images: number;
  /** Wall time in the explanation step (ONNX Runtime run + CAM arithmetic), summed over batches. */
  sessionMs: number;
  /** Time the batch loop waited for decoded images (0 when decoding keeps up with the session). */
  inputWaitMs: number;
  /**
   * Time after the explanation step on each batch: analysis, heatmap files, results lines, summed per batch. It runs
   * beside the next batch's session, so it overlaps sessionMs; outputWaitMs is what it held the loop up.
   */
  afterSessionMs: number;
  /** Time the batch loop waited for earlier batches' analysis and writes before starting another session. */
  outputWaitMs: number;
  /** Overlays and raw maps written while streaming, and the time their encodes and writes took (beside the loop). */
  overlaysWritten: number;
  rawMapsWritten: number;
  imageOutputMs: number;
  /** Time the loop waited because the overlay writer had its maximum of encodes in flight. */
  imageOutputBackpressureMs: number;
  /** Resident set size when the run had handled 1,000 and 10,000 images (bytes; absent when it handled fewer). */
  rssAtImages: Record<string, number>;
  peakRssBytes: number;
}

/**
 * Accounts a run's time for the whole-process benchmark. Always on (a few performance.now() calls per batch); the
 * report is written only when the environment names a file, so a normal run writes nothing extra.
 */
export class RunTimings {
  private firstResult: number | null = null;
  private images = 0;
  private sessionMs = 0;
  private inputWaitMs = 0;
  private afterSessionMs = 0;
  private outputWaitMs = 0;
  private outputs = { overlaysWritten: 0, rawMapsWritten: 0, encodeMs: 0, backpressureMs: 0 };
  private readonly rssAtImages: Record<string, number> = {};

  /** Wraps the batch source: the time spent awaiting each next batch is input wait. */
  async *measureWait<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
    const iterator = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const t = performance.now();
        const next = await iterator.next();
        this.inputWaitMs += performance.now() - t;
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await iterator.return?.();
    }
  }

  async session<T>(work: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await work();
    } finally {
      this.sessionMs += performance.now() - t;
    }
  }

  /** One batch's analysis, files and results lines took `ms` (beside the session: see TimingsReport). */
  afterSession(ms: number): void {
    this.afterSessionMs += ms;
  }

  /** The loop waits for an earlier batch's analysis and writes (it holds at most a couple behind the session). */
  async measureOutputWait(batch: Promise<void>): Promise<void> {
    const t = performance.now();
    try {
      await batch;
    } finally {
      this.outputWaitMs += performance.now() - t;
    }
  }

  /** The overlay/raw-map writer's totals at the end of the run. */
  imageOutputs(stats: { overlaysWritten: number; rawMapsWritten: number; encodeMs: number; backpressureMs: number }): void {
    this.outputs = { ...stats };
  }

  /** `count` more result lines were written. */
  resultsWritten(count: number): void {
    if (count > 0 && this.firstResult === null) this.firstResult = performance.timeOrigin + performance.now();
    const before = this.images;
    this.images += count;
    for (const mark of RSS_MARKS) if (before < mark && this.images >= mark) this.rssAtImages[mark] = process.memoryUsage.rss();
  }

  report(): TimingsReport {
    return {
      processStartEpochMs: performance.timeOrigin,
      firstResultEpochMs: this.firstResult,
      images: this.images,
      sessionMs: this.sessionMs,
      inputWaitMs: this.inputWaitMs,
      afterSessionMs: this.afterSessionMs,
      outputWaitMs: this.outputWaitMs,
      overlaysWritten: this.outputs.overlaysWritten,
      rawMapsWritten: this.outputs.rawMapsWritten,
      imageOutputMs: this.outputs.encodeMs,
      imageOutputBackpressureMs: this.outputs.backpressureMs,
      rssAtImages: { ...this.rssAtImages },
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
  }

  /** Appends the report as one JSON line to $HEATGATE_TIMINGS (a local file) when it is set: one line per model run. */
  writeIfRequested(env: NodeJS.ProcessEnv = process.env): void {
    const file = env.HEATGATE_TIMINGS;
    if (file) appendFileSync(file, `${JSON.stringify(this.report())}\n`);
  }
}

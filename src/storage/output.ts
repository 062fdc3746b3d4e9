import type { FileContent } from './atomic.ts';
import type { Location } from './location.ts';

/** The results file name under `--out`. */
export const RESULTS_FILE = 'results.jsonl';
/** Where an output target that cannot append (S3) keeps one object per flush until finalize(). */
export const RESULTS_PARTS = 'results.parts';
/** Written last; removed when a target opens so that a reader never pairs it with another run's outputs. */
export const COMMIT_MARKER = 'verdict.json';

export interface OutputTargetOptions {
  /** Continue an interrupted run: keep the results written so far (readResults yields them). */
  resume: boolean;
  /**
   * false for a writer that produces no results.jsonl (`heatgate gate` re-evaluating results that may live in
   * the same --out): results.jsonl and parts are left untouched, appendResults is refused. Default true.
   */
  writesResults?: boolean;
  /** Default COMMIT_MARKER. */
  commitMarker?: string;
}

/**
 * Everything `--out` receives, on any backend. Order of use:
 *   open (removes the commit marker) → readResults (when resuming) → appendResults per batch, writeFile for
 *   per-image files → finalize → writeFile for the whole-run outputs → writeFile(commit marker) last → close.
 * A reader that sees the commit marker can read every other output.
 */
export interface OutputTarget {
  readonly location: Location;
  /**
   * The complete result lines kept from earlier runs (empty unless resuming), in the order they were appended.
   * A torn last line (a crash mid-append) is dropped. The caller dedupes by image if it needs to.
   */
  readResults(): AsyncIterable<string>;
  /**
   * Adds lines (JSON texts without newlines) to results.jsonl durably: once this resolves, a resumed run sees
   * them. Local: an append + fdatasync. S3: one part object per call.
   */
  appendResults(lines: readonly string[]): Promise<void>;
  /** Writes `rel` (a '/'-separated path under `--out`) whole and atomically. */
  writeFile(rel: string, data: FileContent, options?: { durable?: boolean }): Promise<void>;
  /** After the last appendResults: results.jsonl is complete (S3: assembled from the parts, then parts removed). */
  finalize(): Promise<void>;
  close(): Promise<void>;
}

/** Refuses appendResults on a target opened with writesResults: false (a bug in the caller). */
export function resultsNotOpened(): Error {
  return new Error('appendResults on an output target opened with writesResults: false');
}

export function checkLines(lines: readonly string[]): string {
  for (const line of lines) {
    if (line.includes('\n')) throw new Error('a results line contains a newline'); // a bug in the caller
  }
  return lines.map((l) => `${l}\n`).join('');
}

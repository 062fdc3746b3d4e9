import type { FileContent } from './atomic.ts';
import type { Backend } from './backend.ts';
import { fetchAhead } from './fetch-ahead.ts';
import { joinLocation, type Location } from './location.ts';
import { checkLines, COMMIT_MARKER, RESULTS_FILE, RESULTS_PARTS, resultsNotOpened, type OutputTarget, type OutputTargetOptions } from './output.ts';

const PART = /^(\d{8})\.jsonl$/;
const partName = (n: number) => `${String(n).padStart(8, '0')}.jsonl`;
const MAX_PART = 99_999_999; // fixed width keeps S3's byte order equal to numeric order
const READ_CONCURRENCY = 8;

/**
 * `--out` on a backend that cannot append (S3). Each appendResults is one whole object
 * `results.parts/NNNNNNNN.jsonl`; finalize() streams them into `results.jsonl`, then removes them.
 *
 * State rules, which make every crash point resumable without losing or duplicating a line:
 * - results.jsonl present: it is the whole truth; parts beside it are leftovers of a finalize (or of the
 *   import below) that stopped midway, all contained in it, and are dropped.
 * - no results.jsonl: the parts, in number order, are the truth.
 * Resuming after a finalized run imports results.jsonl as part 0 (copy, then delete the original), so the
 * run continues with parts only. A fresh run discards the old state under the same rules (see open).
 */
export class PartsOutputTarget implements OutputTarget {
  private next = 1;
  private writesResults = true;
  private pending: Promise<void> = Promise.resolve();

  private constructor(
    private readonly backend: Backend,
    readonly location: Location,
  ) {}

  static async open(backend: Backend, location: Location, options: OutputTargetOptions): Promise<PartsOutputTarget> {
    const target = new PartsOutputTarget(backend, location);
    await backend.remove(target.at(options.commitMarker ?? COMMIT_MARKER));
    const results = target.at(RESULTS_FILE);
    if (options.writesResults === false) {
      target.writesResults = false;
      return target;
    }
    if (!options.resume) {
      // An empty results.jsonl first: by the rules it voids every old part at once, so a crash while they are
      // removed cannot leave a partial old run for a later --resume to pick up.
      await backend.write(results, '');
      await target.removeParts();
      await backend.remove(results);
      return target;
    }
    if (await backend.stat(results)) {
      await target.removeParts();
      await backend.write(target.part(0), await backend.readStream(results));
      await backend.remove(results);
      return target;
    }
    for await (const n of target.partNumbers()) target.next = n + 1;
    return target;
  }

  async *readResults(): AsyncGenerator<string> {
    if (!this.writesResults) return;
    const parts = fetchAhead(this.partNumbers(), (n) => this.backend.read(this.part(n)), { concurrency: READ_CONCURRENCY });
    for await (const data of parts) {
      for (const line of data.toString('utf8').split('\n')) if (line.trim() !== '') yield line;
    }
  }

  appendResults(lines: readonly string[]): Promise<void> {
    if (!this.writesResults) return Promise.reject(resultsNotOpened());
    if (lines.length === 0) return this.pending;
    const text = checkLines(lines);
    // Serialised: part numbers follow the order of the calls even if a caller does not await each one.
    const write = this.pending.then(() => {
      if (this.next > MAX_PART) throw new Error(`more than ${MAX_PART} result parts`);
      return this.backend.write(this.part(this.next++), text);
    });
    this.pending = write.catch(() => undefined);
    return write;
  }

  writeFile(rel: string, data: FileContent, options?: { durable?: boolean }): Promise<void> {
    return this.backend.write(this.at(rel), data, options);
  }

  async finalize(): Promise<void> {
    await this.pending;
    if (!this.writesResults) return;
    const parts = fetchAhead(this.partNumbers(), (n) => this.backend.read(this.part(n)), { concurrency: READ_CONCURRENCY });
    await this.backend.write(this.at(RESULTS_FILE), parts);
    await this.removeParts();
  }

  async close(): Promise<void> {
    await this.pending;
  }

  private at(rel: string): Location {
    return joinLocation(this.location, rel);
  }

  private part(n: number): Location {
    return this.at(`${RESULTS_PARTS}/${partName(n)}`);
  }

  private async *partNumbers(): AsyncGenerator<number> {
    const root = this.at(RESULTS_PARTS);
    if (!(await this.backend.stat(root))) return;
    for await (const rel of this.backend.list(root, { recursive: false })) {
      const match = PART.exec(rel);
      if (match) yield Number(match[1]);
    }
  }

  private async removeParts(): Promise<void> {
    const numbers: number[] = [];
    for await (const n of this.partNumbers()) numbers.push(n);
    for await (const _ of fetchAhead(numbers, (n) => this.backend.remove(this.part(n)), { concurrency: READ_CONCURRENCY })) {
      // drained for the errors
    }
  }
}

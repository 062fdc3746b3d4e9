import { parseRecord, type ResultRecord } from '../gate/records.ts';
import { formatLocation, joinLocation, type Location } from '../storage/location.ts';
import { RESULTS_FILE, type OutputTarget } from '../storage/output.ts';
import type { Storage } from '../storage/storage.ts';

export type { ResultRecord };

/**
 * results.jsonl through `--out`'s output target (storage/output.ts): one complete line per image, written after
 * the image's other files, so a line present means the image is done. Local: appended in place; S3: one part object
 * per batch, assembled by finish(). Resuming reads the done images; only a torn last line (a kill mid-write) is cut,
 * a bad line anywhere else is an InputError naming the line, and nothing is truncated.
 */
export class ResultsSink {
  private constructor(
    /** results.jsonl as messages name it. */
    readonly file: string,
    readonly target: OutputTarget,
    readonly done: ReadonlyMap<string, ResultRecord>,
  ) {}

  static async open(storage: Storage, out: Location, resume: boolean): Promise<ResultsSink> {
    const file = formatLocation(joinLocation(out, RESULTS_FILE));
    const target = await storage.openOutput(out, { resume });
    const done = new Map<string, ResultRecord>();
    try {
      let lineNumber = 0;
      for await (const line of target.readResults()) {
        const record = parseRecord(line, file, ++lineNumber);
        done.set(record.image, record);
      }
    } catch (error) {
      await target.close();
      throw error;
    }
    return new ResultsSink(file, target, done);
  }

  async append(records: readonly ResultRecord[]): Promise<void> {
    await this.target.appendResults(records.map((r) => JSON.stringify(r)));
  }

  /** Writes `rel` under --out (an overlay, a raw map) whole. */
  writeFile(rel: string, data: Uint8Array | string, options?: { durable?: boolean }): Promise<void> {
    return this.target.writeFile(rel, data, options);
  }

  /** After the last append: results.jsonl is complete (S3: assembled from its parts). */
  async finish(): Promise<void> {
    await this.target.finalize();
  }

  async close(): Promise<void> {
    await this.target.close();
  }
}

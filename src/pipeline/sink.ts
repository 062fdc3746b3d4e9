import { createReadStream } from 'node:fs';
import { mkdir, open, stat, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { ResultRecord } from '../gate/records.ts';

export type { ResultRecord };

/**
 * Appends records to results.jsonl, one complete line per image, written after the image's other files: a line
 * present means the image is done. Resuming reads the done images and cuts a torn last line.
 */
export class ResultsSink {
  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    readonly done: ReadonlyMap<string, ResultRecord>,
  ) {}

  static async open(outDir: string, resume: boolean): Promise<ResultsSink> {
    const file = path.join(outDir, 'results.jsonl');
    await mkdir(outDir, { recursive: true });
    const done = new Map<string, ResultRecord>();
    if (resume) {
      const keep = await readComplete(file, (record) => done.set(record.image, record));
      if (keep !== undefined) await truncate(file, keep);
    }
    const handle = await open(file, resume ? 'a' : 'w');
    // A last record that parsed but lost its newline would glue onto the next append.
    const { size } = await handle.stat();
    if (size > 0) {
      const last = Buffer.alloc(1);
      const reader = await open(file, 'r');
      await reader.read(last, 0, 1, size - 1).finally(() => reader.close());
      if (last[0] !== 0x0a) await handle.appendFile('\n');
    }
    return new ResultsSink(file, handle, done);
  }

  async append(records: readonly ResultRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.handle.appendFile(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    await this.handle.datasync();
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Reads whole lines of an existing results file; returns the byte length of the complete prefix. */
async function readComplete(file: string, onRecord: (r: ResultRecord) => void): Promise<number | undefined> {
  try {
    await stat(file);
  } catch {
    return undefined;
  }
  // readline cannot tell whether the last line ended with a newline; trust only lines that parse.
  let bytes = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    let record: ResultRecord | undefined;
    if (line.trim() !== '') {
      try {
        record = JSON.parse(line) as ResultRecord;
      } catch {
        break;
      }
      if (typeof record.image !== 'string') break;
      onRecord(record);
    }
    bytes += Buffer.byteLength(line) + 1;
  }
  const size = (await stat(file)).size;
  return Math.min(bytes, size);
}

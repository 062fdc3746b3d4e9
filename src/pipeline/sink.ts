import { createReadStream } from 'node:fs';
import { open, stat, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { outputPathError } from '../errors.ts';
import { parseRecord, type ResultRecord } from '../gate/records.ts';
import { ensureDir } from '../storage/out-dir.ts';

export type { ResultRecord };

/**
 * Appends records to results.jsonl, one complete line per image, written after the image's other files: a line
 * present means the image is done. Resuming reads the done images; only a torn last line (a kill mid-write: no
 * newline after it) is cut, a bad line anywhere else is an InputError and nothing is truncated.
 */
export class ResultsSink {
  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    readonly done: ReadonlyMap<string, ResultRecord>,
  ) {}

  static async open(outDir: string, resume: boolean): Promise<ResultsSink> {
    const file = path.join(outDir, 'results.jsonl');
    await ensureDir(outDir);
    const done = new Map<string, ResultRecord>();
    if (resume) {
      const keep = await readDone(file, (record) => done.set(record.image, record));
      if (keep !== undefined) await truncate(file, keep);
    }
    let handle: FileHandle;
    try {
      handle = await open(file, resume ? 'a' : 'w');
    } catch (error) {
      throw outputPathError(error, 'cannot open results file', file);
    }
    // A last record that parsed but lost its newline would glue onto the next append.
    const { size } = await handle.stat();
    if (size > 0 && (await lastByte(file, size)) !== 0x0a) await handle.appendFile('\n');
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

async function lastByte(file: string, size: number): Promise<number> {
  const last = Buffer.alloc(1);
  const reader = await open(file, 'r');
  await reader.read(last, 0, 1, size - 1).finally(() => reader.close());
  return last[0];
}

/**
 * Streams the records of an existing results file. Returns the byte length to keep when the last line is torn (it does
 * not end in a newline and does not parse), else undefined (nothing to cut; also when there is no file).
 * @throws InputError naming the file and line when any other line is not a valid record
 */
async function readDone(file: string, onRecord: (r: ResultRecord) => void): Promise<number | undefined> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return undefined;
  }
  if (size === 0) return undefined;
  const endsWithNewline = (await lastByte(file, size)) === 0x0a;
  let offset = 0;
  let lineNumber = 0;
  for await (const line of createInterface({ input: createReadStream(file, { end: size - 1 }), crlfDelay: Infinity })) {
    lineNumber++;
    const start = offset;
    offset += Buffer.byteLength(line) + 1;
    if (line.trim() === '') continue;
    let record: ResultRecord;
    try {
      record = parseRecord(line, file, lineNumber);
    } catch (error) {
      const torn = !endsWithNewline && offset >= size; // the last line, cut short by a kill
      if (torn) return start;
      throw error;
    }
    onRecord(record);
  }
  return undefined;
}

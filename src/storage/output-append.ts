import { createReadStream } from 'node:fs';
import { open, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { InputError } from '../errors.ts';
import { writeFileAtomic, type FileContent } from './atomic.ts';
import { ensureDir } from './out-dir.ts';
import { fsError, isNotFound, localPath } from './local.ts';
import { joinLocation, type Location } from './location.ts';
import { checkLines, COMMIT_MARKER, RESULTS_FILE, resultsNotOpened, type OutputTarget, type OutputTargetOptions } from './output.ts';

/**
 * Local `--out`: results.jsonl is appended in place (one fdatasync per batch); resume keeps the longest prefix
 * of lines that parse as JSON and cuts a torn tail.
 */
export class AppendOutputTarget implements OutputTarget {
  private constructor(
    readonly location: Location,
    private readonly dir: string,
    /** Undefined when opened with writesResults: false. */
    private readonly handle: FileHandle | undefined,
    /** Bytes of results kept from earlier runs. */
    private readonly kept: number,
  ) {}

  static async open(location: Location, dir: string, options: OutputTargetOptions): Promise<AppendOutputTarget> {
    const file = path.join(dir, RESULTS_FILE);
    await ensureDir(dir); // bounded (recursive mkdir spins on /proc), one line naming --out on failure
    try {
      await rm(path.join(dir, options.commitMarker ?? COMMIT_MARKER), { force: true });
      if (options.writesResults === false) return new AppendOutputTarget(location, dir, undefined, 0);
      let kept = 0;
      if (options.resume) {
        const complete = await completePrefix(file);
        if (complete !== undefined) {
          await truncate(file, complete.bytes);
          kept = complete.bytes;
          // A last line that parsed but lost its newline would glue onto the next append.
          if (complete.missingNewline) {
            const h = await open(file, 'a');
            await h.appendFile('\n').finally(() => h.close());
            kept += 1;
          }
        }
      }
      const handle = await open(file, options.resume ? 'a' : 'w');
      return new AppendOutputTarget(location, dir, handle, kept);
    } catch (error) {
      throw fsError(error, file, 'write');
    }
  }

  async *readResults(): AsyncGenerator<string> {
    if (this.kept === 0) return;
    const input = createReadStream(path.join(this.dir, RESULTS_FILE), { end: this.kept - 1 });
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (line.trim() !== '') yield line;
    }
  }

  async appendResults(lines: readonly string[]): Promise<void> {
    if (!this.handle) throw resultsNotOpened();
    if (lines.length === 0) return;
    const text = checkLines(lines);
    try {
      await this.handle.appendFile(text);
      await this.handle.datasync();
    } catch (error) {
      throw fsError(error, path.join(this.dir, RESULTS_FILE), 'write');
    }
  }

  async writeFile(rel: string, data: FileContent, options?: { durable?: boolean }): Promise<void> {
    await writeFileAtomic(localPath(joinLocation(this.location, rel)), data, options);
  }

  async finalize(): Promise<void> {
    // Every append was already synced: results.jsonl is complete as it stands.
  }

  async close(): Promise<void> {
    await this.handle?.close();
  }
}

/**
 * Byte length of the lines to keep: all of them, less a last line that does not parse as JSON and has no newline
 * after it (a write torn by a kill). A line that does not parse anywhere else is damage, not a torn write: an
 * InputError naming the line, and nothing is cut.
 */
async function completePrefix(file: string): Promise<{ bytes: number; missingNewline: boolean } | undefined> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  // readline cannot tell whether the last line ended with a newline; trust only lines that parse.
  let bytes = 0;
  let lineNumber = 0;
  let bad: { line: number; bytes: number; problem: string } | undefined;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    lineNumber++;
    if (bad) throw new InputError(`line ${bad.line}: not valid JSON (${bad.problem})`, file);
    if (line.trim() !== '') {
      try {
        JSON.parse(line);
      } catch (error) {
        bad = { line: lineNumber, bytes, problem: (error as Error).message };
      }
    }
    bytes += Buffer.byteLength(line) + 1;
  }
  if (bad) {
    if (bytes <= size) throw new InputError(`line ${bad.line}: not valid JSON (${bad.problem})`, file); // it ends in a newline: not torn
    return { bytes: bad.bytes, missingNewline: false };
  }
  return { bytes: Math.min(bytes, size), missingNewline: bytes > size };
}

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { restateStorageError } from '../storage/errors.ts';
import { parseLocation } from '../storage/location.ts';
import { defaultStorage, type Storage } from '../storage/storage.ts';
import { InfrastructureError, InputError } from '../errors.ts';

/**
 * One line of results.jsonl (docs/outputs.md). `metrics` is an open map: new metric names may
 * appear at any time; `null` means "could not be computed" and is skipped by every aggregate.
 */
export interface ResultRecord {
  image: string;
  predicted?: number;
  confidence?: number;
  target?: number;
  label?: number | null;
  className?: string;
  method?: string;
  layer?: string;
  /** Overlay PNG, relative to the out dir. */
  overlay?: string;
  /** Raw map (--save-raw), relative to the out dir. */
  heatmap?: string;
  metrics?: Record<string, number | null>;
  /** Present only when the image failed to process. */
  error?: string;
  /** New keys may be added (targetClassName, regions, ...). */
  [key: string]: unknown;
}

/** Parses and checks one results.jsonl line; errors name the file and the 1-based line number. */
export function parseRecord(line: string, file: string, lineNumber: number): ResultRecord {
  const fail = (problem: string) => new InputError(`line ${lineNumber}: ${problem}`, file);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw fail(`not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('expected a JSON object');
  const record = value as Record<string, unknown>;
  if (typeof record.image !== 'string' || record.image === '') throw fail('"image" must be a non-empty string');
  for (const key of ['predicted', 'confidence', 'target'] as const) {
    if (record[key] !== undefined && record[key] !== null && !Number.isFinite(record[key])) {
      throw fail(`"${key}" must be a number, got ${JSON.stringify(record[key])}`);
    }
  }
  if (record.label !== undefined && record.label !== null && !Number.isFinite(record.label)) {
    throw fail(`"label" must be a number or null, got ${JSON.stringify(record.label)}`);
  }
  for (const key of ['className', 'method', 'layer', 'overlay', 'error'] as const) {
    if (record[key] !== undefined && record[key] !== null && typeof record[key] !== 'string') {
      throw fail(`"${key}" must be a string, got ${JSON.stringify(record[key])}`);
    }
  }
  const metrics = record.metrics;
  if (metrics !== undefined && metrics !== null) {
    if (typeof metrics !== 'object' || Array.isArray(metrics)) throw fail('"metrics" must be an object');
    for (const [name, v] of Object.entries(metrics)) {
      if (v !== null && !Number.isFinite(v)) {
        throw fail(`metric "${name}" must be a finite number or null, got ${JSON.stringify(v)}`);
      }
    }
  }
  return record as unknown as ResultRecord;
}

export interface ResultsStream {
  records: AsyncGenerator<ResultRecord>;
  /** sha256 of the file's bytes; resolves once `records` has been read to the end. */
  sha256: Promise<string>;
}

/**
 * Streams results.jsonl line by line (memory does not grow with the file) and hashes the bytes on the way.
 * Blank lines are ignored; a malformed line is an InputError naming the file and line number.
 */
export function readResults(file: string, storage: Storage = defaultStorage()): ResultsStream {
  const hash = createHash('sha256');
  let resolveHash!: (digest: string) => void;
  const sha256 = new Promise<string>((resolve) => (resolveHash = resolve));
  async function* records(): AsyncGenerator<ResultRecord> {
    let stream: Readable;
    try {
      stream = await storage.readStream(parseLocation(file, '--results'));
    } catch (error) {
      throw restateStorageError(error, (problem) => `cannot read results file (${problem})`, file);
    }
    stream.on('data', (chunk) => hash.update(chunk));
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    let lineNumber = 0;
    try {
      for await (const line of lines) {
        lineNumber++;
        if (line.trim() === '') continue;
        yield parseRecord(line, file, lineNumber);
      }
    } catch (error) {
      if (error instanceof InputError || error instanceof InfrastructureError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
        throw new InputError(`cannot read results file (${code})`, file);
      }
      throw new InfrastructureError(`reading results failed: ${(error as Error).message}`, file);
    } finally {
      lines.close();
      stream.destroy();
    }
    resolveHash(hash.digest('hex'));
  }
  return { records: records(), sha256 };
}

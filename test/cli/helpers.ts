import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { vi } from 'vitest';
import { main, type MainOptions } from '../../src/cli/main.ts';

export interface CliResult {
  code: number;
  stderr: string;
  stdout: string;
}

/** Runs the CLI in-process with stdout/stderr captured; returns the exit code and what it printed. */
export async function cli(args: string[], options?: MainOptions): Promise<CliResult> {
  let stderr = '';
  let stdout = '';
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  try {
    return { code: await main(args, options), stderr, stdout };
  } finally {
    e.mockRestore();
    o.mockRestore();
  }
}

/** The one-line error contract: a single `heatgate:` line on stderr and no stack trace. */
export function expectOneLine(result: CliResult): string {
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  if (lines.length !== 1) throw new Error(`expected one stderr line, got ${lines.length}:\n${result.stderr}`);
  if (/\n\s+at /.test(result.stderr) || /\bat .*\.ts:\d+/.test(result.stderr)) throw new Error(`stack trace on stderr:\n${result.stderr}`);
  return lines[0];
}

/** A deterministic RGB PNG; `value` fixes every pixel (a flat image) when given. */
export async function png(file: string, seed: number, options: { width?: number; height?: number; value?: number } = {}): Promise<void> {
  const { width = 20, height = 16 } = options;
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = options.value ?? (i * 37 + seed * 101) % 251;
  await mkdir(path.dirname(file), { recursive: true });
  await sharp(data, { raw: { width, height, channels: 3 } }).png().toFile(file);
}

export async function records(out: string): Promise<Record<string, unknown>[]> {
  return (await readFile(path.join(out, 'results.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

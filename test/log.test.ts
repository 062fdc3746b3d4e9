/**
 * Logs for pipelines (src/log.ts, `--log-format`): text as before, json as one object per line on stderr for
 * progress, notices and errors; no ANSI escape codes off a terminal.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { captureLog, interactive, log, logFormatFromArgv, logNotice, routeProcessWarnings, setLogFormat } from '../src/log.ts';
import { notice } from '../src/notices.ts';
import { createProgress } from '../src/pipeline/progress.ts';
import { cli } from './cli/helpers.ts';

const EXAMPLE = path.resolve('examples/underpass');

afterEach(() => setLogFormat('text'));


const jsonLines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('log lines', () => {
  it('text: heatgate-prefixed, level words for warnings and errors; ANSI codes stripped off a terminal', () => {
    const lines: string[] = [];
    const restore = captureLog((l) => lines.push(l));
    try {
      log.info('resuming');
      log.warn('\x1b[33mslow\x1b[m disk');
      log.error('bad');
    } finally {
      restore();
    }
    expect(lines).toEqual(['heatgate: resuming\n', 'heatgate: warning: slow disk\n', 'heatgate: error: bad\n']);
  });

  it('json: one object per line with time, level, msg and the fields', () => {
    setLogFormat('json');
    const lines: string[] = [];
    const restore = captureLog((l) => lines.push(l), { isTTY: true });
    try {
      log.info('2/4 images', { event: 'progress', done: 2 });
      log.error('multi\nline');
      expect(interactive()).toBe(false); // no progress bar in json, even on a terminal
    } finally {
      restore();
    }
    expect(lines.every((l) => l.endsWith('\n') && l.indexOf('\n') === l.length - 1)).toBe(true);
    const [a, b] = lines.map((l) => JSON.parse(l));
    expect(Object.keys(a)).toEqual(['time', 'level', 'msg', 'event', 'done']);
    expect(a).toMatchObject({ level: 'info', msg: '2/4 images', event: 'progress', done: 2 });
    expect(new Date(a.time).toISOString()).toBe(a.time);
    expect(b).toMatchObject({ level: 'error', msg: 'multi\nline' });
  });

  it('input notices are notice lines naming their source; json carries the notice fields as a warning', () => {
    const n = notice({ source: '--labels', file: 'l.csv', kind: 'unmatched-label-rows', count: 2, examples: ['x.png', 'y.png'], message: '2 label rows match no image' });
    const lines: string[] = [];
    const restore = captureLog((l) => lines.push(l));
    try {
      logNotice(n);
      setLogFormat('json');
      logNotice(n);
    } finally {
      restore();
    }
    expect(lines[0]).toBe('heatgate: notice: --labels l.csv: 2 label rows match no image (e.g. x.png, y.png)\n');
    expect(JSON.parse(lines[1])).toMatchObject({ level: 'warn', msg: '2 label rows match no image', event: 'notice', kind: 'unmatched-label-rows', count: 2, examples: ['x.png', 'y.png'] });
  });

  it("Node's process warnings come out as log lines, one JSON object each", async () => {
    routeProcessWarnings();
    setLogFormat('json');
    const lines: string[] = [];
    const restore = captureLog((l) => lines.push(l));
    try {
      process.emitWarning('The AWS SDK for JavaScript (v3)\nwill require node >=22.', 'NodeVersionSupportWarning');
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      restore();
    }
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ level: 'warn', msg: 'NodeVersionSupportWarning: The AWS SDK for JavaScript (v3) will require node >=22.', event: 'process-warning' }),
    ]);
  });

  it('reads --log-format from raw argv, both spellings, ignoring invalid values (left to yargs)', () => {
    expect(logFormatFromArgv(['run', '--log-format', 'json'])).toBe('json');
    expect(logFormatFromArgv(['--log-format=text', 'gate'])).toBe('text');
    expect(logFormatFromArgv(['--log-format=xml'])).toBeUndefined();
    expect(logFormatFromArgv(['run'])).toBeUndefined();
  });
});

describe('progress off a terminal', () => {
  it('reports through the log: a resume notice and a final line with the counts as fields', () => {
    setLogFormat('json');
    const lines: string[] = [];
    const restore = captureLog((l) => lines.push(l));
    try {
      const progress = createProgress('heatgate', { everySeconds: 3600 });
      progress.start(10, 4);
      progress.advance(3);
      progress.advance(3);
      progress.stop();
    } finally {
      restore();
    }
    const records = lines.map((l) => JSON.parse(l));
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ level: 'info', event: 'resume', done: 4, total: 10, msg: 'resuming, 4 of 10 images already done' });
    expect(records[1]).toMatchObject({ level: 'info', event: 'progress', done: 10, total: 10, percent: 100 });
    expect(records[1].msg).toMatch(/^10\/10 images \(100%\), [\d.]+ img\/s$/);
  });
});

describe('heatgate --log-format json', () => {
  it('explain: every stderr line is a JSON object (progress, summary); stdout stays empty', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'heatgate-jsonlog-'));
    const r = await cli(['--log-format', 'json', 'explain', '--model', path.join(EXAMPLE, 'models', 'clean.onnx'), '--images', path.join(EXAMPLE, 'images'),
      '--out', out, '--no-overlays', '--provider', 'auto']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const records = jsonLines(r.stderr);
    expect(records.every((x) => typeof x.time === 'string' && typeof x.level === 'string' && typeof x.msg === 'string')).toBe(true);
    expect(records.find((x) => x.event === 'provider')).toMatchObject({ level: 'info', provider: expect.stringMatching(/^(cpu|cuda)$/) });
    expect(records.find((x) => x.event === 'progress')).toMatchObject({ done: 48, total: 48 });
    expect(records.at(-1)).toMatchObject({ event: 'summary', processed: 48, failed: 0, method: 'gradcam' });
  });

  it('usage and input errors are JSON too, with the exit code', async () => {
    const usage = await cli(['--log-format=json', 'explain', '--model', 'm.onnx']);
    expect(usage.code).toBe(2);
    expect(jsonLines(usage.stderr)).toEqual([expect.objectContaining({ level: 'error', exitCode: 2, msg: expect.stringContaining('Missing required arguments: images, out') })]);
    const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-jsonlog-err-'));
    // A missing --model is a usage error (2); a file that is not ONNX is input data (3).
    const missing = await cli(['explain', '--log-format', 'json', '--model', path.join(dir, 'none.onnx'), '--images', dir, '--out', dir]);
    expect(missing.code).toBe(2);
    expect(jsonLines(missing.stderr)).toEqual([expect.objectContaining({ level: 'error', exitCode: 2, msg: expect.stringContaining('none.onnx') })]);
    await writeFile(path.join(dir, 'bad.onnx'), 'not an onnx model');
    await writeFile(path.join(dir, 'a.png'), await readFile('examples/underpass/images/frame_0000.png'));
    const input = await cli(['explain', '--log-format', 'json', '--model', path.join(dir, 'bad.onnx'), '--images', dir, '--out', path.join(dir, 'out')]);
    expect(input.code).toBe(3);
    expect(jsonLines(input.stderr)).toEqual([expect.objectContaining({ level: 'error', exitCode: 3, file: path.join(dir, 'bad.onnx') })]);
  });

  it('text stays the default, and an unknown format is a usage error', async () => {
    const r = await cli(['--log-format', 'xml', 'layers', 'x.onnx']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^heatgate: error: Invalid values:[\s\S]*log-format/);
  });
});

describe('heatgate --version', () => {
  it('prints the package version and exits 0', async () => {
    let printed = '';
    const c = vi.spyOn(console, 'log').mockImplementation((m) => void (printed += `${m}\n`)); // yargs prints it with console.log
    const r = await cli(['--version']).finally(() => c.mockRestore());
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(printed + r.stdout).toBe(`${(await import('../package.json', { with: { type: 'json' } })).default.version}\n`);
  });
});

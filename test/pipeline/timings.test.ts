import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { RunTimings, type TimingsReport } from '../../src/pipeline/timings.ts';
import { cli } from '../cli/helpers.ts';

const tmp = await mkdtemp(path.join(os.tmpdir(), 'heatgate-timings-'));
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function* slowSource(delays: number[]): AsyncGenerator<number> {
  for (const ms of delays) {
    await new Promise((r) => setTimeout(r, ms));
    yield ms;
  }
}

describe('RunTimings', () => {
  it('counts the time spent awaiting the next batch as input wait, and not the time the consumer holds a batch', async () => {
    const timings = new RunTimings();
    for await (const _ of timings.measureWait(slowSource([40, 40]))) await new Promise((r) => setTimeout(r, 60));
    const { inputWaitMs } = timings.report();
    expect(inputWaitMs).toBeGreaterThanOrEqual(70); // two 40 ms waits (timers may fire a little early)
    expect(inputWaitMs).toBeLessThan(120 + 50); // the 2 x 60 ms the consumer held its batches are not waits
  });

  it('counts the loop waiting for earlier batches\' analysis and writes as output wait, and reports the image outputs', async () => {
    const timings = new RunTimings();
    await timings.measureOutputWait(new Promise((r) => setTimeout(r, 40)));
    await timings.measureOutputWait(Promise.resolve());
    timings.afterSession(25);
    timings.imageOutputs({ overlaysWritten: 12, rawMapsWritten: 48, encodeMs: 300, backpressureMs: 0 });
    const report = timings.report();
    expect(report.outputWaitMs).toBeGreaterThanOrEqual(35);
    expect(report.outputWaitMs).toBeLessThan(40 + 100);
    expect(report).toMatchObject({ afterSessionMs: 25, overlaysWritten: 12, rawMapsWritten: 48, imageOutputMs: 300, imageOutputBackpressureMs: 0 });
  });

  it('samples RSS when the count of results crosses 1,000 and 10,000, and marks the first result once', () => {
    const rss = vi.spyOn(process.memoryUsage, 'rss');
    rss.mockReturnValueOnce(111).mockReturnValueOnce(222);
    const timings = new RunTimings();
    timings.resultsWritten(0);
    expect(timings.report().firstResultEpochMs).toBeNull();
    timings.resultsWritten(999);
    const first = timings.report().firstResultEpochMs;
    expect(first).not.toBeNull();
    timings.resultsWritten(8); // crosses 1,000
    timings.resultsWritten(9_000);
    timings.resultsWritten(1); // 10,008
    rss.mockRestore();
    const report = timings.report();
    expect(report.images).toBe(10_008);
    expect(report.rssAtImages).toEqual({ 1000: 111, 10000: 222 });
    expect(report.firstResultEpochMs).toBe(first);
  });
});

describe('HEATGATE_TIMINGS', () => {
  it('gets one JSON line per explained run, with the demo images counted and the first result after the process start', async () => {
    const file = path.join(tmp, 'timings.jsonl');
    vi.stubEnv('HEATGATE_TIMINGS', file);
    try {
      const before = Date.now();
      const result = await cli(['explain', '--model', 'examples/underpass/models/clean.onnx', '--images', 'examples/underpass/images', '--out', path.join(tmp, 'out'), '--no-overlays', '--quiet']);
      expect(result.code).toBe(0);
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(1);
      const report = JSON.parse(lines[0]) as TimingsReport;
      expect(report.images).toBe(48);
      expect(report.firstResultEpochMs).toBeGreaterThanOrEqual(before);
      expect(report.firstResultEpochMs).toBeLessThanOrEqual(Date.now());
      expect(report.processStartEpochMs).toBeLessThanOrEqual(before);
      expect(report.sessionMs).toBeGreaterThan(0);
      expect(report.peakRssBytes).toBeGreaterThan(report.rssAtImages[1000] ?? 0);
      expect(report.rssAtImages).toEqual({});
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('is not written when the variable is unset', async () => {
    const result = await cli(['explain', '--model', 'examples/underpass/models/clean.onnx', '--images', 'examples/underpass/images', '--out', path.join(tmp, 'out2'), '--no-overlays', '--quiet']);
    expect(result.code).toBe(0);
    await expect(readFile(path.join(tmp, 'timings.jsonl'), 'utf8').then((t) => t.trim().split('\n').length)).resolves.toBe(1);
  });
});

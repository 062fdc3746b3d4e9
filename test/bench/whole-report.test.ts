import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTargets, parseTimings, renderWholeTable, summarise, type ProcessRun, type ProcessSummary, type TargetInputs } from '../../bench/whole-report.ts';
import { extraForwardPasses } from '../../bench/whole.ts';
import { RunTimings, type TimingsReport } from '../../src/pipeline/timings.ts';

const MIB = 2 ** 20;

function timings(over: Partial<TimingsReport> = {}): TimingsReport {
  return {
    processStartEpochMs: 1_000_000,
    firstResultEpochMs: 1_000_800,
    images: 1000,
    sessionMs: 9000,
    inputWaitMs: 40,
    afterSessionMs: 500,
    outputWaitMs: 0,
    overlaysWritten: 0,
    rawMapsWritten: 0,
    imageOutputMs: 0,
    imageOutputBackpressureMs: 0,
    rssAtImages: { '1000': 300 * MIB },
    peakRssBytes: 320 * MIB,
    ...over,
  };
}

function summary(kind: ProcessSummary['kind'], model: string, over: Partial<ProcessSummary> = {}): ProcessSummary {
  return {
    kind,
    model,
    repeats: 2,
    images: 1000,
    imagesPerSecond: 100,
    timeToFirstResultMs: 1000,
    peakRssBytes: 300 * MIB,
    rssAt1kBytes: 280 * MIB,
    rssAt10kBytes: null,
    inputWaitMs: 10,
    sessionMs: 8000,
    wallMs: 10_000,
    ...over,
  };
}

const statusOf = (input: TargetInputs, starts: string) => checkTargets(input).find((t) => t.target.startsWith(starts));

describe('parseTimings', () => {
  it('reads the line heatgate itself writes (src/pipeline/timings.ts)', () => {
    const t = new RunTimings();
    t.resultsWritten(8);
    const line = JSON.stringify(t.report());
    const [report] = parseTimings(`${line}\n\n`, 't.jsonl');
    expect(report.images).toBe(8);
    expect(report.firstResultEpochMs).toBeGreaterThan(report.processStartEpochMs);
  });

  it('names the file and line of a bad line', () => {
    const good = JSON.stringify(timings());
    expect(() => parseTimings(`${good}\n{"images": 3`, 'a.jsonl')).toThrow('a.jsonl:2: not a JSON line');
    const { sessionMs: _dropped, ...noSession } = timings();
    expect(() => parseTimings(JSON.stringify(noSession), 'b.jsonl')).toThrow('b.jsonl:1: sessionMs is not a finite number');
    expect(() => parseTimings(JSON.stringify({ ...timings(), firstResultEpochMs: 'soon' }), 'c.jsonl')).toThrow('c.jsonl:1: firstResultEpochMs');
    expect(() => parseTimings(JSON.stringify({ ...timings(), rssAtImages: { 1000: 'x' } }), 'd.jsonl')).toThrow('d.jsonl:1: rssAtImages');
    expect(() => parseTimings('[1]', 'e.jsonl')).toThrow('e.jsonl:1: not a JSON object');
  });
});

describe('summarise', () => {
  const run = (wallMs: number, over: Partial<ProcessRun> = {}, t: Partial<TimingsReport> = {}): ProcessRun => ({
    kind: 'explain',
    model: 'm',
    spawnEpochMs: 999_900,
    wallMs,
    outsidePeakRssBytes: 400 * MIB,
    timings: [timings(t)],
    ...over,
  });

  it('takes medians of images/s over the wall time, and the first result from the spawn', () => {
    const s = summarise([run(10_000), run(20_000, {}, { firstResultEpochMs: 1_001_900 }), run(12_500)]);
    expect(s.imagesPerSecond).toBe(80); // 100, 50, 80 img/s
    expect(s.timeToFirstResultMs).toBe(900); // 900, 2000, 900 ms after the spawn
    expect(s.peakRssBytes).toBe(400 * MIB);
    expect(s.rssAt1kBytes).toBe(300 * MIB);
    expect(s.rssAt10kBytes).toBeNull();
    expect(s.repeats).toBe(3);
  });

  it("uses the timings' peak RSS without /usr/bin/time, and sums input wait over a run's lines", () => {
    const s = summarise([run(10_000, { outsidePeakRssBytes: null, timings: [timings({ inputWaitMs: 30, peakRssBytes: 350 * MIB }), timings({ inputWaitMs: 20, peakRssBytes: 360 * MIB })] })]);
    expect(s.peakRssBytes).toBe(360 * MIB);
    expect(s.inputWaitMs).toBe(50);
  });

  it('refuses runs without a result or of another kind', () => {
    expect(() => summarise([run(1000, {}, { firstResultEpochMs: null })])).toThrow('explain on m wrote no result');
    expect(() => summarise([run(1000), run(1000, { kind: 'run' })])).toThrow('run/m among explain/m');
  });
});

describe('checkTargets', () => {
  const base = (explain: Partial<ProcessSummary>, run: Partial<ProcessSummary> = {}): TargetInputs => ({
    whole: [summary('plain', 'resnet50'), summary('explain', 'resnet50', explain), summary('run', 'resnet50', { imagesPerSecond: 46, ...run })],
    inSession: [],
    runExtraPasses: 1,
  });

  it('explain against 0.9x plain images/s', () => {
    expect(statusOf(base({ imagesPerSecond: 90 }), 'resnet50: explain >=')?.status).toBe('met');
    expect(statusOf(base({ imagesPerSecond: 89 }), 'resnet50: explain >=')?.status).toBe('missed');
  });

  it('run against 0.9x plain / (1 + extra forwards)', () => {
    // plain 100 img/s with one extra forward: the bound is 50 img/s, the target 45.
    expect(statusOf(base({}, { imagesPerSecond: 46 }), 'resnet50: run (default policy)')).toMatchObject({ status: 'met', numbers: expect.stringContaining('0.92x') });
    expect(statusOf(base({}, { imagesPerSecond: 44 }), 'resnet50: run (default policy)')?.status).toBe('missed');
  });

  it('time to first result within plain + 1 s on resnet50, not measured without it', () => {
    expect(statusOf(base({ timeToFirstResultMs: 2000 }), 'resnet50: explain time to first')?.status).toBe('met');
    expect(statusOf(base({ timeToFirstResultMs: 2001 }), 'resnet50: explain time to first')?.status).toBe('missed');
    const other: TargetInputs = { whole: [summary('plain', 'resnet18'), summary('explain', 'resnet18')], inSession: [], runExtraPasses: 1 };
    expect(statusOf(other, 'resnet50: explain time to first')?.status).toBe('not measured');
  });

  it('peak RSS within 1.3x plain', () => {
    expect(statusOf(base({ peakRssBytes: 390 * MIB }), 'resnet50: explain peak RSS')?.status).toBe('met');
    expect(statusOf(base({ peakRssBytes: 391 * MIB }), 'resnet50: explain peak RSS')?.status).toBe('missed');
  });

  it('RSS growth from 1,000 to 10,000 images within 50 MB on the long run', () => {
    const long = (at10k: number) => ({ ...base({}), long: summary('explain', 'mobilenet_v2', { images: 10_000, rssAt1kBytes: 300 * MIB, rssAt10kBytes: at10k }) });
    expect(statusOf(long(350 * MIB), 'RSS after 10,000')?.status).toBe('met');
    expect(statusOf(long(351 * MIB), 'RSS after 10,000')).toMatchObject({ status: 'missed', numbers: expect.stringContaining('+51.0 MiB') });
    expect(statusOf(base({}), 'RSS after 10,000')?.status).toBe('not measured');
  });

  it('in-session: mobilenet_v2 batch 8 >= 0.9x, resnet ratios not below the README values less the noise allowance', () => {
    const input = (ratios: [string, number, number][]) => ({ ...base({}), inSession: ratios.map(([model, batch, ratio]) => ({ model, batch, ratio })) });
    expect(statusOf(input([['mobilenet_v2', 8, 0.9]]), 'in-session Grad-CAM')?.status).toBe('met');
    expect(statusOf(input([['mobilenet_v2', 8, 0.89], ['mobilenet_v2', 1, 0.95]]), 'in-session Grad-CAM')?.status).toBe('missed');
    expect(statusOf(input([['resnet18', 8, 0.97]]), 'in-session resnet18 batch 8')?.status).toBe('met');
    expect(statusOf(input([['resnet18', 8, 0.96]]), 'in-session resnet18 batch 8')?.status).toBe('missed');
    expect(statusOf(input([['resnet18', 8, 0.96]]), 'in-session resnet50 batch 1')?.status).toBe('not measured');
  });

  it('input wait as a share of the wall time, for heatgate only', () => {
    expect(statusOf(base({ inputWaitMs: 100 }), 'resnet50: explain waits')?.status).toBe('met');
    expect(statusOf(base({ inputWaitMs: 101 }), 'resnet50: explain waits')?.status).toBe('missed');
    expect(statusOf(base({}), 'resnet50: plain waits')).toBeUndefined();
  });
});

describe('renderWholeTable', () => {
  it('one row per process, the long run last, then a line per target', () => {
    const input: TargetInputs = {
      whole: [summary('plain', 'resnet18'), summary('explain', 'resnet18', { imagesPerSecond: 95 }), summary('run', 'resnet18', { imagesPerSecond: 40 })],
      long: summary('explain', 'resnet18', { images: 10_000, rssAt10kBytes: 290 * MIB }),
      inSession: [],
      runExtraPasses: 1,
    };
    const lines = renderWholeTable(input, checkTargets(input)).split('\n');
    expect(lines.slice(2, 6)).toEqual([
      '| resnet18 | plain | 100.0 | 1.00 | 1.00 | 300 | 280 | – | 10 (0.10 %) |',
      '| resnet18 | explain | 95.0 | 0.95 | 1.00 | 300 | 280 | – | 10 (0.10 %) |',
      '| resnet18 | run | 40.0 | 0.40 (0.80 of plain/2) | 1.00 | 300 | 280 | – | 10 (0.10 %) |',
      '| resnet18 | explain, 10000 images | 100.0 | – | 1.00 | 300 | 280 | 290 | 10 (0.10 %) |',
    ]);
    expect(lines).toContain('- missed: resnet18: run (default policy) >= 0.9x plain / (1 + 1 extra forward): 0.80x (40.0 vs 50.0 img/s)');
    expect(lines).toContain('- met: RSS after 10,000 images <= RSS after 1,000 + 50 MB: resnet18 explain: 290 MiB at 10k vs 280 MiB at 1k (+10.0 MiB)');
  });
});

describe('extraForwardPasses', () => {
  it('one occluded forward for the default policy (its occlusion-flips rule)', () => {
    expect(extraForwardPasses(readFileSync('src/gate/default-policy.yaml', 'utf8'))).toBe(1);
  });

  it('none without occlusion rules; occlusionDrop and occlusionFlip share one', () => {
    expect(extraForwardPasses('version: 1\nrules:\n  - {name: a, metric: invalidMass, max: 0.2}\n')).toBe(0);
    expect(extraForwardPasses('version: 1\nrules:\n  - {name: a, metric: occlusionDrop, max: 0.2}\n  - {name: b, metric: occlusionFlip, max: 0.1}\n')).toBe(1);
  });
});

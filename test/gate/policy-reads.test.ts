/**
 * One policy read (and one parse) per run: the file is read where the run starts and the parsed Policy is passed
 * on, so the gate cannot judge by a different text than the run analysed with (a policy edited mid-run).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type * as yaml from 'yaml';
import { buildFixture, type Fixture } from './fixture.ts';

const reads = vi.hoisted(() => ({ files: [] as string[], parses: [] as string[] }));

vi.mock('yaml', async (importOriginal) => {
  const real = await importOriginal<typeof yaml>();
  const parseDocument = ((text: string, ...rest: unknown[]) => {
    reads.parses.push(text);
    return (real.parseDocument as (...args: unknown[]) => unknown)(text, ...rest);
  }) as typeof real.parseDocument;
  return { ...real, parseDocument };
});

const { main } = await import('../../src/cli/main.ts');
const { Storage } = await import('../../src/storage/storage.ts');
const { formatLocation } = await import('../../src/storage/location.ts');
// Every input is read through Storage (local files and s3:// alike): count the reads there.
const realRead = Storage.prototype.read;
vi.spyOn(Storage.prototype, 'read').mockImplementation(function (this: InstanceType<typeof Storage>, loc) {
  reads.files.push(formatLocation(loc));
  return realRead.call(this, loc);
});
const { runGate } = await import('../../src/pipeline/run.ts');
const { describeRun } = await import('../../src/cli/commands/run.ts');

let fixture: Fixture;
let dir: string;
let policy: string;
const POLICY = 'version: 1\nminImages: 1\nerrorBudget: 0.1\nrules:\n  - {name: roi, metric: roiMass, min: 0.1}\n';

beforeAll(async () => {
  fixture = await buildFixture({ overlays: false });
  dir = mkdtempSync(path.join(tmpdir(), 'heatgate-reads-'));
  policy = path.join(dir, 'policy.yaml');
  writeFileSync(policy, POLICY);
});

function quiet<T>(fn: () => Promise<T>): Promise<T> {
  const o = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return fn().finally(() => {
    o.mockRestore();
    e.mockRestore();
  });
}

describe('one policy read per run', () => {
  it('heatgate gate reads and parses the policy file once', async () => {
    reads.files.length = 0;
    reads.parses.length = 0;
    const code = await quiet(() => main(['gate', '--results', fixture.results, '--policy', policy, '--out', path.join(dir, 'gate')]));
    expect(code).toBe(0);
    expect(reads.files.filter((f) => f === policy)).toHaveLength(1);
    expect(reads.parses.filter((t) => t === POLICY)).toHaveLength(1);
  });

  it('heatgate run reads and parses the policy file once, for the analysis and the gate', async () => {
    reads.files.length = 0;
    reads.parses.length = 0;
    const example = path.resolve('examples/underpass');
    const text = 'version: 1\nminImages: 1\nrules:\n  - {name: m, metric: invalidMass, max: 1}\n';
    const file = path.join(dir, 'run-policy.yaml');
    writeFileSync(file, text);
    const result = await quiet(() =>
      runGate({
        model: path.join(example, 'models/clean.onnx'),
        images: path.join(example, 'images'),
        invalidMasks: path.join(example, 'invalid'),
        policy: file,
        out: path.join(dir, 'run'),
        overlays: false,
        quiet: true,
      }),
    );
    expect(result.gate.verdict.verdict).toBe('pass');
    expect(reads.files.filter((f) => f === file)).toHaveLength(1);
    expect(reads.parses.filter((t) => t === text)).toHaveLength(1);
    // The pointing tolerance used is recorded: the default fraction of the 128x96 input's shorter side.
    expect(result.gate.verdict.analysis.pointingTolerance).toEqual({ fraction: 15 / 224, px: (15 / 224) * 96 });
    // The console reports the verdict's counts, also when this run processed fewer images (a resumed run).
    const v = result.gate.verdict;
    const resumed = { ...result, explained: { ...result.explained, processed: 3, resumed: v.counts.processed - 3 } };
    expect(describeRun(resumed)).toMatch(new RegExp(`^heatgate: PASS  ${v.counts.processed} images \\(${v.counts.processed - 3} resumed\\), ${v.counts.errors} errors, `));
    expect(v.counts.processed).toBe(48);
  });
});

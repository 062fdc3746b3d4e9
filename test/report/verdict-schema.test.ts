import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../../src/gate/policy.ts';
import type { InputNotice } from '../../src/notices.ts';
import { gateResults } from '../../src/report/gate-results.ts';
import schema from '../../schemas/verdict.schema.json' with { type: 'json' };
import { buildFixture, type Fixture } from '../gate/fixture.ts';

const validate = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(schema);

let fixture: Fixture;
let dir: string;
beforeAll(async () => {
  fixture = await buildFixture({ overlays: false });
  dir = mkdtempSync(join(tmpdir(), 'heatgate-verdict-schema-'));
});

const notices: InputNotice[] = [
  { source: '--labels', file: 'labels.csv', kind: 'unmatched-label-rows', count: 3, examples: ['a.png', 'b.png', 'c.png'], message: '3 label rows match no image' },
];

/** Runs the gate and returns verdict.json as written, parsed. */
async function verdictFile(name: string, options: { policy?: string; baseline?: boolean; notices?: InputNotice[] } = {}): Promise<unknown> {
  const out = join(dir, name);
  let policy;
  if (options.policy) {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, options.policy);
    policy = loadPolicy(file);
  }
  await gateResults({
    results: fixture.results,
    outDir: out,
    ...(policy && { policy }),
    ...(options.baseline && { baselineResults: fixture.baseline }),
    ...(options.notices && { notices: options.notices }),
    fingerprints: { model: 'a'.repeat(64), data: null },
    inputShorterSide: 224,
  });
  return JSON.parse(readFileSync(join(out, 'verdict.json'), 'utf8'));
}

function expectValid(data: unknown): void {
  const ok = validate(data);
  expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
  expect(ok).toBe(true);
}

describe('schemas/verdict.schema.json describes the verdict.json heatgate writes', () => {
  it('a passing verdict', async () => {
    const v = (await verdictFile('pass', { policy: 'version: 1\nerrorBudget: 0.1\nrules:\n  - {name: roi, metric: roiMass, min: 0.5}\n' })) as { verdict: string };
    expect(v.verdict).toBe('pass');
    expectValid(v);
  });

  it('a failing verdict with a baseline, per-class results and worst images', async () => {
    const v = (await verdictFile('fail', {
      baseline: true,
      policy:
        'version: 1\nrules:\n  - {name: im, metric: invalidMass, max: 0.2, class: each}\nbaseline:\n  - {name: b, metric: invalidMass, maxIncrease: 0.02}\n',
    })) as { verdict: string; worstImages: unknown; galleries: { rule: string }[]; fingerprints: { baselineResults?: string } };
    expect(v.verdict).toBe('fail');
    expect(v.worstImages).not.toBeNull();
    // One gallery per failed result (the per-class rule's and the baseline rule's), the first one also as worstImages.
    expect(v.galleries.length).toBeGreaterThan(1);
    expect(v.galleries[0]).toEqual(v.worstImages);
    expect(v.fingerprints.baselineResults).toMatch(/^[0-9a-f]{64}$/);
    expectValid(v);
  });

  it('a verdict with skipped rules, notices and the default policy', async () => {
    const v = (await verdictFile('skipped', { notices })) as { skipped: unknown[]; notices: unknown[]; analysis: unknown };
    expect(v.skipped).toEqual([{ rule: 'invalid-mass-regression', reason: expect.stringMatching(/^skipped \(ifNoData: skip\): no baseline given/) }]);
    expect(v.notices).toEqual(notices);
    expect(v.analysis).toEqual({ pointingTolerance: { fraction: 15 / 224, px: 15 } });
    expectValid(v);
  });

  it('rejects what a downstream step must not get: a rule without coverage, an unknown verdict', async () => {
    const v = (await verdictFile('neg')) as { rules: Record<string, unknown>[]; verdict: string };
    const withoutCoverage = structuredClone(v);
    delete withoutCoverage.rules[0].coverage;
    expect(validate(withoutCoverage)).toBe(false);
    expect(validate({ ...v, verdict: 'maybe' })).toBe(false);
    const { galleries, ...withoutGalleries } = v as typeof v & { galleries: Record<string, unknown>[] };
    expect(galleries.length).toBeGreaterThan(0);
    expect(validate(withoutGalleries)).toBe(false);
    expect(validate({ ...v, galleries: [{ ...galleries[0], order: 'middle' }] })).toBe(false);
  });
});

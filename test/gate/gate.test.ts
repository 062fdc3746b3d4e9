import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { gateCommand } from '../../src/cli/commands/gate.ts';
import { main } from '../../src/cli/main.ts';
import { ConfigError } from '../../src/errors.ts';
import { gateResults } from '../../src/report/gate-results.ts';
import type { Verdict } from '../../src/gate/verdict.ts';
import { buildFixture, type Fixture } from './fixture.ts';

let fixture: Fixture;
let dir: string;
beforeAll(async () => {
  fixture = await buildFixture({ overlays: false });
  dir = mkdtempSync(join(tmpdir(), 'heatgate-cli-'));
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Runs main() with stdout/stderr captured. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

afterEach(() => vi.restoreAllMocks());

const passing = () => file('pass.yaml', 'version: 1\nminImages: 5\nerrorBudget: 0.1\nrules:\n  - {name: roi, metric: roiMass, min: 0.5}\n');
const readVerdict = (out: string) => JSON.parse(readFileSync(join(out, 'verdict.json'), 'utf8')) as Verdict;

describe('gateResults with the default policy', () => {
  it('fails on the fixture for the reasons its numbers give, and fingerprints the inputs', async () => {
    const out = join(dir, 'default');
    const { verdict } = await gateResults({
      results: fixture.results,
      baselineResults: fixture.baseline,
      outDir: out,
      fingerprints: { model: 'a'.repeat(64) },
    });
    // Independent recomputation from the fixture records.
    const processed = fixture.records.filter((r) => !r.error);
    const im = processed.map((r) => r.metrics!.invalidMass as number);
    const meanIm = im.reduce((a, b) => a + b, 0) / im.length;
    const acc = processed.filter((r) => r.metrics!.correct === 1).length / processed.length;
    expect(verdict.counts).toEqual({ images: 30, processed: 28, errors: 2, failedImages: im.filter((v) => v > 0.5).length });
    const byName = Object.fromEntries(verdict.rules.map((r) => [r.name, r]));
    expect(byName['mean-invalid-mass'].measured).toBeCloseTo(meanIm, 12);
    // Known from the fixture's construction (invalidMass = ((37 i mod 100) / 100) x 0.6 or 0.35, i = 0..29 without
    // 7 and 19): the 28 values sum to 6.673, mean 0.23832 > 0.2.
    expect(meanIm).toBeCloseTo(6.673 / 28, 12);
    expect(byName['mean-invalid-mass']).toMatchObject({ outcome: 'fail', computed: 28, coverage: 1 });
    // 2 of 28 above 0.5 (i = 5: 0.51, i = 27: 0.594): 2/28 = 7.1 % <= 10 %.
    expect(byName['images-mostly-invalid']).toMatchObject({ outcome: 'pass', measured: 2 / 28 });
    // Every fifth image (i = 0, 5, ..., 25: 6 images) has the wrong label: 22 / 28 = 78.6 % < 80 %.
    expect(byName.accuracy.measured).toBeCloseTo(acc, 12);
    expect(byName.accuracy).toMatchObject({ outcome: 'fail', measured: 22 / 28 });
    // Occlusion flips at i = 0, 9, 18, 27: 4 / 28 > 10 %.
    expect(byName['occlusion-flips']).toMatchObject({ outcome: 'fail', measured: 4 / 28 });
    expect(byName['invalid-mass-regression'].outcome).toBe('fail'); // baseline is 0.7x the invalid mass
    expect(verdict.skipped).toEqual([]);
    expect(verdict.notices).toEqual([]);
    expect(verdict.checks[1]).toMatchObject({ name: 'errorBudget', measured: 2 / 30, outcome: 'fail' });
    expect(verdict.verdict).toBe('fail');
    expect(verdict.fingerprints).toMatchObject({
      model: 'a'.repeat(64),
      baseline: null,
      data: null,
      results: createHash('sha256').update(readFileSync(fixture.results)).digest('hex'),
      baselineResults: createHash('sha256').update(readFileSync(fixture.baseline)).digest('hex'),
    });
    expect(verdict.policy.file).toBe('default');
    expect(readVerdict(out).verdict).toBe('fail');
  });

  it('reports unknown metrics in the policy only after seeing the data', async () => {
    const policy = file('unknown.yaml', 'version: 1\nrules:\n  - {name: x, metric: invalidMas, max: 1}\n  - {name: y, metric: sparseness, max: 1}\n');
    const error = await gateResults({ results: fixture.results, policy, outDir: join(dir, 'u') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/unknown\.yaml: rules\[0\]\.metric: unknown metric "invalidMas" \(known: .*invalidMass/);
  });
});

describe('heatgate gate (CLI)', () => {
  it('exits 0 when the gate passes', async () => {
    const out = join(dir, 'p');
    const { code, stdout } = await run(['gate', '--results', fixture.results, '--policy', passing(), '--out', out]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^heatgate gate: PASS \(1 passed, 0 failed, 0 warned, 0 skipped\) -> .*verdict\.json\n$/);
    expect(readVerdict(out).verdict).toBe('pass');
  });

  it('exits 1 when the gate fails, and 0 with --no-fail (verdict.json still says fail)', async () => {
    const failedRun = await run(['gate', '--results', fixture.results, '--out', join(dir, 'f1')]);
    expect(failedRun.code).toBe(1);
    expect(failedRun.stdout).toContain('  - mean-invalid-mass: mean invalidMass = ');
    const noFail = await run(['gate', '--results', fixture.results, '--out', join(dir, 'f2'), '--no-fail']);
    expect(noFail.code).toBe(0);
    expect(readVerdict(join(dir, 'f2')).verdict).toBe('fail');
  });

  it('re-gates into one gallery per failed or warned rule, each with the overlays its records name', async () => {
    const withOverlays = await buildFixture();
    const policy = file(
      'galleries.yaml',
      'version: 1\nerrorBudget: 0.1\nrules:\n  - {name: im, metric: invalidMass, max: 0.1}\n  - {name: roi, metric: roiMass, min: 0.95, severity: warn}\n' +
        '  - {name: spread, metric: sparseness, max: 1}\n',
    );
    const { code } = await run(['gate', '--results', withOverlays.results, '--policy', policy, '--out', withOverlays.outDir]);
    expect(code).toBe(1);
    const verdict = readVerdict(withOverlays.outDir);
    expect(verdict.galleries.map((g) => [g.rule, g.metric, g.order, g.images.length])).toEqual([
      ['im', 'invalidMass', 'highest', 12],
      ['roi', 'roiMass', 'lowest', 12],
    ]);
    // Independently: the 12 highest invalidMass of the processed fixture records, ties to the earlier image.
    const ranked = withOverlays.records.filter((r) => !r.error).map((r, i) => ({ image: r.image, v: r.metrics!.invalidMass as number, i }));
    ranked.sort((a, b) => b.v - a.v || a.i - b.i);
    expect(verdict.galleries[0].images.map((r) => r.image)).toEqual(ranked.slice(0, 12).map((r) => r.image));
    expect(verdict.galleries.flatMap((g) => g.images).every((r) => r.overlay === `overlays/${r.image}`)).toBe(true);
    const html = readFileSync(join(withOverlays.outDir, 'report.html'), 'utf8');
    const sections = [...html.matchAll(/<section id="gallery[^"]*" class="gallery-section">([\s\S]*?)<\/section>/g)].map((m) => m[1]);
    expect(sections.map((s) => s.match(/data:image\/jpeg;base64/g)?.length)).toEqual([12, 12]);
    const md = readFileSync(join(withOverlays.outDir, 'summary.md'), 'utf8');
    expect(md.match(/^## Worst images .*$/gm)).toEqual([
      '## Worst images behind the failing rule im (highest invalidMass)',
      '## Worst images behind the warning roi (lowest roiMass)',
    ]);
  });

  it('uses --baseline-results for baseline rules', async () => {
    const policy = file('b.yaml', 'version: 1\nerrorBudget: 0.1\nbaseline:\n  - {name: b, metric: invalidMass, maxIncrease: 0.5}\n');
    const { code } = await run(['gate', '--results', fixture.results, '--baseline-results', fixture.baseline, '--policy', policy, '--out', join(dir, 'b')]);
    expect(code).toBe(0);
    expect(readVerdict(join(dir, 'b')).rules[0]).toMatchObject({ outcome: 'pass', baseline: expect.any(Number) });
  });

  it('exits 2 with every policy error on stderr, before reading the results', async () => {
    const policy = file('bad.yaml', 'version: 1\nrules:\n  - {name: r, metric: invalidMass, max: "0.2", severity: fatal}\n');
    const { code, stderr } = await run(['gate', '--results', fixture.results, '--policy', policy, '--out', join(dir, 'x')]);
    expect(code).toBe(2);
    expect(existsSync(join(dir, 'x'))).toBe(false);
    expect(stderr).toContain(`${policy}: rules[0].max: expected number, got string "0.2" (line 3)`);
    expect(stderr).toContain(`${policy}: rules[0].severity: expected one of "fail", "warn", got string "fatal" (line 3)`);
  });

  it('fails closed when the masks are missing: a shortcut model does not pass on no evidence', async () => {
    // The records of a run whose --invalid-masks folder was misspelled: invalidMass and occlusionFlip are null.
    const lines = readFileSync(fixture.results, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const noMasks = lines.map((r) => (r.metrics ? { ...r, metrics: { ...(r.metrics as object), invalidMass: null, invalidArea: null, occlusionFlip: null, correct: 1 } } : r));
    const results = file('no-masks.jsonl', noMasks.map((r) => JSON.stringify(r)).join('\n'));
    const policy = file('budget.yaml', readFileSync('src/gate/default-policy.yaml', 'utf8').replace('errorBudget: 0.05', 'errorBudget: 0.1'));
    const { code, stdout } = await run(['gate', '--results', results, '--policy', policy, '--out', join(dir, 'nm')]);
    expect(code).toBe(1);
    const v = readVerdict(join(dir, 'nm'));
    const byName = Object.fromEntries(v.rules.map((r) => [r.name, r]));
    for (const name of ['mean-invalid-mass', 'images-mostly-invalid', 'occlusion-flips']) {
      expect(byName[name].outcome, name).toBe('fail');
      expect(byName[name].message).toMatch(/^no data: .* could not be computed for any of the 28 images; .* needs invalid-pixel regions: --invalid-masks, --coco with regions\.coco\.invalid, or regions\.static with role invalid$/);
    }
    expect(byName.accuracy.outcome).toBe('pass');
    // The baseline rule is skipped on purpose (no --baseline-results): listed with its reason, on the console too.
    expect(v.skipped).toEqual([{ rule: 'invalid-mass-regression', reason: expect.stringContaining('no baseline given') }]);
    expect(stdout).toContain('  skipped invalid-mass-regression: skipped (ifNoData: skip): no baseline given');
    expect(stdout).toContain('  - mean-invalid-mass: no data: invalidMass could not be computed');
  });

  it('exits 2 naming the file on a YAML alias bomb, a policy over 1 MiB, or a broken JSON policy', async () => {
    const bomb = ['version: 1', 'description: &a0 "lol"'];
    for (let i = 1; i < 10; i++) bomb.push(`x${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
    for (const policy of [file('bomb.yaml', bomb.join('\n')), file('huge.yaml', `version: 1\ndescription: "${'x'.repeat(1 << 20)}"\n`), file('broken.json', '{"version": 1,}')]) {
      const { code, stderr } = await run(['gate', '--results', fixture.results, '--policy', policy, '--out', join(dir, 'bad-policy')]);
      expect(code, policy).toBe(2);
      expect(stderr).toMatch(new RegExp(`^heatgate: error: ${policy.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\((syntax|file)\\): `));
      expect(stderr).not.toContain('internal error');
      expect(stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('exits 2 when a required flag is missing', async () => {
    const { code, stderr } = await run(['gate', '--out', join(dir, 'x')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/results/);
  });

  it('exits 3 on a malformed results line, naming file and line', async () => {
    const lines = readFileSync(fixture.results, 'utf8').split('\n');
    lines[4] = '{"image": "a.png", "metrics": {"invalidMass": "high"}}';
    const results = file('bad.jsonl', lines.join('\n'));
    const { code, stderr } = await run(['gate', '--results', results, '--out', join(dir, 'y')]);
    expect(code).toBe(3);
    expect(stderr).toContain(`${results}: line 5: metric "invalidMass" must be a finite number or null, got "high"`);
  });

  it('the handler throws typed errors that main maps to exit codes', async () => {
    const error = await gateCommand.handler({ results: join(dir, 'nope.jsonl'), out: join(dir, 'z'), fail: true, _: [], $0: 'heatgate' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError); // a results file that does not exist: exit 2 (issue 7)
    expect((error as ConfigError).exitCode).toBe(2);
    expect((error as ConfigError).message).toBe(`--results ${join(dir, 'nope.jsonl')}: no such file`);
  });

  it('parses the documented flags', () => {
    const args = gateCommand
      .builder(yargs([]))
      .parseSync(['--results', 'r.jsonl', '--policy', 'p.yaml', '--baseline-results', 'b.jsonl', '--out', 'o', '--no-fail']);
    expect(args).toMatchObject({ results: 'r.jsonl', policy: 'p.yaml', baselineResults: 'b.jsonl', out: 'o', fail: false });
    expect(gateCommand.builder(yargs([])).parseSync(['--results', 'r', '--out', 'o']).fail).toBe(true);
  });
});

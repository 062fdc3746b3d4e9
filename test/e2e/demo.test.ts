/**
 * The paper's scenario end to end (examples/underpass, built by scripts/demo/): `heatgate demo` (= npm start) passes the
 * clean model and fails the shortcut model for the right reasons; the same verdicts come from COCO annotations and from
 * a fixed-camera region declared in a policy instead of mask folders.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { parsePolicy } from '../../src/gate/policy.ts';
import type { Verdict } from '../../src/gate/verdict.ts';

const EXAMPLE = path.resolve('examples/underpass');
let out: string;
let printed = '';
let code = -1;

async function verdict(dir: string): Promise<Verdict> {
  return JSON.parse(await readFile(path.join(dir, 'verdict.json'), 'utf8')) as Verdict;
}

function outcome(v: Verdict, rule: string) {
  return v.rules.find((r) => r.name === rule);
}

async function quietMain(args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((stdout += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await main(args), stdout };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

beforeAll(async () => {
  out = await mkdtemp(path.join(tmpdir(), 'heatgate-demo-'));
  ({ code, stdout: printed } = await quietMain(['demo', '--out', out]));
});

describe('heatgate demo (npm start)', () => {
  it('passes the clean model and fails the accurate shortcut model, and exits 0 because that is what it shows', async () => {
    expect(code).toBe(0);
    const clean = await verdict(path.join(out, 'clean'));
    const shortcut = await verdict(path.join(out, 'shortcut'));
    expect(clean.verdict).toBe('pass');
    expect(shortcut.verdict).toBe('fail');
    // Both are accurate: accuracy is not what fails.
    expect(outcome(clean, 'accuracy')?.measured).toBeGreaterThanOrEqual(0.95);
    expect(outcome(shortcut, 'accuracy')).toMatchObject({ outcome: 'pass' });
    expect(outcome(shortcut, 'accuracy')!.measured).toBeGreaterThanOrEqual(0.95);
    // The shortcut model looks at the timestamp box and depends on it.
    expect(outcome(clean, 'mean-invalid-mass')!.measured).toBeLessThan(0.05);
    expect(outcome(shortcut, 'mean-invalid-mass')).toMatchObject({ outcome: 'fail' });
    expect(outcome(shortcut, 'mean-invalid-mass')!.measured).toBeGreaterThan(0.3);
    expect(outcome(shortcut, 'occlusion-flips')).toMatchObject({ outcome: 'fail' });
    expect(outcome(shortcut, 'invalid-mass-regression')).toMatchObject({ outcome: 'fail' });
    expect(outcome(clean, 'occlusion-flips')!.measured).toBeLessThan(0.1);
  });

  it('says why: which rule, which images, where the report is', () => {
    expect(printed).toMatch(/FAIL mean-invalid-mass: invalidMass mean = 0\.4\d+ \(<= 0\.2\)/);
    expect(printed).toMatch(/worst images by invalidMass \([^)]+\): frame_\d{4}\.png/);
    expect(printed).toContain(path.join(out, 'shortcut', 'report.html'));
    expect(printed).toContain('As expected');
  });

  it('writes the Kubeflow metrics, summary and report for both models', async () => {
    for (const model of ['clean', 'shortcut']) {
      const kfp = JSON.parse(await readFile(path.join(out, model, 'mlpipeline-metrics.json'), 'utf8')) as { metrics: { name: string; numberValue: number }[] };
      expect(kfp.metrics.length).toBeGreaterThan(3);
      expect(kfp.metrics.every((m) => /^[a-zA-Z]([-_a-zA-Z0-9]{0,62}[a-zA-Z0-9])?$/.test(m.name))).toBe(true);
      expect(await readFile(path.join(out, model, 'report.html'), 'utf8')).toContain('<html');
    }
    expect(await readFile(path.join(out, 'shortcut', 'summary.md'), 'utf8')).toMatch(/mean-invalid-mass/);
  });
});

describe('the demo report shows faithfulness', () => {
  const FAITHFUL_RULES = ['map-beats-random-deletion', 'map-beats-random-insertion', 'road-most-relevant-hurts-more'];
  const FAITHFUL_METRICS = ['deletionAuc', 'insertionAuc', 'deletionVsRandom', 'insertionVsRandom', 'roadMorf', 'roadLerf', 'roadCombined'];

  it('the demo policy is the default policy plus faithfulness warnings, so the verdicts stay the default policy\'s', async () => {
    const demo = parsePolicy(await readFile(path.join(EXAMPLE, 'demo-policy.yaml'), 'utf8'), 'demo-policy.yaml');
    const base = parsePolicy(await readFile('src/gate/default-policy.yaml', 'utf8'), 'default-policy.yaml');
    // Everything but where in the file a rule stands.
    const rule = ({ location, ...r }: { location?: unknown }) => (void location, r);
    expect(demo.rules.slice(0, base.rules.length).map(rule)).toEqual(base.rules.map(rule));
    expect(demo.baseline.map(rule)).toEqual(base.baseline.map(rule));
    expect([demo.minImages, demo.errorBudget]).toEqual([base.minImages, base.errorBudget]);
    expect(demo.rules.slice(base.rules.length).map((r) => [r.name, r.severity])).toEqual(FAITHFUL_RULES.map((n) => [n, 'warn']));
  });

  it('both models: finite faithfulness numbers on the sampled frames, in verdict.json, summary.md and report.html with the curves', async () => {
    for (const model of ['clean', 'shortcut']) {
      const dir = path.join(out, model);
      const v = await verdict(dir);
      for (const name of FAITHFUL_RULES) {
        const rule = outcome(v, name)!;
        expect(rule.outcome, `${model} ${name}`).toBe('pass'); // both models' maps beat a random order
        expect(Number.isFinite(rule.measured)).toBe(true);
        expect(rule.computed).toBe(4);
      }
      const rows = (await readFile(path.join(dir, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
      const sampled = rows.filter((r) => r.metrics.deletionAuc !== null);
      expect(sampled.map((r) => r.image)).toEqual(['frame_0006.png', 'frame_0018.png', 'frame_0030.png', 'frame_0042.png']);
      for (const r of sampled) for (const m of FAITHFUL_METRICS) expect(Number.isFinite(r.metrics[m]), `${model} ${r.image} ${m}`).toBe(true);
      const summary = await readFile(path.join(dir, 'summary.md'), 'utf8');
      for (const name of FAITHFUL_RULES) expect(summary).toMatch(new RegExp(`\\| pass \\| ${name} \\| .*\\| -?\\d\\.\\d+ \\| .*4 of 48`));
      const html = await readFile(path.join(dir, 'report.html'), 'utf8');
      const section = html.slice(html.indexOf('<section id="faithfulness">'), html.indexOf('</section>', html.indexOf('<section id="faithfulness">')));
      expect(section).toContain('<svg');
      expect(section).toMatch(/worst.*deletionAuc \d\.\d+/);
      for (const m of FAITHFUL_METRICS) expect(section).toMatch(new RegExp(`${m}</td><td class="num">-?\\d\\.\\d+</td>`));
    }
    // The baseline model's faithfulness is read by no rule: not computed.
    const baseline = (await readFile(path.join(out, 'shortcut', 'baseline', 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(baseline.every((r) => !('deletionAuc' in r.metrics))).toBe(true);
  });
});

describe('the same gate from other region sources', () => {
  it('COCO annotations with the policy mapping categories to roles give the same verdicts, and the labels', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-coco-'));
    const policy = path.join(dir, 'policy.yaml');
    const base = await readFile('src/gate/default-policy.yaml', 'utf8');
    await writeFile(policy, `${base}\nregions:\n  coco:\n    roi: [pedestrian]\n    invalid: [timestamp]\n`);
    const run = (model: string) =>
      quietMain(['run', '--model', path.join(EXAMPLE, 'models', `${model}.onnx`), '--images', path.join(EXAMPLE, 'images'), '--coco-empty-class', 'empty',
        '--coco', path.join(EXAMPLE, 'annotations.json'), '--policy', policy, '--out', path.join(dir, model), '--quiet', '--no-overlays']);
    expect((await run('clean')).code).toBe(0);
    expect((await run('shortcut')).code).toBe(1);
    expect(outcome(await verdict(path.join(dir, 'shortcut')), 'mean-invalid-mass')!.measured).toBeGreaterThan(0.3);
    // Labels from COCO (pedestrian annotated, else "empty") agree with labels.csv.
    const csv = new Map((await readFile(path.join(EXAMPLE, 'labels.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(',') as [string, string]));
    const rows = (await readFile(path.join(dir, 'clean', 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.label)).toEqual(rows.map((r) => Number(csv.get(r.image))));
    expect(outcome(await verdict(path.join(dir, 'clean')), 'accuracy')!.measured).toBe(1);
  });

  it('a fixed-camera box in the policy (fractions of the frame) works without any mask files', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-static-'));
    const policy = path.join(dir, 'policy.yaml');
    const base = await readFile('src/gate/default-policy.yaml', 'utf8');
    // The timestamp box: x < 96, y < 11 of 128x96.
    await writeFile(policy, `${base}\nregions:\n  static:\n    - {name: timestamp, role: invalid, box: [0, 0, 0.75, 0.1146], units: fraction}\n`);
    const r = await quietMain(['run', '--model', path.join(EXAMPLE, 'models', 'shortcut.onnx'), '--images', path.join(EXAMPLE, 'images'),
      '--policy', policy, '--out', path.join(dir, 'out'), '--quiet', '--no-overlays']);
    expect(r.code).toBe(1);
    const v = await verdict(path.join(dir, 'out'));
    expect(outcome(v, 'mean-invalid-mass')!.measured).toBeGreaterThan(0.3);
    // No labels given: the accuracy rule fails closed and says where labels come from.
    expect(outcome(v, 'accuracy')).toMatchObject({ outcome: 'fail', message: expect.stringContaining('--labels, or --coco') });
  });

  it('a --coco run whose policy names no category roles fails with exit 2 and says what to add', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-coco-bad-'));
    let stderr = '';
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
    const c = await main(['run', '--model', path.join(EXAMPLE, 'models', 'clean.onnx'), '--images', path.join(EXAMPLE, 'images'),
      '--coco', path.join(EXAMPLE, 'annotations.json'), '--out', dir, '--quiet']).finally(() => e.mockRestore());
    expect(c).toBe(2);
    expect(stderr).toMatch(/regions: \{coco: \{roi/);
  });
});

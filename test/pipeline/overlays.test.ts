/**
 * --overlays none|worst|all: which images get an overlay PNG, the results.jsonl `overlay` field, and the report
 * gallery of `run` rendered after the gate from the kept raw maps.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../src/gate/aggregator.ts';
import type { Policy } from '../../src/gate/policy.ts';
import type { ResultRecord } from '../../src/gate/records.ts';
import { GalleryCandidates, sampleImages } from '../../src/pipeline/image-outputs.ts';
import { cli, expectOneLine } from '../cli/helpers.ts';

const EXAMPLE = path.resolve('examples/underpass');
const explainArgs = (out: string, ...extra: string[]) => [
  'explain', '--model', path.join(EXAMPLE, 'models/clean.onnx'), '--images', path.join(EXAMPLE, 'images'), '--out', out, '--quiet', ...extra,
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'heatgate-overlays-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function records(out: string): Promise<ResultRecord[]> {
  return (await readFile(path.join(out, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as ResultRecord);
}

async function overlayFiles(out: string): Promise<string[]> {
  return (await readdir(path.join(out, 'overlays')).catch(() => [] as string[])).sort();
}

describe('explain --overlays', () => {
  it('worst (the default): overlays for a sample of --gallery-size images only, the same sample on every run', async () => {
    const out = path.join(dir, 'sample');
    const result = await cli(explainArgs(out, '--gallery-size', '5'));
    expect(result.code, result.stderr).toBe(0);
    const rows = await records(out);
    expect(rows).toHaveLength(48);
    const withOverlay = rows.filter((r) => r.overlay !== undefined);
    expect(withOverlay).toHaveLength(5);
    // The field names the file that is there, and only those images have one.
    expect(withOverlay.map((r) => `${r.overlay}`).sort()).toEqual((await overlayFiles(out)).map((f) => `overlays/${f}`));
    const again = path.join(dir, 'sample-again');
    expect((await cli(explainArgs(again, '--gallery-size', '5', '--batch', '3'))).code).toBe(0);
    expect(await overlayFiles(again)).toEqual(await overlayFiles(out));
  }, 60_000);

  it('all: every image; none and --no-overlays: no overlay and no overlay field', async () => {
    const all = path.join(dir, 'all');
    expect((await cli(explainArgs(all, '--overlays', 'all'))).code).toBe(0);
    expect(await overlayFiles(all)).toHaveLength(48);
    expect((await records(all)).every((r) => r.overlay === `overlays/${r.image}.png`)).toBe(true);
    for (const flags of [['--overlays', 'none'], ['--no-overlays']]) {
      const out = path.join(dir, flags.join(''));
      const result = await cli(explainArgs(out, ...flags));
      expect(result.code, result.stderr).toBe(0);
      expect(await overlayFiles(out)).toEqual([]);
      expect((await records(out)).some((r) => 'overlay' in r)).toBe(false);
    }
  }, 90_000);

  it('an unknown mode or a bad --gallery-size is exit 2 with one line naming the flag, before any output', async () => {
    for (const [flags, message] of [
      [['--overlays', 'some'], /--overlays must be one of none, worst, all/],
      [['--gallery-size', '-1'], /--gallery-size must be a non-negative integer/],
    ] as const) {
      const out = path.join(dir, `bad${flags[1]}`);
      const result = await cli(explainArgs(out, ...flags));
      expect(result.code).toBe(2);
      expect(expectOneLine(result)).toMatch(message);
      await expect(readdir(out)).rejects.toThrow();
    }
  });
});

describe('run --overlays worst', () => {
  it('renders only the gallery: the verdict\'s worst images get overlays (outlined regions), the report embeds them', async () => {
    const out = path.join(dir, 'run-worst');
    const run = (to: string, ...extra: string[]) => cli([
      'run', '--model', path.join(EXAMPLE, 'models/shortcut.onnx'), '--images', path.join(EXAMPLE, 'images'), '--labels', path.join(EXAMPLE, 'labels.csv'),
      '--invalid-masks', path.join(EXAMPLE, 'invalid'), '--roi-masks', path.join(EXAMPLE, 'roi'), '--out', to, '--quiet', '--gallery-size', '4', ...extra,
    ]);
    const result = await run(out);
    expect(result.code, result.stderr).toBe(1); // the shortcut model fails the gate
    type Gallery = { rule: string; images: { image: string; overlay?: string }[] };
    const verdict = JSON.parse(await readFile(path.join(out, 'verdict.json'), 'utf8')) as { worstImages: Gallery; galleries: Gallery[] };
    expect(verdict.worstImages.rule).toBe('mean-invalid-mass');
    // Every gallery (one per failed rule of the default policy) has its 4 images; the overlays are their union.
    const worst = verdict.galleries.flatMap((g) => g.images);
    expect(verdict.galleries.map((g) => g.images.length)).toEqual(verdict.galleries.map(() => 4));
    expect(worst.map((w) => w.overlay)).toEqual(worst.map((w) => `overlays/${w.image}.png`));
    expect(await overlayFiles(out)).toEqual([...new Set(worst.map((w) => `${w.image}.png`))].sort());
    // results.jsonl was complete before the gate picked: no line claims an overlay.
    expect((await records(out)).some((r) => 'overlay' in r)).toBe(false);
    const html = await readFile(path.join(out, 'report.html'), 'utf8');
    expect(html.match(/data:image\/jpeg;base64/g)).toHaveLength(worst.length);
    expect(html).not.toContain('no overlay recorded');
    // The same pictures, region outlines included, as the overlays written while streaming with --overlays all.
    const all = path.join(dir, 'run-all');
    expect((await run(all, '--overlays', 'all')).code).toBe(1);
    for (const w of worst) expect(await readFile(path.join(out, w.overlay!)), w.image).toEqual(await readFile(path.join(all, w.overlay!)));
  }, 90_000);
});

describe('run --overlays worst: one gallery per failed or warned rule', () => {
  const run = (model: string, to: string, policy: string) => cli([
    'run', '--model', path.join(EXAMPLE, `models/${model}.onnx`), '--images', path.join(EXAMPLE, 'images'),
    '--invalid-masks', path.join(EXAMPLE, 'invalid'), '--policy', policy, '--out', to, '--quiet', '--gallery-size', '3',
  ]);
  interface Gallery { rule: string; order: string; images: { image: string; overlay?: string }[] }
  const verdictOf = async (out: string) =>
    JSON.parse(await readFile(path.join(out, 'verdict.json'), 'utf8')) as { verdict: string; galleries: Gallery[]; worstImages: Gallery };
  /** Writes the policy and runs `model` with it into a folder of the same name. */
  const gate = async (name: string, model: string, policyYaml: string) => {
    const policy = path.join(dir, `${name}.yaml`);
    await writeFile(policy, policyYaml);
    const out = path.join(dir, name);
    const result = await run(model, out, policy);
    return { result, out };
  };
  const sectionsOf = async (out: string) =>
    [...(await readFile(path.join(out, 'report.html'), 'utf8')).matchAll(/<section id="gallery[^"]*" class="gallery-section">([\s\S]*?)<\/section>/g)].map((m) => m[1]);

  it('two failing rules: two galleries, every image of both with its overlay, each rendered once; two report sections and tables', async () => {
    const { result, out } = await gate('two-failing', 'shortcut',
      'version: 1\nrules:\n  - {name: mean-invalid-mass, metric: invalidMass, max: 0.2}\n  - {name: concentrated, metric: entropy, max: 0.5}\n');
    expect(result.code, result.stderr).toBe(1);
    const verdict = await verdictOf(out);
    expect(verdict.galleries.map((g) => [g.rule, g.order, g.images.length])).toEqual([
      ['mean-invalid-mass', 'highest', 3],
      ['concentrated', 'highest', 3],
    ]);
    expect(verdict.worstImages).toEqual(verdict.galleries[0]);
    const refs = verdict.galleries.flatMap((g) => g.images);
    expect(refs.map((r) => r.overlay)).toEqual(refs.map((r) => `overlays/${r.image}.png`));
    const union = [...new Set(refs.map((r) => r.image))];
    expect(union.length).toBeGreaterThan(3); // the second gallery brings images of its own
    expect(await overlayFiles(out)).toEqual(union.map((image) => `${image}.png`).sort());
    const sections = await sectionsOf(out);
    expect(sections.map((s) => /<span class="mono">([^<]+)<\/span>/.exec(s)?.[1])).toEqual(['mean-invalid-mass', 'concentrated']);
    for (const section of sections) expect(section.match(/data:image\/jpeg;base64/g)).toHaveLength(3);
    const md = await readFile(path.join(out, 'summary.md'), 'utf8');
    expect(md.match(/^## Worst images behind the failing rule (\S+)/gm)).toEqual([
      '## Worst images behind the failing rule mean-invalid-mass',
      '## Worst images behind the failing rule concentrated',
    ]);
  }, 90_000);

  it('a passing run: one gallery, the first rule\'s worst images, with their overlays', async () => {
    const { result, out } = await gate('passing', 'clean',
      'version: 1\nrules:\n  - {name: mean-invalid-mass, metric: invalidMass, max: 0.2}\n  - {name: spread, metric: entropy, max: 1000}\n');
    expect(result.code, result.stderr).toBe(0);
    const verdict = await verdictOf(out);
    expect(verdict.verdict).toBe('pass');
    expect(verdict.galleries.map((g) => [g.rule, g.order])).toEqual([['mean-invalid-mass', 'highest']]);
    const images = verdict.galleries[0].images;
    expect(images.map((r) => r.overlay)).toEqual(images.map((r) => `overlays/${r.image}.png`));
    expect(await overlayFiles(out)).toEqual(images.map((r) => `${r.image}.png`).sort());
    expect(await sectionsOf(out)).toHaveLength(1);
  }, 90_000);
});

describe('GalleryCandidates', () => {
  const policy = {
    rules: [
      { name: 'mass', metric: 'invalidMass' },
      { name: 'acc', metric: 'accuracy' },
      { name: 'per-class', metric: 'roiMass', class: 'each' },
    ],
    baseline: [],
  } as unknown as Pick<Policy, 'rules' | 'baseline'>;

  it('keeps the map of every image the gate could put in the gallery (as the Aggregator ranks them), and few others', () => {
    const keep = 3;
    const candidates = new GalleryCandidates(policy, keep);
    const aggregator = new Aggregator({ keep });
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 5000; i++) {
      const predicted = Math.floor(random() * 4);
      const record: ResultRecord = {
        image: `img${i}.png`,
        predicted,
        target: predicted,
        label: Math.floor(random() * 4),
        // Rounded values: ties happen, and the earlier image must win them as in the Aggregator.
        metrics: { invalidMass: Math.round(random() * 50) / 50, roiMass: i % 10 === 0 ? null : Math.round(random() * 50) / 50, pointing: random() },
      };
      aggregator.add(record);
      candidates.offer(record, { cam: new Float32Array([i]), camHeight: 1, camWidth: 1 });
    }
    const extremes = aggregator.summary().extremes;
    const needed = [
      ...['invalidMass', 'correct'].flatMap((m) => [...extremes['*'][m].high, ...extremes['*'][m].low]),
      ...['0', '1', '2', '3'].flatMap((c) => [...extremes[c].roiMass.high, ...extremes[c].roiMass.low]),
    ];
    for (const ref of needed) expect(candidates.get(ref.image)?.cam[0], ref.image).toBe(Number(ref.image.slice(3, -4)));
    // pointing is no rule's metric: its extremes are not kept for their own sake.
    const pointingOnly = [...extremes['*'].pointing.high].filter((r) => !needed.some((n) => n.image === r.image));
    expect(pointingOnly.some((r) => candidates.get(r.image) !== undefined)).toBe(false);
    // Bounded: (2 overall metrics + 4 classes) x 2 ends x keep live maps, at most twice that plus slack held.
    expect(candidates.size).toBeLessThanOrEqual(2 * (6 * 2 * keep) + 64);
  });

  it('sampleImages does not depend on the order of the list', () => {
    const images = Array.from({ length: 100 }, (_, i) => `dir/${i}.jpg`);
    const sample = sampleImages(images, 7);
    expect(sample.size).toBe(7);
    expect(sampleImages([...images].reverse(), 7)).toEqual(sample);
    expect(sampleImages(images, 0).size).toBe(0);
  });
});

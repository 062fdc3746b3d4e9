/**
 * report.html shows the deletion/insertion curves of the worst and the median image when faithfulness ran, and the
 * sanity check's similarity per step when `heatgate sanity --out` wrote sanity.json for the same model.
 */
import { mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { rng } from '../helpers/tiny-models.ts';

const VIT = path.resolve('test/fixtures/vit/vit_cls/model.onnx');
const CLEAN = path.resolve('examples/underpass/models/clean.onnx');

async function quiet(args: string[]): Promise<number> {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return await main(args);
  } finally {
    process.stdout.write = write;
  }
}

async function images(dir: string, count: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const r = rng(5);
  for (let i = 0; i < count; i++) {
    const pixels = Buffer.from(Array.from({ length: 40 * 40 * 3 }, () => Math.floor((r() + 0.5) * 255)));
    await sharp(pixels, { raw: { width: 40, height: 40, channels: 3 } }).png().toFile(path.join(dir, `img${i}.png`));
  }
}

describe('report: faithfulness curves and the sanity section', () => {
  it('a run whose policy names a faithfulness metric draws the worst and median curves; sanity.json of the same model adds the sanity chart', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'heatgate-faith-report-'));
    await images(path.join(root, 'images'), 5);
    const policy = path.join(root, 'policy.yaml');
    await writeFile(policy, 'version: 1\nanalysis: {faithfulness: {steps: 4, fill: mean, roadShares: [0.5]}}\nrules:\n  - {name: deletion-vs-random, metric: deletionVsRandom, aggregate: mean, min: -1}\n');
    const out = path.join(root, 'out');
    expect(await quiet(['sanity', '--model', VIT, '--images', path.join(root, 'images'), '--sample', '2', '--normalize', 'unit', '--out', out, '--no-fail'])).toBe(0);
    expect(await quiet(['run', '--model', VIT, '--images', path.join(root, 'images'), '--out', out, '--policy', policy, '--normalize', 'unit', '--quiet'])).toBe(0);
    const results = (await readFile(path.join(out, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(results).toHaveLength(5);
    for (const r of results) {
      expect(r.curves.deletion).toHaveLength(5);
      expect(typeof r.metrics.deletionAuc).toBe('number');
    }
    const worst = [...results].sort((a, b) => b.metrics.deletionAuc - a.metrics.deletionAuc)[0];
    const html = await readFile(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('<section id="faithfulness">');
    expect(html).toMatch(new RegExp(`<b>worst</b> <span class="mono">${worst.image.replace('.', '\\.')}</span>`));
    expect(html).toContain('<b>median</b>');
    expect(html).toContain('<section id="sanity">');
    expect(html).toMatch(/Spearman \|·\|/);
  });

  it('no curves and no sanity section without faithfulness, or when sanity.json is about another model', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'heatgate-faith-report-'));
    await images(path.join(root, 'images'), 2);
    const out = path.join(root, 'out');
    const policy = path.join(root, 'policy.yaml');
    await writeFile(policy, 'version: 1\nrules:\n  - {name: sparse, metric: sparseness, aggregate: mean, min: 0}\n');
    expect(await quiet(['sanity', '--model', CLEAN, '--images', path.resolve('examples/underpass/images'), '--sample', '2', '--out', out, '--no-fail'])).toBe(0);
    expect(await quiet(['run', '--model', VIT, '--images', path.join(root, 'images'), '--out', out, '--policy', policy, '--normalize', 'unit', '--quiet'])).toBe(0);
    const html = await readFile(path.join(out, 'report.html'), 'utf8');
    expect(html).not.toContain('id="faithfulness"');
    expect(html).not.toContain('id="sanity"');
    const first = JSON.parse((await readFile(path.join(out, 'results.jsonl'), 'utf8')).split('\n')[0]);
    expect(first.metrics).not.toHaveProperty('deletionAuc');
    expect(first).not.toHaveProperty('curves');
  });
});

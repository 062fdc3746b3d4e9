/**
 * --resume continues the run recorded in --out/run-manifest.json and nothing else: other settings are exit 2 naming the
 * fields, a damaged results.jsonl is exit 3 without losing records, and the counts after a resume cover the whole run.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { explainImages } from '../../src/pipeline/explain.ts';
import { saveModel } from '../../src/onnx/model.ts';
import type { Verdict } from '../../src/gate/verdict.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';
import { cli, expectOneLine, png, records } from '../cli/helpers.ts';

let dir: string;
let model: string;
let other: string;
let images: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'heatgate-resume-'));
  model = path.join(dir, 'tiny.onnx');
  other = path.join(dir, 'other.onnx');
  await saveModel(tinyCnn({ size: 8, channels: 4, classes: 3, seed: 1 }).model, model);
  await saveModel(tinyCnn({ size: 8, channels: 4, classes: 3, seed: 2 }).model, other);
  images = path.join(dir, 'images');
  for (let i = 0; i < 5; i++) await png(path.join(images, `img${i}.png`), i);
});

const explainArgs = (out: string, m = model) => ['explain', '--model', m, '--images', images, '--out', out, '--no-overlays', '--quiet', '--batch', '2'];

describe('--resume', () => {
  it('refuses a run made with another model and method: exit 2, each field old -> new, results untouched', async () => {
    const out = path.join(dir, 'mixed');
    expect((await cli(explainArgs(out))).code).toBe(0);
    const before = await readFile(path.join(out, 'results.jsonl'));
    const manifest = JSON.parse(await readFile(path.join(out, 'run-manifest.json'), 'utf8'));
    const result = await cli([...explainArgs(out, other), '--method', 'gradcampp', '--resume']);
    expect(result.code).toBe(2);
    const line = expectOneLine(result);
    expect(line).toContain(`${out}: --resume`);
    expect(line).toContain(`model.sha256: "${manifest.model.sha256.slice(0, 12)}…" -> "`);
    expect(line).toContain('method: "gradcam" -> "gradcampp"');
    expect(line).not.toContain('createdAt');
    expect(await readFile(path.join(out, 'results.jsonl'))).toEqual(before);
  });

  it('refuses other preprocessing and another image list, and accepts the same run', async () => {
    const out = path.join(dir, 'prep');
    expect((await cli(explainArgs(out))).code).toBe(0);
    const prep = await cli([...explainArgs(out), '--resize', 'letterbox', '--normalize', 'unit', '--resume']);
    expect(prep.code).toBe(2);
    expect(expectOneLine(prep)).toMatch(/preprocessing\.resize: "resize" -> "letterbox".*preprocessing\.normalize: "default" -> "unit"/);
    const shard = await cli([...explainArgs(out), '--shard', '0/2', '--resume']);
    expect(shard.code).toBe(2);
    expect(expectOneLine(shard)).toMatch(/data\.files: 5 -> 3.*data\.shard: null -> "0\/2"/);
    const labels = path.join(dir, 'labels.csv');
    await writeFile(labels, 'image,label\nimg0.png,1\n');
    const labelled = await cli([...explainArgs(out), '--labels', labels, '--resume']);
    expect(labelled.code).toBe(2);
    expect(expectOneLine(labelled)).toMatch(/inputs\.labels: null -> \{"sha256":"\w{12}…"\}/);
    const same = await cli([...explainArgs(out), '--resume']);
    expect(same.code).toBe(0);
    expect(same.stderr).toContain('explained 5 images (5 resumed, 0 failed)');
  });

  it('refuses results without a manifest (an older heatgate run): exit 2, one line', async () => {
    const out = path.join(dir, 'old-run');
    expect((await cli(explainArgs(out))).code).toBe(0);
    await rm(path.join(out, 'run-manifest.json'));
    const result = await cli([...explainArgs(out), '--resume']);
    expect(result.code).toBe(2);
    expect(expectOneLine(result)).toMatch(/results\.jsonl is here but no run-manifest\.json/);
  });

  it('says on stderr when a fresh run replaces an earlier run in the same folder', async () => {
    const out = path.join(dir, 'replaced');
    expect((await cli(explainArgs(out))).code).toBe(0);
    const again = await cli(explainArgs(out, other));
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(new RegExp(`heatgate: note: ${out} holds an earlier run .*starting over replaces its results`));
    const manifest = JSON.parse(await readFile(path.join(out, 'run-manifest.json'), 'utf8'));
    expect(manifest.model.file).toBe(other);
  });

  it('stops at an unparsable line in the middle of results.jsonl with exit 3 and its line number, truncating nothing', async () => {
    const out = path.join(dir, 'damaged');
    expect((await cli(explainArgs(out))).code).toBe(0);
    const file = path.join(out, 'results.jsonl');
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines[1] = '{"image": "img1.png", "predicted": 0, garbage';
    const damaged = lines.join('\n');
    await writeFile(file, damaged);
    const result = await cli([...explainArgs(out), '--resume']);
    expect(result.code).toBe(3);
    expect(expectOneLine(result)).toContain(`${file}: line 2: not valid JSON`);
    expect(await readFile(file, 'utf8')).toBe(damaged); // records 3..5 are still there
  });

  it('counts the whole run after a resume: the console line, verdict.json and its data fingerprint agree with a full run', async () => {
    const full = path.join(dir, 'run-full');
    const args = (out: string) => ['run', '--model', model, '--images', images, '--out', out, '--no-overlays', '--quiet', '--batch', '2', '--no-fail'];
    expect((await cli(args(full))).code).toBe(0);
    const out = path.join(dir, 'run-resumed');
    expect((await cli(args(out))).code).toBe(0);
    const lines = (await readFile(path.join(out, 'results.jsonl'), 'utf8')).split('\n');
    await writeFile(path.join(out, 'results.jsonl'), `${lines.slice(0, 2).join('\n')}\n`);
    const resumed = await cli([...args(out), '--resume']);
    expect(resumed.code).toBe(0);
    const verdict = JSON.parse(await readFile(path.join(out, 'verdict.json'), 'utf8')) as Verdict;
    const fullVerdict = JSON.parse(await readFile(path.join(full, 'verdict.json'), 'utf8')) as Verdict;
    expect(verdict.counts).toMatchObject({ images: 5, processed: 5, errors: 0 });
    expect(resumed.stdout).toMatch(/^heatgate: (PASS|FAIL) {2}5 images \(2 resumed\), 0 errors,/);
    expect(verdict.fingerprints.data).toBe(fullVerdict.fingerprints.data);
    expect(verdict.fingerprints.model).toBe(fullVerdict.fingerprints.model);
  });

  it('refuses to resume a run with another baseline model', async () => {
    const out = path.join(dir, 'baseline');
    const args = ['run', '--model', model, '--images', images, '--out', out, '--no-overlays', '--quiet', '--no-fail'];
    expect((await cli([...args, '--baseline-model', model])).code).toBe(0);
    const result = await cli([...args, '--baseline-model', other, '--resume']);
    expect(result.code).toBe(2);
    expect(expectOneLine(result)).toMatch(/baselineModel\.sha256: "\w{12}…" -> "\w{12}…"/);
  });
});

describe('per-image read errors', () => {
  it('records an image deleted after listing as an error line and goes on', async () => {
    const folder = path.join(dir, 'vanishing');
    for (let i = 0; i < 3; i++) await png(path.join(folder, `img${i}.png`), i);
    const out = path.join(dir, 'vanishing-out');
    let batches = 0;
    const summary = await explainImages({
      model,
      images: folder,
      out,
      batch: 1,
      overlays: false,
      quiet: true,
      // Batch 0 is analysed while batch 1 is read; batch 2 is read after this, and its file is gone by then.
      analyser: { analyse: async () => void (batches++ === 0 && (await rm(path.join(folder, 'img2.png')))) },
    });
    expect(summary.errors).toEqual([{ image: 'img2.png', error: `${path.join(folder, 'img2.png')}: cannot read image (ENOENT)` }]);
    const rows = await records(out);
    expect(rows.map((r) => [r.image, typeof r.predicted, r.error ?? null])).toEqual([
      ['img0.png', 'number', null],
      ['img1.png', 'number', null],
      ['img2.png', 'undefined', `${path.join(folder, 'img2.png')}: cannot read image (ENOENT)`],
    ]);
  });
});

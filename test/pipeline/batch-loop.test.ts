/**
 * The streaming batch loop: the next batch's session runs while the previous batch is analysed and written, records
 * stay in order; the occlusion counterfactual costs a forward only when a policy rule reads it.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Explainer } from '../../src/cam/explainer.ts';
import { explainImages, resolveNormalization } from '../../src/pipeline/explain.ts';
import { runGate } from '../../src/pipeline/run.ts';
import { createAnalyser } from '../../src/analysis/analyser.ts';
import { occludeInput, occlusionMetrics } from '../../src/analysis/occlusion.ts';
import { prepareImage, type PreprocessOptions } from '../../src/imaging/index.ts';

/** The preprocessing a run of the model uses (its metadata's normalisation, plain resize to the model input). */
const preprocessFor = (explainer: Explainer): PreprocessOptions => ({
  ...explainer.inputShape, channels: explainer.inputShape.channels as 1 | 3, resize: 'resize',
  normalization: resolveNormalization({ model: explainer.model.loaded.file }, explainer.model.metadata),
});

const EXAMPLE = path.resolve('examples/underpass');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'heatgate-loop-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('batch loop', () => {
  it('runs the next batch in the session while the previous one is analysed, and appends the records in order', async () => {
    const explain = vi.spyOn(Explainer.prototype, 'explainAlong'); // the batch's session call
    const overlapped: boolean[] = [];
    const out = path.join(dir, 'overlap');
    await explainImages({
      model: path.join(EXAMPLE, 'models/clean.onnx'),
      images: path.join(EXAMPLE, 'images'),
      out,
      batch: 8,
      quiet: true,
      overlays: 'none',
      analyser: {
        // Batch k's analysis waits (up to 2 s) for the session call of batch k+1; a sequential loop never makes it.
        async analyse(items) {
          const calls = explain.mock.calls.length;
          const last = items.at(-1)!.image === 'frame_0047.png';
          const deadline = Date.now() + 2000;
          while (!last && explain.mock.calls.length === calls && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
          overlapped.push(last || explain.mock.calls.length > calls);
          for (const item of items) item.record.metrics = { order: Number(item.image.slice(6, 10)) };
        },
      },
    });
    expect(overlapped).toEqual([true, true, true, true, true, true]);
    const lines = (await readFile(path.join(out, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { metrics: { order: number } });
    expect(lines.map((l) => l.metrics.order)).toEqual(Array.from({ length: 48 }, (_, i) => i));
  }, 60_000);
});

describe('occlusion counterfactual', () => {
  const run = async (name: string, policy?: string, batch = 16) => {
    const predict = vi.spyOn(Explainer.prototype, 'predict');
    const along = vi.spyOn(Explainer.prototype, 'explainAlong');
    const out = path.join(dir, name);
    await runGate({
      model: path.join(EXAMPLE, 'models/shortcut.onnx'),
      images: path.join(EXAMPLE, 'images'),
      invalidMasks: path.join(EXAMPLE, 'invalid'),
      out,
      quiet: true,
      overlays: 'none',
      batch,
      ...(policy && { policy }),
    });
    const records = (await readFile(path.join(out, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { image: string; target: number; metrics: Record<string, number | null> });
    // Per session call of a batch: how many images, and how many occluded inputs ran along with them.
    const sessionCalls = along.mock.calls.map(([images, , extra]) => ({ images: images.length, extra: extra.length }));
    const calls = predict.mock.calls.length;
    predict.mockRestore();
    along.mockRestore();
    return { calls, sessionCalls, records };
  };

  it('runs no occluded forward when no rule reads an occlusion metric; when one does, the occluded inputs run in the batch\'s own session call', async () => {
    const policy = path.join(dir, 'mass-only.yaml');
    await writeFile(policy, 'version: 1\nminImages: 1\nrules:\n  - {name: mass, metric: invalidMass, aggregate: mean, max: 0.2}\n');
    const without = await run('no-occlusion', policy);
    expect(without.calls).toBe(0);
    expect(without.sessionCalls).toEqual([{ images: 16, extra: 0 }, { images: 16, extra: 0 }, { images: 16, extra: 0 }]);
    expect(without.records.every((r) => r.metrics.occlusionFlip === null && typeof r.metrics.invalidMass === 'number')).toBe(true);
    // The default policy has the occlusion-flips rule: every demo frame has invalid pixels, so each batch of 16 runs
    // as two calls of 8 images and their 8 occluded copies (never more than --batch inputs), and no separate forward
    // is left.
    const withRule = await run('occlusion');
    expect(withRule.calls).toBe(0);
    expect(withRule.sessionCalls).toEqual(Array.from({ length: 6 }, () => ({ images: 8, extra: 8 })));
    expect(withRule.records.every((r) => typeof r.metrics.occlusionFlip === 'number')).toBe(true);
  }, 90_000);

  it('with --batch 1 (one input per call) runs each occluded image in a forward of its own', async () => {
    const single = await run('occlusion-batch-1', undefined, 1);
    expect(single.sessionCalls).toEqual(Array.from({ length: 48 }, () => ({ images: 1, extra: 0 })));
    expect(single.calls).toBe(48);
    expect(single.records.every((r) => typeof r.metrics.occlusionFlip === 'number')).toBe(true);
  }, 90_000);

  it('gives the same records whether tensors and occluded copies are reused across many batches or all in one', async () => {
    const many = await run('reuse-batch-4', undefined, 4);
    const one = await run('reuse-batch-48', undefined, 48);
    expect(many.sessionCalls).toHaveLength(24); // 12 batches of 4, each two calls of 2 images and their copies
    expect(one.records.map((r) => r.image)).toEqual(many.records.map((r) => r.image));
    many.records.forEach((r, i) => {
      expect(r.target).toBe(one.records[i].target);
      for (const [name, value] of Object.entries(one.records[i].metrics)) {
        if (value === null) expect(r.metrics[name], `${r.image} ${name}`).toBeNull();
        else expect(r.metrics[name], `${r.image} ${name}`).toBeCloseTo(value, 5);
      }
    });
  }, 90_000);

  it('gives the occlusion metrics a separate forward of the occluded inputs gives', async () => {
    const { records } = await run('occlusion-values');
    const explainer = await Explainer.create(path.join(EXAMPLE, 'models/shortcut.onnx'));
    try {
      const analyser = await createAnalyser({ regions: { invalidMasks: path.join(EXAMPLE, 'invalid') }, regionOptions: { baseDir: process.cwd() } });
      for (const record of records.filter((_, i) => i % 12 === 0)) {
        const prepared = await prepareImage(path.join(EXAMPLE, 'images', record.image), preprocessFor(explainer));
        const { invalid } = (await analyser.prepare!(record.image, prepared, explainer.inputShape)).regions;
        const { channels, height, width } = explainer.inputShape;
        const occluded = occludeInput(prepared.tensor, { channels, height, width, layout: 'CHW' }, invalid!, { fill: 'mean' });
        const [original] = await explainer.predict([prepared.tensor]);
        const [counterfactual] = await explainer.predict([occluded]);
        const expected = occlusionMetrics(original, counterfactual, record.target);
        expect(record.metrics.occlusionDrop).toBeCloseTo(expected.occlusionDrop, 5);
        expect(record.metrics.occlusionFlip).toBe(expected.occlusionFlip);
      }
    } finally {
      await explainer.release();
    }
  }, 90_000);
});

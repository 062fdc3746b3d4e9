/**
 * heatgate's faithfulness metrics against scripts/reference/faithfulness.py (numpy + torch from the papers'
 * definitions) on the tiny ViT fixture: every AUC, curve point and ROAD score within 1e-4.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { faithfulness, type FaithfulnessFill, type FaithfulnessResult } from '../../src/analysis/faithfulness.ts';
import { createMetricContext } from '../../src/analysis/metrics/context.ts';
import { Explainer } from '../../src/cam/explainer.ts';
import { decodeNpy } from '../../src/imaging/index.ts';

const DIR = path.resolve('test/fixtures/vit/vit_cls');
const TOLERANCE = 1e-4;

interface Row extends FaithfulnessResult {
  image: number;
  target: number;
}
interface Config { name: string; steps: number; fill: FaithfulnessFill; blurSigma: number; roadShares: number[]; results: Row[] }

const reference = JSON.parse(readFileSync(path.join(DIR, 'faithfulness', 'reference.json'), 'utf8')) as { images: number[]; configs: Config[] };
const npy = (f: string) => decodeNpy(readFileSync(path.join(DIR, f)), f);
const input = npy('input.npy');
const heatmaps = npy('faithfulness/heatmap.npy');
const cams = npy('gradcam.npy');
const SIZE = 3 * 32 * 32, HW = 32 * 32;
const image = (i: number) => (input.data as Float32Array).slice(i * SIZE, (i + 1) * SIZE);

describe('faithfulness against the Python reference (tiny ViT)', () => {
  it("heatgate's heatmap (min-max, bilinear upsampling) equals the reference's", () => {
    reference.images.forEach((img, j) => {
      const cam = (cams.data as Float32Array).slice(img * 16, (img + 1) * 16);
      const ours = createMetricContext({ cam, camHeight: 4, camWidth: 4, height: 32, width: 32, predicted: 0, target: 0 }).heatmap;
      const theirs = (heatmaps.data as Float32Array).subarray(j * HW, (j + 1) * HW);
      ours.forEach((v, q) => expect(Math.abs(v - theirs[q])).toBeLessThan(1e-5));
    });
  });

  it.each(reference.configs.map((c) => [c.name, c] as const))('%s: AUCs, curves, random baseline and ROAD within 1e-4', async (_, config) => {
    const explainer = await Explainer.create(path.join(DIR, 'model.onnx'));
    try {
      const items = await Promise.all(
        reference.images.map(async (img, j) => {
          const x = image(img);
          const [logits] = await explainer.predict([x]);
          return { input: x, heatmap: (heatmaps.data as Float32Array).slice(j * HW, (j + 1) * HW), logits, target: config.results[j].target };
        }),
      );
      const shape = { layout: 'CHW' as const, channels: 3, height: 32, width: 32 };
      const results = await faithfulness(items, shape, (xs) => explainer.predict(xs), {
        steps: config.steps, fill: config.fill, blurSigma: config.blurSigma, roadShares: config.roadShares, roadNoise: 0,
      });
      let worst = 0;
      results.forEach((r, j) => {
        const ref = config.results[j];
        for (const key of ['deletionAuc', 'insertionAuc', 'deletionRandomAuc', 'insertionRandomAuc', 'roadMorf', 'roadLerf'] as const) {
          worst = Math.max(worst, Math.abs(r[key] - ref[key]));
          expect(Math.abs(r[key] - ref[key]), `${config.name} image ${ref.image} ${key}`).toBeLessThan(TOLERANCE);
        }
        r.deletionCurve.forEach((p, k) => expect(Math.abs(p - ref.deletionCurve[k])).toBeLessThan(TOLERANCE));
        r.insertionCurve.forEach((p, k) => expect(Math.abs(p - ref.insertionCurve[k])).toBeLessThan(TOLERANCE));
        // The curves must move, or agreeing would prove little.
        expect(Math.max(...ref.deletionCurve) - Math.min(...ref.deletionCurve)).toBeGreaterThan(0.005);
      });
      console.log(`faithfulness ${config.name}: worst |heatgate - reference| = ${worst.toExponential(2)}`);
    } finally {
      await explainer.release();
    }
  });
});

// Faithfulness metrics by hand: tiny inputs whose curves, AUCs, percentiles and imputations are worked out on paper.
import { describe, expect, it } from 'vitest';
import { createAnalyser, sampleEvenly } from '../../src/analysis/analyser.ts';
import { curveAuc, faithfulness, fillImage, randomOrder, rankPixels, roadMask } from '../../src/analysis/faithfulness.ts';
import { noisyLinearImpute } from '../../src/analysis/linear-imputation.ts';
import { createMetricContext } from '../../src/analysis/metrics/context.ts';
import { computeMetrics } from '../../src/analysis/metrics/registry.ts';
import type { TensorShape } from '../../src/analysis/occlusion.ts';
import { parsePolicy, PolicyError } from '../../src/gate/policy.ts';
import { mulberry32 } from '../../src/numeric.ts';

const shape2x2: TensorShape = { layout: 'CHW', channels: 1, height: 2, width: 2 };
/** A "model" whose class-0 probability is the input's sum / 8 (class 1 gets the rest). */
const sumModel = async (inputs: Float32Array[]) => inputs.map((x) => {
  const s = x.reduce((a, b) => a + b, 0) / 8;
  return Float32Array.of(s, 1 - s);
});

describe('faithfulness by hand', () => {
  it('trapezoid AUC, ranking with ties in index order, a seeded random order', () => {
    expect(curveAuc([1, 0.5, 0])).toBeCloseTo(0.5, 12);
    expect(curveAuc([0.2, 0.2])).toBeCloseTo(0.2, 12);
    expect([...rankPixels([0.5, 0.9, 0.5, 0.1])]).toEqual([1, 0, 2, 3]);
    const order = randomOrder(10, 0);
    expect([...order].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...randomOrder(10, 0)]).toEqual([...order]); // seeded
  });

  it('deletion and insertion curves with the mean fill on a 2x2 image', async () => {
    // x = [4,0,0,0], fill = mean = 1 everywhere, heatmap order: pixels 0, 2, 3, 1; score = sum/8.
    // deletion: [4,0,0,0] [1,0,0,0] [1,0,1,0] [1,0,1,1] [1,1,1,1] -> .5 .125 .25 .375 .5, AUC = 1.25/4
    // insertion: [1,1,1,1] [4,1,1,1] [4,1,0,1] [4,1,0,0] [4,0,0,0] -> .5 .875 .75 .625 .5, AUC = 2.75/4
    const item = { input: Float32Array.of(4, 0, 0, 0), heatmap: Float32Array.of(0.9, 0.1, 0.5, 0.3), logits: Float32Array.of(0.5, 0.5), target: 0 };
    const [r] = await faithfulness([item], shape2x2, sumModel, { steps: 4, fill: 'mean', probabilities: true, roadShares: [0.25], roadNoise: 0 });
    expect(r.deletionCurve.map((v) => +v.toFixed(6))).toEqual([0.5, 0.125, 0.25, 0.375, 0.5]);
    expect(r.insertionCurve.map((v) => +v.toFixed(6))).toEqual([0.5, 0.875, 0.75, 0.625, 0.5]);
    expect(r.deletionAuc).toBeCloseTo(0.3125, 6);
    expect(r.insertionAuc).toBeCloseTo(0.6875, 6);
    // ROAD at 25 %: MoRF imputes pixel 0 from its 3 neighbours (weights 1/6, 1/6, 1/12 of 0s): 0, so sum 0 -> 0 - .5.
    expect(r.roadMorf).toBeCloseTo(-0.5, 6);
    // LeRF imputes pixel 1 (lowest): (1/6·4 + 1/12·0 + 1/6·0) / (5/12) = 1.6 -> sum 5.6 -> .7 - .5 = .2.
    expect(r.roadLerf).toBeCloseTo(0.2, 5);
  });

  it('noisy linear imputation: the centre of a 3x3 image is the weighted mean of its 8 neighbours; two unknowns solve jointly', () => {
    const shape: TensorShape = { layout: 'CHW', channels: 1, height: 3, width: 3 };
    const x = Float32Array.of(1, 2, 3, 4, 99, 6, 7, 8, 9);
    const centre = Uint8Array.of(0, 0, 0, 0, 1, 0, 0, 0, 0);
    const direct = (2 + 4 + 6 + 8) / 6, diagonal = (1 + 3 + 7 + 9) / 12;
    expect(noisyLinearImpute(x, shape, centre, 0, Math.random)[4]).toBeCloseTo(direct + diagonal, 5);
    // Pixels 3 and 4 removed: x3 = (1/6(1+7+x4) + 1/12(2+8)) / (2/3), x4 = (1/6(2+6+8+x3) + 1/12(1+3+7+9)) / 1.
    const two = noisyLinearImpute(x, shape, Uint8Array.of(0, 0, 0, 1, 1, 0, 0, 0, 0), 0, Math.random);
    const x4 = (16 / 6 + 20 / 12 + (8 / 6 + 10 / 12) / 4) / (1 - 1 / 24);
    const x3 = ((8 + x4) / 6 + 10 / 12) / (2 / 3);
    expect(two[4]).toBeCloseTo(x4, 5);
    expect(two[3]).toBeCloseTo(x3, 5);
    // Noise: seeded, and only on the imputed pixels.
    const noisy = noisyLinearImpute(x, shape, centre, 0.01, () => 0.1); // Box-Muller: 0.01·sqrt(-2 ln 0.9)·cos(0.2π)
    expect(noisy[0]).toBe(1);
    expect(noisy[4] - (direct + diagonal)).toBeCloseTo(0.01 * Math.sqrt(-2 * Math.log(0.9)) * Math.cos(0.2 * Math.PI), 5);
  });

  it('ROAD masks: MoRF takes the top share, LeRF the bottom; the blur fill keeps a constant image constant', () => {
    const h = Float32Array.of(0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9);
    expect([...roadMask(h, 0.2, 'morf')]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect([...roadMask(h, 0.3, 'lerf')]).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    // A ReLU'd map ties many pixels at 0: the count, not a threshold, decides (ties in index order).
    const tied = Float32Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0.5, 1);
    expect([...roadMask(tied, 0.9, 'morf')]).toEqual([1, 1, 1, 1, 1, 1, 1, 0, 1, 1]);
    expect([...roadMask(tied, 0.2, 'lerf')]).toEqual([1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    const flat = fillImage(new Float32Array(12).fill(0.5), { layout: 'HWC', channels: 3, height: 2, width: 2 }, 'blur', 1);
    flat.forEach((v) => expect(v).toBeCloseTo(0.5, 6));
  });

  it('metrics read the results; vs-random and ROAD combined are differences; without a run they are null', () => {
    const base = { cam: Float32Array.of(1), camHeight: 1, camWidth: 1, height: 1, width: 1, predicted: 0, target: 0 };
    const f = { deletionAuc: 0.2, insertionAuc: 0.7, deletionRandomAuc: 0.5, insertionRandomAuc: 0.4, deletionCurve: [], insertionCurve: [], roadMorf: -0.3, roadLerf: -0.1 };
    const names = ['deletionAuc', 'insertionAuc', 'deletionVsRandom', 'insertionVsRandom', 'roadMorf', 'roadLerf', 'roadCombined'];
    const m = computeMetrics(createMetricContext({ ...base, faithfulness: f }), names);
    expect(m.deletionVsRandom).toBeCloseTo(0.3, 12);
    expect(m.insertionVsRandom).toBeCloseTo(0.3, 12);
    expect(m.roadCombined).toBeCloseTo(0.1, 12);
    expect(Object.values(computeMetrics(createMetricContext(base), names))).toEqual(names.map(() => null));
  });

  it('the analyser runs them only when asked (policy rule or options), in batched predict calls', async () => {
    let calls = 0, inputs = 0;
    const explainer = {
      inputShape: { channels: 1, height: 2, width: 2, layout: 'NCHW' as const },
      model: { outputIsProbability: true },
      predict: async (xs: Float32Array[]) => (calls++, inputs += xs.length, sumModel(xs)),
    };
    const item = () => ({
      image: 'a.png',
      prepared: { tensor: Float32Array.of(4, 0, 0, 0), geometry: { dstHeight: 2, dstWidth: 2 } },
      explanation: { cam: Float32Array.of(0.9, 0.1, 0.5, 0.3), camHeight: 2, camWidth: 2, logits: Float32Array.of(0.5, 0.5), target: 0, predicted: 0 },
      record: { image: 'a.png' } as Record<string, unknown>,
    });
    const plain = await createAnalyser({ occlusion: false });
    const a = item();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await plain.analyse([a as any], explainer as any);
    expect(calls).toBe(0);
    expect(a.record.metrics).not.toHaveProperty('deletionAuc');
    const asked = await createAnalyser({ occlusion: false, faithfulness: { steps: 4, fill: 'mean', roadShares: [0.25], roadNoise: 0 } });
    const b = item(), c = item();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await asked.analyse([b as any, c as any], explainer as any);
    expect(calls).toBe(1); // 2 images x (4 curves x 5 steps + 2 ROAD) = 44 inputs, one call
    expect(inputs).toBe(44);
    expect((b.record.metrics as Record<string, number>).deletionAuc).toBeCloseTo(0.3125, 6);
    expect(b.record.curves).toEqual({ deletion: [0.5, 0.125, 0.25, 0.375, 0.5], insertion: [0.5, 0.875, 0.75, 0.625, 0.5] });
  });

  it('imputation equals a dense direct solve of the same system on irregular masks, CHW and HWC, down to float32', () => {
    // The system written out densely from its definition (PGC setup_sparse_system) and solved by Gaussian elimination.
    const direct = (plane: Float64Array, h: number, w: number, remove: Uint8Array): Float64Array => {
      const unknown = [...remove.keys()].filter((p) => remove[p]);
      const m = unknown.length, at = new Map(unknown.map((p, i) => [p, i]));
      const a = Array.from({ length: m }, () => new Float64Array(m + 1));
      unknown.forEach((p, i) => {
        const y = Math.floor(p / w), x = p % w;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            if ((!dy && !dx) || y + dy < 0 || y + dy >= h || x + dx < 0 || x + dx >= w) continue;
            const wt = dy && dx ? 1 / 12 : 1 / 6, q = (y + dy) * w + x + dx;
            a[i][i] += wt;
            if (at.has(q)) a[i][at.get(q)!] -= wt;
            else a[i][m] += wt * plane[q];
          }
        }
      });
      for (let k = 0; k < m; k++) {
        for (let i = k + 1; i < m; i++) {
          const f = a[i][k] / a[k][k];
          for (let j = k; j <= m; j++) a[i][j] -= f * a[k][j];
        }
      }
      const x = new Float64Array(m);
      for (let i = m - 1; i >= 0; i--) {
        let s = a[i][m];
        for (let j = i + 1; j < m; j++) s -= a[i][j] * x[j];
        x[i] = s / a[i][i];
      }
      const out = Float64Array.from(plane);
      unknown.forEach((p, i) => (out[p] = x[i]));
      return out;
    };
    const rand = mulberry32(7);
    const h = 17, w = 21, n = h * w;
    // Blobs, a full-height band (touching two borders), scattered single pixels, and all but a few pixels.
    const masks = [
      Uint8Array.from({ length: n }, (_, p) => (Math.hypot(Math.floor(p / w) - 5, (p % w) - 6) < 4 || Math.hypot(Math.floor(p / w) - 13, (p % w) - 17) < 4 ? 1 : 0)),
      Uint8Array.from({ length: n }, (_, p) => ((p % w) >= 3 && (p % w) < 9 ? 1 : 0)),
      Uint8Array.from({ length: n }, () => (rand() < 0.3 ? 1 : 0)),
      Uint8Array.from({ length: n }, (_, p) => (p % 61 === 5 ? 0 : 1)),
    ];
    for (const layout of ['CHW', 'HWC'] as const) {
      const shape: TensorShape = { layout, channels: 3, height: h, width: w };
      const x = Float32Array.from({ length: 3 * n }, () => rand() * 4 - 2);
      masks.forEach((mask, k) => {
        const ours = noisyLinearImpute(x, shape, mask, 0, Math.random);
        for (let c = 0; c < 3; c++) {
          const at = (p: number) => (layout === 'CHW' ? c * n + p : p * 3 + c);
          const want = direct(Float64Array.from({ length: n }, (_, p) => x[at(p)]), h, w, mask);
          let worst = 0;
          for (let p = 0; p < n; p++) worst = Math.max(worst, Math.abs(ours[at(p)] - want[p]));
          expect(worst, `${layout} mask ${k} channel ${c}`).toBeLessThan(1e-6);
        }
      });
    }
  });

  it('a sample spreads evenly over the run\'s images; the analyser runs the passes on those only, and not for a baseline that skips them', async () => {
    const names = Array.from({ length: 48 }, (_, i) => `f${String(i).padStart(2, '0')}.png`);
    // The middle of each of 4 runs of 12: 6, 18, 30, 42.
    expect(sampleEvenly(names, 4)).toEqual(['f06.png', 'f18.png', 'f30.png', 'f42.png']);
    expect(sampleEvenly(names.slice(0, 3), 4)).toEqual(names.slice(0, 3));
    expect(sampleEvenly(['a', 'b', 'c'], 1)).toEqual(['b']);
    let inputs = 0;
    const explainer = {
      inputShape: { channels: 1, height: 2, width: 2, layout: 'NCHW' as const },
      model: { outputIsProbability: true },
      predict: async (xs: Float32Array[]) => ((inputs += xs.length), sumModel(xs)),
    };
    const item = (image: string) => ({
      image,
      prepared: { tensor: Float32Array.of(4, 0, 0, 0), geometry: { dstHeight: 2, dstWidth: 2 } },
      explanation: { cam: Float32Array.of(0.9, 0.1, 0.5, 0.3), camHeight: 2, camWidth: 2, logits: Float32Array.of(0.5, 0.5), target: 0, predicted: 0 },
      record: { image } as Record<string, unknown>,
    });
    const options = { occlusion: false as const, faithfulness: { steps: 4, fill: 'mean' as const, roadShares: [0.25], roadNoise: 0, sample: 2 }, images: ['a', 'b', 'c', 'd'] };
    const analyser = await createAnalyser(options);
    const items = ['a', 'b', 'c', 'd'].map(item);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await analyser.analyse(items as any, explainer as any);
    expect(inputs).toBe(2 * 22); // b and d (the middles of a,b and c,d): 4 curves x 5 steps + 2 ROAD each
    expect(items.map((i) => (i.record.metrics as Record<string, number | null>).deletionAuc)).toEqual([null, 0.3125, null, 0.3125].map((v) => (v === null ? null : expect.closeTo(v, 6))));
    expect(items.map((i) => 'curves' in i.record)).toEqual([false, true, false, true]);
    inputs = 0;
    const baseline = items.map((i) => item(i.image));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await analyser.withoutFaithfulness().analyse(baseline as any, explainer as any);
    expect(inputs).toBe(0);
    expect(baseline[1].record.metrics).not.toHaveProperty('deletionAuc');
    expect(baseline[1].record.metrics).toHaveProperty('sparseness');
    await expect(createAnalyser({ ...options, images: undefined })).rejects.toThrow(/image list/);
  });

  it('the policy validates analysis.faithfulness and its thresholds against the declared ranges', () => {
    const ok = parsePolicy('version: 1\nanalysis: {faithfulness: {steps: 8, fill: mean, roadShares: [0.2, 0.8], roadNoise: 0}}\n', 'p.yaml');
    expect(ok.analysis?.faithfulness).toEqual({ steps: 8, fill: 'mean', roadShares: [0.2, 0.8], roadNoise: 0 });
    expect(parsePolicy('version: 1\nanalysis: {faithfulness: {sample: 4}}\n', 'p.yaml').analysis?.faithfulness).toEqual({ sample: 4 });
    for (const bad of ['{steps: 0}', '{fill: zero}', '{roadShares: [1]}', '{roadNoise: -1}', '{blurSigma: 0}', '{extra: 1}', '{sample: 0}', '{sample: 2.5}']) {
      expect(() => parsePolicy(`version: 1\nanalysis: {faithfulness: ${bad}}\n`, 'p.yaml'), bad).toThrow(PolicyError);
    }
    expect(() => parsePolicy('version: 1\nrules: [{name: d, metric: deletionAuc, aggregate: mean, max: 1.5}]\n', 'p.yaml')).toThrow(PolicyError);
    expect(() => parsePolicy('version: 1\nrules: [{name: d, metric: roadCombined, aggregate: mean, min: -0.5}]\n', 'p.yaml')).not.toThrow();
  });
});

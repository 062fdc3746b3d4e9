import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  gaussianBlur,
  occludeInput,
  occlusionInputs,
  occlusionMetrics,
  occlusionResults,
  runOcclusion,
  type TensorShape,
} from '../../src/analysis/occlusion.ts';
import { maskVariety } from '../helpers/masks.ts';

const blurRef = JSON.parse(readFileSync(new URL('./fixtures/blur-reference.json', import.meta.url), 'utf8')) as {
  channels: number;
  height: number;
  width: number;
  sigma: number;
  input: number[];
  blurred: number[];
};

// 2 channels, 2 rows x 3 columns; the right column is invalid
const invalid = Uint8Array.from([0, 0, 1, 0, 0, 1]);
const chw = Float32Array.from([1, 2, 100, 3, 4, 100, /* channel 1 */ -1, -2, 50, -3, -4, 50]);
const chwShape: TensorShape = { layout: 'CHW', channels: 2, height: 2, width: 3 };

/** 1 where any channel of `after` differs from `before` (CHW), per pixel. */
function changedPixels(before: Float32Array, after: Float32Array, channels: number): number[] {
  const n = before.length / channels;
  return Array.from({ length: n }, (_, p) => (Array.from({ length: channels }, (_, c) => c * n + p).some((i) => before[i] !== after[i]) ? 1 : 0));
}

function toHwc(x: Float32Array, c: number, n: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let k = 0; k < c; k++) for (let p = 0; p < n; p++) out[p * c + k] = x[k * n + p];
  return out;
}

describe('occlusion fill', () => {
  it("'mean' fills each channel with its mean over the valid pixels", () => {
    // channel 0 valid: 1, 2, 3, 4 → 2.5; channel 1: −1, −2, −3, −4 → −2.5
    const out = occludeInput(chw, chwShape, invalid, { fill: 'mean' });
    expect(Array.from(out)).toEqual([1, 2, 2.5, 3, 4, 2.5, -1, -2, -2.5, -3, -4, -2.5]);
    expect(chw[2]).toBe(100); // input untouched
  });

  it('writes into a reused array of the input\'s size, whatever it held, and refuses one of another size or the input itself', () => {
    const into = new Float32Array(12).fill(Number.NaN);
    expect(occludeInput(chw, chwShape, invalid, { fill: 'mean' }, into)).toBe(into);
    expect(Array.from(into)).toEqual([1, 2, 2.5, 3, 4, 2.5, -1, -2, -2.5, -3, -4, -2.5]);
    expect(() => occludeInput(chw, chwShape, invalid, {}, new Float32Array(11))).toThrow(RangeError);
    expect(() => occludeInput(chw, chwShape, invalid, {}, chw)).toThrow(RangeError);
  });

  it('reads HWC the same way as CHW', () => {
    const hwc = occludeInput(toHwc(chw, 2, 6), { ...chwShape, layout: 'HWC' }, invalid, { fill: 'mean' });
    expect(Array.from(hwc)).toEqual(Array.from(toHwc(occludeInput(chw, chwShape, invalid), 2, 6)));
  });

  it('fills with 0 (the dataset mean after normalisation) when every pixel is invalid', () => {
    const out = occludeInput(chw, chwShape, new Uint8Array(6).fill(1), { fill: 'mean' });
    expect(Array.from(out)).toEqual(new Array(12).fill(0));
  });

  it('blurs like numpy (edge-padded separable Gaussian) and uses the blur inside the mask only', () => {
    const { channels, height, width, sigma, input, blurred } = blurRef;
    const n = height * width;
    const x = Float32Array.from(input);
    for (let c = 0; c < channels; c++) {
      const got = gaussianBlur(x.subarray(c * n, (c + 1) * n), height, width, sigma);
      got.forEach((v, i) => expect(v).toBeCloseTo(blurred[c * n + i], 5));
    }
    const mask = new Uint8Array(n);
    mask.fill(1, 0, width * 3); // top three rows
    const out = occludeInput(x, { layout: 'CHW', channels, height, width }, mask, { fill: 'blur', blurSigma: sigma });
    expect(changedPixels(x, out, channels)).toEqual(Array.from(mask)); // the blur differs from the image inside the mask
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < n; p++) {
        expect(out[c * n + p]).toBeCloseTo(mask[p] ? blurred[c * n + p] : input[c * n + p], 5);
      }
    }
    // a constant image blurs to itself
    expect(Array.from(gaussianBlur(new Float32Array(12).fill(3), 3, 4, 2)).every((v) => Math.abs(v - 3) < 1e-6)).toBe(true);
  });
});

describe('occlusion metrics', () => {
  it('is the drop of the target softmax probability and the argmax flip', () => {
    const e = Math.E;
    const r = occlusionMetrics(Float32Array.from([2, 1, 0]), Float32Array.from([0, 1, 2]), 0);
    // p0(original) = e²/(e² + e + 1), p0(occluded) = 1/(1 + e + e²)
    expect(r.occlusionDrop).toBeCloseTo((e * e - 1) / (e * e + e + 1), 6);
    expect(r.occlusionFlip).toBe(1);
    const same = occlusionMetrics(Float32Array.from([2, 1, 0]), Float32Array.from([3, 1, 0]), 0);
    expect(same.occlusionDrop).toBeLessThan(0); // occluding made the model more confident
    expect(same.occlusionFlip).toBe(0);
  });

  it('takes probabilities as they are when the model already outputs them', () => {
    const r = occlusionMetrics(Float32Array.from([0.7, 0.3]), Float32Array.from([0.4, 0.6]), 0, { probabilities: true });
    expect(r.occlusionDrop).toBeCloseTo(0.3, 6);
    expect(r.occlusionFlip).toBe(1);
  });

  it('batches: one predict call for all occluded images; null without a mask; 0 for an empty mask', async () => {
    // a linear two-class "model": logit0 = Σ channel 0, logit1 = Σ channel 1
    const predictCalls: number[] = [];
    const seen: Float32Array[] = [];
    const model = (x: Float32Array) => Float32Array.from([x.subarray(0, 6).reduce((a, b) => a + b, 0), x.subarray(6).reduce((a, b) => a + b, 0)]);
    const predict = async (inputs: Float32Array[]) => {
      predictCalls.push(inputs.length);
      seen.push(...inputs);
      return inputs.map(model);
    };
    const items = [
      { input: chw, invalid, logits: model(chw), target: 0 },
      { input: chw, invalid: null, logits: model(chw), target: 0 },
      { input: chw, invalid: new Uint8Array(6), logits: model(chw), target: 0 },
      { input: chw, invalid: Uint8Array.from([1, 0, 0, 0, 0, 0]), logits: model(chw), target: 1 },
    ];
    const results = await runOcclusion(items, chwShape, predict, { fill: 'mean' });
    expect(predictCalls).toEqual([2]);
    // The model saw occluded inputs: pixels changed exactly inside each item's invalid region, in some channel,
    // and nowhere else (a drop of ~0 below must not come from an input that was never occluded).
    expect(changedPixels(chw, seen[0], 2)).toEqual(Array.from(invalid));
    expect(changedPixels(chw, seen[1], 2)).toEqual([1, 0, 0, 0, 0, 0]);
    // item 0: logits 210, 90 → mean-filled 15, −15: p0 goes from 1 to 1 (both saturate) → drop ≈ 0, no flip
    expect(results[0]!.occlusionDrop).toBeCloseTo(0, 6);
    expect(results[0]!.occlusionFlip).toBe(0);
    expect(results[1]).toBeNull();
    expect(results[2]).toEqual({ occlusionDrop: 0, occlusionFlip: 0 });
    // item 3: pixel 0 (values 1, −1) → means of the rest 209/5 = 41.8 and 91/5 = 18.2: logits 250.8, 109.2 → p1 ≈ 0 before and after
    expect(results[3]!.occlusionFlip).toBe(0);
    expect(results[3]!.occlusionDrop).toBeCloseTo(0, 6);
    // the low-level API gives the same
    const plan = occlusionInputs(items, chwShape, { fill: 'mean' });
    expect(plan.slots).toEqual([0, 'none', 'unchanged', 1]);
    expect(occlusionResults(items, plan, plan.inputs.map(model))).toEqual(results);
    expect(() => occlusionResults(items, plan, [])).toThrow(/0 outputs for 2 occluded inputs/);
  });

  it('detects a model that relies on the invalid pixels', async () => {
    // class 1 fires on bright pixels in the invalid column only: logit1 = x[2] + x[5] − 150, logit0 = 0
    const model = (x: Float32Array) => Float32Array.from([0, x[2] + x[5] - 150]);
    const seen: Float32Array[] = [];
    const [r] = await runOcclusion([{ input: chw, invalid, logits: model(chw), target: 1 }], chwShape, async (xs) => (seen.push(...xs), xs.map(model)), { fill: 'mean' });
    expect(changedPixels(chw, seen[0], 2)).toEqual(Array.from(invalid));
    // original logit1 = 50 → p1 ≈ 1; occluded 2.5 + 2.5 − 150 = −145 → p1 ≈ 0
    expect(r!.occlusionDrop).toBeCloseTo(1, 6);
    expect(r!.occlusionFlip).toBe(1);
  });
});

describe('occlusion fill equals the per-pixel definition', () => {
  /** Per channel: the mean over the valid pixels in pixel order (0 when none), written into each invalid pixel. */
  function perPixelMean(input: Float32Array, shape: TensorShape, mask: Uint8Array): Float32Array {
    const { channels, height, width, layout } = shape;
    const n = height * width;
    const at = (c: number, p: number) => (layout === 'CHW' ? c * n + p : p * channels + c);
    const out = Float32Array.from(input);
    for (let c = 0; c < channels; c++) {
      let sum = 0;
      let count = 0;
      for (let p = 0; p < n; p++) {
        if (mask[p] === 0) {
          sum += input[at(c, p)];
          count++;
        }
      }
      for (let p = 0; p < n; p++) if (mask[p] !== 0) out[at(c, p)] = count > 0 ? sum / count : 0;
    }
    return out;
  }
  const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
  let seed = 3;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

  const masks = (n: number) => maskVariety(n, next);

  it("'mean': NCHW and NHWC, 1 to 4 channels, every mask kind, ties and zeros in the input", () => {
    for (const [channels, height, width] of [[3, 13, 11], [1, 8, 8], [4, 5, 9], [3, 1, 1]]) {
      const input = Float32Array.from({ length: channels * height * width }, () => (next() < 0.2 ? 0 : next() < 0.2 ? 1 : next() * 4 - 2));
      for (const layout of ['CHW', 'HWC'] as const) {
        const shape: TensorShape = { layout, channels, height, width };
        for (const mask of masks(height * width)) {
          expect(same(occludeInput(input, shape, mask), perPixelMean(input, shape, mask))).toBe(true);
        }
      }
    }
  });

  it("'blur': the blurred plane inside the mask, the input outside it, in both layouts", () => {
    const [channels, height, width] = [3, 12, 10];
    const n = height * width;
    const input = Float32Array.from({ length: channels * n }, () => next());
    for (const layout of ['CHW', 'HWC'] as const) {
      const shape: TensorShape = { layout, channels, height, width };
      const at = (c: number, p: number) => (layout === 'CHW' ? c * n + p : p * channels + c);
      for (const mask of masks(n)) {
        const expected = Float32Array.from(input);
        for (let c = 0; c < channels; c++) {
          const plane = Float32Array.from({ length: n }, (_, p) => input[at(c, p)]);
          const blurred = gaussianBlur(plane, height, width, 2);
          for (let p = 0; p < n; p++) if (mask[p]) expected[at(c, p)] = blurred[p];
        }
        expect(same(occludeInput(input, shape, mask, { fill: 'blur', blurSigma: 2 }), expected)).toBe(true);
      }
    }
  });

  it('fills inputs larger than the working memory it keeps (own-size inputs)', () => {
    const [height, width] = [1025, 1024];
    const shape: TensorShape = { layout: 'CHW', channels: 1, height, width };
    const input = Float32Array.from({ length: height * width }, () => next());
    const blobs = Uint8Array.from({ length: height * width }, (_, p) => (p % width < 100 || p > height * width - 5 ? 1 : 0));
    const alternating = Uint8Array.from({ length: height * width }, (_, p) => p % 2); // a run boundary at every pixel
    for (const mask of [blobs, alternating]) expect(same(occludeInput(input, shape, mask), perPixelMean(input, shape, mask))).toBe(true);
  });

  it('counts a mask of values other than 1 as occluding (occlusionInputs), and an all-zero one as unchanged', () => {
    const shape: TensorShape = { layout: 'CHW', channels: 1, height: 2, width: 2 };
    const input = Float32Array.from([1, 2, 3, 4]);
    const plan = occlusionInputs([{ input, invalid: Uint8Array.from([0, 0, 0, 255]) }, { input, invalid: new Uint8Array(4) }], shape);
    expect(plan.slots).toEqual([0, 'unchanged']);
    expect([...plan.inputs[0]]).toEqual([1, 2, 3, 2]);
  });
});

import { describe, expect, it } from 'vitest';
import { createMetricContext } from '../../../src/analysis/metrics/context.ts';
import { computeMetrics, getMetric } from '../../../src/analysis/metrics/registry.ts';
import { countSet, maskedSum, nonEmpty } from '../../../src/analysis/metrics/util.ts';
import { componentBoxes, fillBoxes, nearMask } from '../../../src/analysis/masks.ts';
import { mulberry32 } from '../../../src/numeric.ts';
import { maskVariety } from '../../helpers/masks.ts';

/**
 * The per-image kernels behind the metrics against plain loops written here: mask scans that take 4 pixels at a
 * time, entropy over the sorted map's runs, the pointing game's shortcut for a maximum inside the ROI.
 */

const next = mulberry32(99);

const masks = (n: number) => maskVariety(n, next);

/** Heatmaps of n pixels: random, spread over 20 decades, ties (few levels), zeros, constant, all zero, one hot pixel. */
function heatmaps(n: number): Float32Array[] {
  const hot = new Float32Array(n);
  hot[n >> 1] = 0.75;
  return [
    Float32Array.from({ length: n }, () => next()),
    Float32Array.from({ length: n }, () => next() * 10 ** Math.floor(next() * 20 - 10)), // sums that round at every step
    Float32Array.from({ length: n }, () => Math.floor(next() * 6) / 5),
    Float32Array.from({ length: n }, () => (next() < 0.6 ? 0 : next())),
    new Float32Array(n).fill(0.3),
    new Float32Array(n),
    hot,
  ];
}

describe('mask scans a word at a time equal the pixel loops', () => {
  it('maskedSum (bit for bit: the same terms in the same order), countSet and nonEmpty', () => {
    for (const n of [1, 3, 4, 5, 64, 223, 224 * 224]) {
      for (const mask of masks(n)) {
        for (const h of heatmaps(n)) {
          let sum = 0;
          for (let i = 0; i < n; i++) if (mask[i] !== 0) sum += h[i];
          expect(Object.is(maskedSum(h, mask), sum)).toBe(true);
        }
        let count = 0;
        for (let i = 0; i < n; i++) if (mask[i] !== 0) count++;
        expect(countSet(mask)).toBe(count);
        expect(nonEmpty(mask)).toBe(count > 0 ? mask : null);
      }
    }
    expect(nonEmpty(null)).toBeNull();
  });
});

describe('energy pointing game equals the mass share over the filled component boxes', () => {
  it('one object (summed in place) and several, on maps with ties, zeros and 20 decades; null for an all-zero map', () => {
    const [width, height] = [30, 20];
    for (let k = 0; k < 60; k++) {
      const roi = new Uint8Array(width * height);
      const objects = 1 + (k % 3);
      for (let o = 0; o < objects; o++) {
        const x = Math.floor(next() * 25), y = Math.floor(next() * 15);
        for (let p = 0; p < 8; p++) roi[(y + Math.floor(next() * 5)) * width + x + Math.floor(next() * 5)] = 1; // an irregular blob
      }
      for (const h of heatmaps(width * height)) {
        const boxes = fillBoxes(componentBoxes(roi, width, height), width, height);
        let total = 0;
        for (const v of h) total += v;
        let inside = 0;
        for (let i = 0; i < h.length; i++) if (boxes[i]) inside += h[i];
        const ctx = createMetricContext({ cam: h, camHeight: height, camWidth: width, height, width, heatmap: h, roi, predicted: 0, target: 0 });
        const got = getMetric('energyPointingGame').compute(ctx);
        expect(got === null ? null : Object.is(got, inside / total)).toBe(total > 0 ? true : null);
      }
    }
  });
});

describe('entropy over the sorted runs equals the definition in pixel order', () => {
  /** scipy.stats.entropy of |h|: p = |h|/Σ|h|, −Σ p ln p with 0·ln 0 = 0; null when Σ|h| = 0. */
  function plainEntropy(h: Float32Array): number | null {
    let total = 0;
    for (const v of h) total += Math.abs(v);
    if (!(total > 0)) return null;
    let e = 0;
    for (const v of h) {
      const p = Math.abs(v) / total;
      if (p > 0) e -= p * Math.log(p);
    }
    return e;
  }
  const entropyOf = (h: Float32Array, width: number) =>
    getMetric('entropy').compute(createMetricContext({ cam: h, camHeight: h.length / width, camWidth: width, height: h.length / width, width, heatmap: h, predicted: 0, target: 0 }));

  it('within 1e-12 relative on random maps, ties, zeros, constant maps; null for an all-zero map; 0 for one hot pixel', () => {
    for (const n of [4, 100, 224 * 224]) {
      for (const h of heatmaps(n)) {
        const expected = plainEntropy(h);
        const got = entropyOf(h, n === 100 ? 10 : n === 4 ? 2 : 224);
        if (expected === null || expected === 0) expect(got).toBe(expected);
        else expect(Math.abs(got! - expected) / expected).toBeLessThanOrEqual(1e-12);
      }
    }
  });

  it('on upsampled CAMs (the maps `run` sees) and on maps with negative values (|h|)', () => {
    for (let k = 0; k < 5; k++) {
      const cam = Float32Array.from({ length: 49 }, () => Math.max(0, next() - 0.3));
      const ctx = createMetricContext({ cam, camHeight: 7, camWidth: 7, height: 224, width: 224, predicted: 0, target: 0 });
      const expected = plainEntropy(ctx.heatmap)!;
      expect(Math.abs(computeMetrics(ctx, ['entropy']).entropy! - expected) / expected).toBeLessThanOrEqual(1e-12);
    }
    const signed = Float32Array.from({ length: 400 }, () => next() * 2 - 1);
    expect(Math.abs(entropyOf(signed, 20)! - plainEntropy(signed)!) / plainEntropy(signed)!).toBeLessThanOrEqual(1e-12);
  });
});

describe('pointing game equals the disc search from every maximum', () => {
  const width = 24;
  const height = 20;
  const reference = (h: Float32Array, roi: Uint8Array, tolerance: number) => {
    let max = -Infinity;
    for (const v of h) max = Math.max(max, v);
    for (let i = 0; i < h.length; i++) {
      if (h[i] === max && nearMask(roi, width, height, i % width, Math.floor(i / width), tolerance)) return 1;
    }
    return 0;
  };

  it('a plateau of maxima (a 5x4 block, at the border too) and one ROI pixel anywhere, at the edge of every tolerance', () => {
    for (const [bx, by] of [[9, 8], [0, 0], [19, 16]]) {
      const h = new Float32Array(width * height).fill(0.5);
      for (let y = by; y < by + 4; y++) h.fill(1, y * width + bx, y * width + bx + 5);
      for (let p = 0; p < width * height; p++) {
        const roi = new Uint8Array(width * height);
        roi[p] = 1;
        for (const tolerance of [0, 1, 1.5, 2, 2.9, 3, 4.2, 5]) {
          const ctx = createMetricContext({ cam: h, camHeight: height, camWidth: width, height, width, heatmap: h, roi, predicted: 0, target: 0, pointingTolerancePx: tolerance });
          expect(getMetric('pointingGame').compute(ctx)).toBe(reference(h, roi, tolerance));
        }
      }
    }
  });

  it('hits and misses with tied maxima (a few, and plateaus) inside and outside the ROI, at tolerances 0 to 15', () => {
    const width = 12;
    const height = 9;
    for (let k = 0; k < 80; k++) {
      const levels = k % 2 === 0 ? 4 : 40; // many tied maxima (a plateau), or a few
      const h = Float32Array.from({ length: width * height }, () => Math.floor(next() * levels));
      const roi = Uint8Array.from({ length: width * height }, () => (next() < (k % 3 === 0 ? 0.01 : 0.1) ? 1 : 0));
      if (!roi.includes(1) || !h.some((v) => v > 0)) continue;
      for (const tolerance of [0, 0.5, 1.5, 2.9, 4, 15]) {
        let max = -Infinity;
        for (const v of h) max = Math.max(max, v);
        let hit = 0;
        for (let i = 0; i < h.length; i++) {
          if (h[i] === max && nearMask(roi, width, height, i % width, Math.floor(i / width), tolerance)) hit = 1;
        }
        const ctx = createMetricContext({ cam: h, camHeight: height, camWidth: width, height, width, heatmap: h, roi, predicted: 0, target: 0, pointingTolerancePx: tolerance });
        expect(getMetric('pointingGame').compute(ctx)).toBe(hit);
      }
    }
  });
});

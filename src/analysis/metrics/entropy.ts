import type { Metric } from './types.ts';

/**
 * Quantus Complexity (complexity/complexity.py, Bhatt et al. 2020): Shannon entropy (natural log) of the
 * attribution taken as a distribution, p = |h|/Σ|h|, computed as scipy.stats.entropy (0·log 0 = 0).
 * Not normalised by log N, as in Quantus: the maximum, log N, depends on the model-input size.
 */
export const entropy: Metric = {
  name: 'entropy',
  description: 'Shannon entropy of the heatmap as a distribution (nats); lower = more concentrated',
  formula: '−Σ p·ln p, p = |h|/Σ|h|',
  source: 'Quantus Complexity (Bhatt et al. 2020)',
  // [0, ln N]; N (the model-input size) is not known to a policy, so the declared upper end is open.
  range: [0, Infinity],
  higherIsBetter: false,
  compute: (ctx) => {
    // Non-negative maps (every CAM heatmap): Σ|h| is heatSum, and the sorted copy (shared with sparseness and
    // topKPrecision) puts equal values side by side, so each distinct value costs one log, its term times its count.
    // The terms are summed in value order, not pixel order: all are >= 0 (p <= 1), so the sum stays within a few
    // ulps of the pixel-order one (tests check 1e-12 relative).
    const sorted = ctx.sortedHeatmap;
    if (!(sorted[0] >= 0)) return pixelOrderEntropy(ctx.heatmap);
    const total = ctx.heatSum;
    if (!(total > 0)) return null;
    let e = 0;
    for (let i = 0, n = sorted.length; i < n;) {
      const v = sorted[i];
      let j = i + 1;
      while (j < n && sorted[j] === v) j++;
      const p = v / total;
      if (p > 0) e -= (j - i) * (p * Math.log(p));
      i = j;
    }
    return e;
  },
};

/** The definition as written, for maps with negative values (|h|), in pixel order. */
function pixelOrderEntropy(h: Float32Array): number | null {
  let total = 0;
  for (let i = 0; i < h.length; i++) total += Math.abs(h[i]);
  if (!(total > 0)) return null;
  let e = 0;
  for (let i = 0; i < h.length; i++) {
    const p = Math.abs(h[i]) / total;
    if (p > 0) e -= p * Math.log(p);
  }
  return e;
}

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
    const h = ctx.heatmap;
    let total = 0;
    for (let i = 0; i < h.length; i++) total += Math.abs(h[i]);
    if (!(total > 0)) return null;
    let e = 0;
    for (let i = 0; i < h.length; i++) {
      const p = Math.abs(h[i]) / total;
      if (p > 0) e -= p * Math.log(p);
    }
    return e;
  },
};

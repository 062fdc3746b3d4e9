import type { Metric } from './types.ts';

/**
 * Quantus Sparseness (complexity/sparseness.py, Chalasani et al. 2020): the Gini index of the attribution,
 * after Quantus' defaults abs=True and normalise_by_max, plus 1e-7:
 * a = |h|/max|h| + 1e-7, sorted ascending, Gini = Σ_i (2i − N − 1)·a_i / (N·Σa), i = 1..N.
 */
export const sparseness: Metric = {
  name: 'sparseness',
  description: 'Gini index of the heatmap: 1 = all mass on one pixel, 0 = uniform',
  formula: 'Σ_i (2i−N−1)·a_(i) / (N·Σa), a = |h|/max|h| + 1e-7 sorted ascending',
  source: 'Quantus Sparseness (Chalasani et al. 2020)',
  // A Gini index: 0 (uniform) to (N-1)/N < 1 (one pixel).
  range: [0, 1],
  higherIsBetter: true,
  compute: (ctx) => {
    if (!(ctx.heatSum > 0)) return null;
    const sorted = ctx.sortedHeatmap;
    const n = sorted.length;
    // |h| keeps the order of the (non-negative) heatmap; sort |h| afresh only if a caller passed negatives.
    const abs = sorted[0] >= 0 ? sorted : Float32Array.from(sorted, Math.abs).sort();
    const max = abs[n - 1];
    let weighted = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const a = abs[i] / max + 1e-7;
      weighted += (2 * (i + 1) - n - 1) * a;
      total += a;
    }
    return weighted / (n * total);
  },
};

import { nearMask } from '../masks.ts';
import type { Metric } from './types.ts';
import { nonEmpty } from './util.ts';

/**
 * Pointing game (Zhang et al. 2016, "Top-down Neural Attention by Excitation Backprop"): a hit when the
 * heatmap's maximum lies within `pointingTolerancePx` (default 15/224 of the input's shorter side: the
 * paper's and TorchRay's 15 px on 224-px inputs) of the ROI, i.e.
 * inside the ROI dilated by a disc of that radius, measured between pixel centres in the model frame. With
 * tied maxima any one inside counts, as in Quantus' PointingGame (any(s ∧ (a == max a))).
 */
export const pointingGame: Metric = {
  name: 'pointingGame',
  description: 'hit (1) when the heatmap maximum lies in the ROI dilated by the tolerance, else 0',
  formula: '1[∃ p ∈ argmax h : dist(p, s_roi) ≤ tol]',
  source: 'Zhang et al. 2016 (ECCV) pointing game, 15 px tolerance at 224 px; Quantus PointingGame',
  range: [0, 1],
  needs: 'roi',
  higherIsBetter: true,
  compute: (ctx) => {
    const roi = nonEmpty(ctx.roi);
    if (!roi || !(ctx.heatSum > 0)) return null;
    const h = ctx.heatmap;
    let max = -Infinity;
    for (let i = 0; i < h.length; i++) if (h[i] > max) max = h[i];
    for (let i = 0; i < h.length; i++) {
      if (h[i] !== max) continue;
      if (roi[i] && ctx.pointingTolerancePx >= 0) return 1; // distance 0: no need to search the disc
      const x = i % ctx.width;
      if (nearMask(roi, ctx.width, ctx.height, x, (i - x) / ctx.width, ctx.pointingTolerancePx)) return 1;
    }
    return 0;
  },
};

import type { Metric } from './types.ts';
import { countSet, nonEmpty } from './util.ts';

/**
 * Quantus RelevanceRankAccuracy (localisation/relevance_rank_accuracy.py): with K = |s|, the share of the K
 * highest-ranked pixels that lie in the ROI, i.e. precision at K (not an IoU: the union never enters; it was
 * called topKIoU before, and a policy naming that gets an error, not a silent change of meaning). Ties at the
 * K-th value are taken in row-major pixel order.
 */
export const topKPrecision: Metric = {
  name: 'topKPrecision',
  description: 'precision at K: share of the K = |ROI| highest heatmap pixels that lie in the ROI (relevance rank accuracy)',
  range: [0, 1],
  needs: 'roi',
  formula: '|topK(h) ∩ s_roi| / K, K = |s_roi|',
  source: 'Quantus RelevanceRankAccuracy (Arras et al. 2022)',
  higherIsBetter: true,
  compute: (ctx) => {
    const roi = nonEmpty(ctx.roi);
    if (!roi || !(ctx.heatSum > 0)) return null;
    const h = ctx.heatmap;
    const k = countSet(roi);
    const threshold = ctx.sortedHeatmap[h.length - k]; // the K-th largest value
    let above = 0;
    let hits = 0;
    for (let i = 0; i < h.length; i++) {
      if (h[i] > threshold) {
        above++;
        if (roi[i]) hits++;
      }
    }
    let ties = k - above; // pixels equal to the threshold that still fit in the top K
    for (let i = 0; i < h.length && ties > 0; i++) {
      if (h[i] === threshold) {
        ties--;
        if (roi[i]) hits++;
      }
    }
    return hits / k;
  },
};

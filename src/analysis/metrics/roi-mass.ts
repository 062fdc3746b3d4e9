import type { Metric } from './types.ts';
import { massShare, nonEmpty } from './util.ts';

/** Quantus RelevanceMassAccuracy (localisation/relevance_mass_accuracy.py): Σ(a·s)/Σa. */
export const roiMass: Metric = {
  name: 'roiMass',
  description: 'share of the heatmap mass inside the region of interest (relevance mass accuracy)',
  formula: 'Σ(h·s_roi) / Σh',
  source: 'Quantus RelevanceMassAccuracy (Arras et al. 2022)',
  range: [0, 1],
  needs: 'roi',
  higherIsBetter: true,
  compute: (ctx) => {
    const roi = nonEmpty(ctx.roi);
    return roi ? massShare(ctx.heatmap, ctx.heatSum, roi) : null;
  },
};

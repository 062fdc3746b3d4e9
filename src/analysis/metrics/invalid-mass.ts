import type { Metric } from './types.ts';
import { massShare } from './util.ts';

/**
 * Share of the positive heatmap on invalid pixels: Quantus' Relevance Mass Accuracy with the invalid mask as
 * s. An empty (annotated, nothing invalid) mask gives 0; a missing one gives null.
 */
export const invalidMass: Metric = {
  name: 'invalidMass',
  description: 'share of the heatmap mass that falls on invalid pixels',
  formula: 'Σ(h·s_invalid) / Σh',
  source: 'Quantus RelevanceMassAccuracy (Arras et al. 2022) on the invalid mask; Borg et al. 2021',
  range: [0, 1],
  needs: 'invalid',
  higherIsBetter: false,
  compute: (ctx) => (ctx.invalid ? massShare(ctx.heatmap, ctx.heatSum, ctx.invalid) : null),
};

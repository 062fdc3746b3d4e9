import type { Metric } from './types.ts';
import { countSet } from './util.ts';

/** Context for invalidMass: a heatmap spread uniformly would put exactly this share on invalid pixels. */
export const invalidArea: Metric = {
  name: 'invalidArea',
  description: 'share of the model-input pixels that are invalid (context, not a model score)',
  formula: '|s_invalid| / N',
  source: 'heatgate (baseline for invalidMass)',
  range: [0, 1],
  needs: 'invalid',
  higherIsBetter: false,
  compute: (ctx) => (ctx.invalid ? countSet(ctx.invalid) / ctx.invalid.length : null),
};

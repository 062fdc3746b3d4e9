import { countOnes } from '../masks.ts';
import type { Metric } from './types.ts';

/** Context for invalidMass: a heatmap spread uniformly would put exactly this share on invalid pixels. */
export const invalidArea: Metric = {
  name: 'invalidArea',
  description: 'share of the model-input pixels that are invalid (context, not a model score)',
  formula: '|s_invalid| / N',
  source: 'heatgate (baseline for invalidMass)',
  range: [0, 1],
  needs: 'invalid',
  higherIsBetter: false,
  compute: (ctx) => (ctx.invalid ? countOnes(ctx.invalid) / ctx.invalid.length : null),
};

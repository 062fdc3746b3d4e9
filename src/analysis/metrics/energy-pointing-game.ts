import { componentBoxes, fillBoxes } from '../masks.ts';
import type { Metric } from './types.ts';
import { massShare, nonEmpty } from './util.ts';

/**
 * Energy-based pointing game (Wang et al. 2020, Score-CAM, sec. 5.2): the share of the heatmap energy inside
 * the object's bounding box rather than its exact mask. The boxes are those of the ROI's 8-connected
 * components, so several objects count as several boxes; for a box-shaped ROI (COCO bbox) it equals roiMass.
 */
export const energyPointingGame: Metric = {
  name: 'energyPointingGame',
  description: 'share of the heatmap mass inside the bounding box(es) of the ROI',
  formula: 'Σ(h·bbox(s_roi)) / Σh',
  source: 'Wang et al. 2020 (CVPRW), Score-CAM energy-based pointing game',
  range: [0, 1],
  needs: 'roi',
  higherIsBetter: true,
  compute: (ctx) => {
    const roi = nonEmpty(ctx.roi);
    if (!roi) return null;
    const boxes = fillBoxes(componentBoxes(roi, ctx.width, ctx.height), ctx.width, ctx.height);
    return massShare(ctx.heatmap, ctx.heatSum, boxes);
  },
};

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
    const boxes = componentBoxes(roi, ctx.width, ctx.height);
    if (boxes.length !== 1) return massShare(ctx.heatmap, ctx.heatSum, fillBoxes(boxes, ctx.width, ctx.height));
    // One object (the usual case): the box's rows summed in place, in pixel order as over the filled mask.
    if (!(ctx.heatSum > 0)) return null;
    const h = ctx.heatmap;
    const [x0, y0, x1, y1] = boxes[0];
    let sum = 0;
    for (let y = y0; y <= y1; y++) {
      for (let i = y * ctx.width + x0, end = y * ctx.width + x1; i <= end; i++) sum += h[i];
    }
    return sum / ctx.heatSum;
  },
};

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
    const { width, height, pointingTolerancePx: tolerance } = ctx;
    let max = -Infinity;
    let ties = 0;
    for (let i = 0; i < h.length; i++) {
      if (h[i] > max) {
        max = h[i];
        ties = 1;
      } else if (h[i] === max) ties++;
    }
    // A plateau of maxima (a CAM's corner cell upsampled: 16x16 pixels at 224 px) searched disc by disc costs
    // (2r+1)² reads per pixel; with the ROI's row prefix counts it is one lookup per disc row.
    const rows = ties > 16 ? rowPrefixCounts(roi, width, height) : null;
    for (let i = 0; i < h.length; i++) {
      if (h[i] !== max) continue;
      if (roi[i] && tolerance >= 0) return 1; // distance 0: no need to search the disc
      const x = i % width;
      const y = (i - x) / width;
      if (rows ? nearByRows(rows, width, height, x, y, tolerance) : nearMask(roi, width, height, x, y, tolerance)) return 1;
    }
    return 0;
  },
};

/** Per row y, prefix[y * (width + 1) + x] = the number of set pixels among the row's first x. */
function rowPrefixCounts(mask: Uint8Array, width: number, height: number): Int32Array {
  const prefix = new Int32Array((width + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width + 1);
    for (let x = 0; x < width; x++) prefix[row + x + 1] = prefix[row + x] + (mask[y * width + x] ? 1 : 0);
  }
  return prefix;
}

/**
 * nearMask's answer (a set pixel within `radius` of (x, y), between pixel centres, offsets |dx|, |dy| <= floor(radius)
 * with dx² + dy² <= radius²) from the row prefix counts: per disc row, the widest |dx| that passes the same test.
 */
function nearByRows(prefix: Int32Array, width: number, height: number, x: number, y: number, radius: number): boolean {
  const r = Math.floor(radius);
  const r2 = radius * radius;
  for (let dy = -r; dy <= r; dy++) {
    const ny = y + dy;
    if (ny < 0 || ny >= height) continue;
    let a = Math.min(r, Math.floor(Math.sqrt(Math.max(0, r2 - dy * dy))));
    while (a < r && (a + 1) * (a + 1) + dy * dy <= r2) a++;
    while (a >= 0 && a * a + dy * dy > r2) a--;
    if (a < 0) continue;
    const lo = Math.max(0, x - a);
    const hi = Math.min(width - 1, x + a);
    if (lo > hi) continue;
    const row = ny * (width + 1);
    if (prefix[row + hi + 1] - prefix[row + lo] > 0) return true;
  }
  return false;
}

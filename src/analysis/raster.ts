import type { Geometry } from '../imaging/index.ts';

/**
 * Rasterisation into the model-input frame (dstHeight x dstWidth, row-major 0/1 bytes).
 *
 * Region coordinates are edge-based, as in COCO: pixel (i, j) covers [i, i+1) x [j, j+1), so a bbox
 * [0, 0, 2, 2] covers pixels 0 and 1 in each direction. The geometry (imaging/geometry.ts) maps pixel-centre
 * coordinates (pixel i is centred on i), so an edge-based source point X becomes the model-frame edge-based
 * point ((X - 0.5)*scaleX + offsetX) + 0.5; for a plain resize that is X*scaleX.
 *
 * Pixel-centre sampling: a model pixel (u, v) is inside a shape when its centre (u + 0.5, v + 0.5) is.
 * Centres exactly on a left or top edge count as inside, on a right or bottom edge as outside, so two shapes
 * that share an edge never both claim a pixel and a box [x, y, w, h] with integer corners in an identity
 * geometry covers exactly w*h pixels. Polygons are filled with the even-odd rule; several polygons are OR-ed.
 */

export type Point = readonly [number, number];

/**
 * Rounds to a 2^-20 pixel grid: shapes whose edges fall exactly on pixel centres (e.g. a box at x = 15 resized
 * by 0.1) then land there exactly instead of 2e-16 to either side, where float noise would pick the side.
 */
const snap = (v: number): number => Math.round(v * 1048576) / 1048576;

/** Edge-based source point → edge-based model-frame point. */
export function toModelFrame(p: Point, g: Geometry): [number, number] {
  return [snap((p[0] - 0.5) * g.scaleX + g.offsetX + 0.5), snap((p[1] - 0.5) * g.scaleY + g.offsetY + 0.5)];
}

/** ORs one polygon (model-frame coordinates) into `out` (width x height). */
export function fillPolygon(out: Uint8Array, width: number, height: number, points: readonly Point[]): void {
  const n = points.length;
  if (n < 3) return;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const [, y] of points) {
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  const vStart = Math.max(0, Math.ceil(minY - 0.5));
  const vEnd = Math.min(height - 1, Math.ceil(maxY - 0.5) - 1);
  const xs: number[] = [];
  for (let v = vStart; v <= vEnd; v++) {
    const cy = v + 0.5;
    xs.length = 0;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const [x0, y0] = points[j];
      const [x1, y1] = points[i];
      // Half-open crossing test: an edge counts when the centre line is in [min y, max y).
      if (y0 <= cy !== y1 <= cy) xs.push(x0 + ((cy - y0) * (x1 - x0)) / (y1 - y0));
    }
    xs.sort((a, b) => a - b);
    const row = v * width;
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // centre u + 0.5 in [xa, xb)
      const uStart = Math.max(0, Math.ceil(xs[k] - 0.5));
      const uEnd = Math.min(width, Math.ceil(xs[k + 1] - 0.5));
      if (uEnd > uStart) out.fill(1, row + uStart, row + uEnd);
    }
  }
}

/** ORs a source-frame polygon into the model-frame mask through the geometry. */
export function fillSourcePolygon(out: Uint8Array, g: Geometry, points: readonly Point[]): void {
  fillPolygon(out, g.dstWidth, g.dstHeight, points.map((p) => toModelFrame(p, g)));
}

/** ORs a source-frame box [x, y, w, h] into the model-frame mask through the geometry. */
export function fillSourceBox(out: Uint8Array, g: Geometry, box: readonly [number, number, number, number]): void {
  const [x, y, w, h] = box;
  fillSourcePolygon(out, g, [
    [x, y],
    [x + w, y],
    [x + w, y + h],
    [x, y + h],
  ]);
}

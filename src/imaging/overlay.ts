import sharp from 'sharp';
import { invalidParameter } from '../errors.ts';
import { colormapIndex, colormapLut, DEFAULT_COLORMAP } from './colormap.ts';
import type { Geometry } from './geometry.ts';
import { normalizeMinMax } from './heatmap.ts';

/**
 * Maps a model-frame map (any resolution: it spans the whole dstWidth x dstHeight model input) back onto the
 * source image through the inverse geometry, sampling it bilinearly (cv2 INTER_LINEAR conventions) at each
 * source pixel centre. Returns srcWidth * srcHeight values; NaN where a source pixel lies outside the model
 * input (cropped away by `center-crop`).
 */
export function mapToSource(map: Float32Array | Uint8Array, mapHeight: number, mapWidth: number, g: Geometry): Float32Array {
  if (map.length !== mapHeight * mapWidth) {
    throw invalidParameter('map length', `${mapHeight}*${mapWidth} = ${mapHeight * mapWidth}`, map.length);
  }
  const cols = sourceTaps(g.srcWidth, g.scaleX, g.offsetX, g.dstWidth, mapWidth);
  const rows = sourceTaps(g.srcHeight, g.scaleY, g.offsetY, g.dstHeight, mapHeight);
  const out = new Float32Array(g.srcWidth * g.srcHeight).fill(Number.NaN);
  for (let y = 0; y < g.srcHeight; y++) {
    if (!rows.inside[y]) continue;
    const r0 = rows.i0[y] * mapWidth, r1 = rows.i1[y] * mapWidth, wy = rows.w1[y];
    for (let x = 0; x < g.srcWidth; x++) {
      if (!cols.inside[x]) continue;
      const c0 = cols.i0[x], c1 = cols.i1[x], wx = cols.w1[x];
      const top = map[r0 + c0] * (1 - wx) + map[r0 + c1] * wx;
      const bottom = map[r1 + c0] * (1 - wx) + map[r1 + c1] * wx;
      out[y * g.srcWidth + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}

/** Source index -> model coordinate u = x * scale + offset -> map coordinate (u + 0.5) * m / dst - 0.5. */
function sourceTaps(src: number, scale: number, offset: number, dst: number, m: number) {
  const taps = { i0: new Int32Array(src), i1: new Int32Array(src), w1: new Float64Array(src), inside: new Uint8Array(src) };
  for (let x = 0; x < src; x++) {
    const u = x * scale + offset;
    if (u < -0.5 || u >= dst - 0.5) continue;
    taps.inside[x] = 1;
    const p = Math.min(Math.max(((u + 0.5) * m) / dst - 0.5, 0), m - 1);
    taps.i0[x] = Math.floor(p);
    taps.i1[x] = Math.min(taps.i0[x] + 1, m - 1);
    taps.w1[x] = p - taps.i0[x];
  }
  return taps;
}

export interface OverlayArgs {
  /** Source image, 3-channel uint8, width x height (PreparedImage.rgb). */
  rgb: Buffer;
  width: number;
  height: number;
  /** Heat in the model frame, any resolution: the raw CAM is fine (see `normalize`). */
  heatmap: Float32Array;
  heatmapHeight: number;
  heatmapWidth: number;
  geometry: Geometry;
  /** A key of COLORMAPS; default inferno. */
  colormap?: string;
  /** Weight of the heat colour, 0..1; default 0.5 (pytorch-grad-cam's show_cam_on_image). */
  alpha?: number;
  /**
   * Min-max normalise the heatmap first (normalizeMinMax, as pytorch-grad-cam shows CAMs); default true.
   * With false the values are used as they are, clipped to [0, 1].
   */
  normalize?: boolean;
  /** Region masks in the model frame (dstWidth x dstHeight, 0/1), outlined in the given colours. */
  outlines?: { mask: Uint8Array; color: [number, number, number] }[];
}

/**
 * Overlay PNG at source size: the heatmap (min-max normalised unless `normalize: false`) mapped back through
 * the inverse geometry, coloured and blended over the source image as (1 - alpha) * image + alpha * colour.
 * Pixels outside the model input (cropped away) keep the plain image. Region outlines are drawn on the inside
 * edge of each mask, 1 px thick (2 px when the image's shorter side is 512 px or more).
 */
export async function renderOverlay(args: OverlayArgs): Promise<Buffer> {
  const { rgb, width, height, geometry: g } = args;
  const alpha = args.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw invalidParameter('alpha', 'a number between 0 and 1', alpha);
  if (width !== g.srcWidth || height !== g.srcHeight) {
    throw invalidParameter('width x height', `the geometry's ${g.srcWidth}x${g.srcHeight}`, `${width}x${height}`);
  }
  if (rgb.length !== width * height * 3) throw invalidParameter('rgb length', `${width}*${height}*3`, rgb.length);
  const lut = colormapLut(args.colormap ?? DEFAULT_COLORMAP);
  const map = args.normalize === false ? args.heatmap : normalizeMinMax(args.heatmap);
  const heat = mapToSource(map, args.heatmapHeight, args.heatmapWidth, g);
  const out = Buffer.from(rgb);
  for (let i = 0; i < heat.length; i++) {
    const h = heat[i];
    if (Number.isNaN(h)) continue;
    const k = 3 * colormapIndex(h);
    for (let c = 0; c < 3; c++) out[3 * i + c] = Math.round((1 - alpha) * rgb[3 * i + c] + alpha * lut[k + c]);
  }
  const thickness = Math.min(width, height) >= 512 ? 2 : 1;
  for (const { mask, color } of args.outlines ?? []) {
    const inside = mapToSource(mask, g.dstHeight, g.dstWidth, g);
    drawEdges(out, width, height, inside, color, thickness);
  }
  // zlib level 3: about twice as fast as the default 6 on a 12-megapixel image, files somewhat larger
  return sharp(out, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 3 }).toBuffer();
}

/** Colours inside pixels (sampled mask > 0.5) that have an outside pixel within `t` steps left/right/up/down. */
function drawEdges(out: Buffer, w: number, h: number, sampled: Float32Array, color: [number, number, number], t: number): void {
  const isIn = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < w && y < h && sampled[y * w + x] > 0.5;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!isIn(x, y)) continue;
      let edge = false;
      for (let d = 1; d <= t && !edge; d++) {
        edge = !isIn(x - d, y) || !isIn(x + d, y) || !isIn(x, y - d) || !isIn(x, y + d);
      }
      if (edge) out.set(color, 3 * (y * w + x));
    }
  }
}

import sharp from 'sharp';
import { InfrastructureError } from '../errors.ts';
import { decodeMaskShrunk, decodeOpenedMask, decodeOpenedRgb, decodeRgbShrunk, type DecodedPixels, type OpenedImage } from './decode.ts';
import { resampleLayout, type Geometry } from './geometry.ts';
import { linearTaps } from './heatmap.ts';

/**
 * Resamples decoded pixels into the model frame that `g` describes: returns dstHeight x dstWidth x channels
 * float values on the 0..255 scale, interleaved (HWC), 0 (black) in letterbox padding.
 *
 * Downscaling is libvips' `reduce` with the `linear` kernel: a triangle filter widened by the scale factor,
 * i.e. an antialiased bilinear, which is what PIL's `BILINEAR` resize does (mean |difference| to PIL about
 * 0.25/255 on photos). It samples pixel centres; measured against a linear ramp, its positions stay within
 * 0.25 output pixels of `g` (a slight scale drift in libvips' fixed-point reducer). Upscaling is done here,
 * on the small output grid, as plain bilinear interpolation with edge clamping: libvips' upsizing path shifts
 * the image by half an output pixel (and by half a pixel on the other axis when only one axis grows), which no
 * geometry of this form could describe. Resampling from the decoded raw pixels, not the file, also keeps JPEG
 * shrink-on-load (which rounds sizes up) out of the geometry.
 */
export async function resampleToModel(px: DecodedPixels, g: Geometry, name = '<image>'): Promise<Float32Array> {
  return interpolateToModel(await reduceForModel(px, g, name), g);
}

/**
 * The libvips step of `resampleToModel`: the pixels downscaled to the resampled size of `g` on each axis that
 * shrinks (axes that grow keep their size). When no axis grows (`isPlainCopy`), the model frame is these pixels
 * shifted by the crop or padding, with nothing left to interpolate.
 */
export async function reduceForModel(px: DecodedPixels, g: Geometry, name = '<image>'): Promise<DecodedPixels> {
  if (px.width !== g.srcWidth || px.height !== g.srcHeight) {
    throw new InfrastructureError(
      `geometry is for ${g.srcWidth}x${g.srcHeight} but the image is ${px.width}x${px.height}`, name);
  }
  const c = px.channels;
  const { width: downW, height: downH } = reducedSize(g);
  if (downW === px.width && downH === px.height) return px;
  try {
    let pipeline = sharp(px.data, { raw: { width: px.width, height: px.height, channels: c } })
      .resize(downW, downH, { fit: 'fill', kernel: 'linear' });
    if (c === 1) pipeline = pipeline.toColourspace('b-w');
    return { data: await pipeline.raw().toBuffer(), width: downW, height: downH, channels: c };
  } catch (error) {
    throw new InfrastructureError(`resampling failed: ${(error as Error).message}`, name);
  }
}

/**
 * An opened image brought to `reducedSize(g)`: its pixels (`rgb`), or its mask values (`mask`: the grey level, or the
 * largest of R, G, B of a colour mask, taken before the reduce). One sharp call where that gives the same bytes
 * (decode.ts `shrinkInOneCall`; of masks, greyscale ones), else the full decode and then `reduceForModel`.
 */
export async function decodeReduced(image: OpenedImage, g: Geometry, as: 'rgb' | 'mask'): Promise<DecodedPixels> {
  const { width, height } = reducedSize(g);
  if (as === 'rgb') {
    return image.shrinkInOneCall ? decodeRgbShrunk(image, width, height) : reduceForModel(await decodeOpenedRgb(image), g, image.source.name);
  }
  return !image.colour && image.shrinkInOneCall
    ? decodeMaskShrunk(image, width, height)
    : reduceForModel(await decodeOpenedMask(image), g, image.source.name);
}

/** The size `reduceForModel` brings the source of `g` to: the resampled size on axes that shrink, the source size on axes that grow. */
export function reducedSize(g: Geometry): { width: number; height: number } {
  const { scaledWidth, scaledHeight } = resampleLayout(g);
  return { width: Math.min(scaledWidth, g.srcWidth), height: Math.min(scaledHeight, g.srcHeight) };
}

/** True when `reduced` (from `reduceForModel`) already has the resampled size of `g`: no axis is upscaled. */
export function isPlainCopy(reduced: { width: number; height: number }, g: Geometry): boolean {
  const { scaledWidth, scaledHeight } = resampleLayout(g);
  return reduced.width === scaledWidth && reduced.height === scaledHeight;
}

/** The JS step of `resampleToModel`, on `reduceForModel`'s output: bilinear upscaling of the axes that grow, the crop shift and the padding. */
export function interpolateToModel(px: DecodedPixels, g: Geometry): Float32Array {
  const { scaledWidth, scaledHeight, shiftX, shiftY } = resampleLayout(g);
  const { data, width: w, height: h, channels: c } = px;
  const cols = axisTaps(w, scaledWidth, shiftX, g.dstWidth);
  const rows = axisTaps(h, scaledHeight, shiftY, g.dstHeight);
  const out = new Float32Array(g.dstWidth * g.dstHeight * c);
  for (let v = 0; v < g.dstHeight; v++) {
    if (!rows.inside[v]) continue;
    const r0 = rows.i0[v] * w, r1 = rows.i1[v] * w, wy = rows.w1[v];
    for (let u = 0; u < g.dstWidth; u++) {
      if (!cols.inside[u]) continue;
      const c0 = cols.i0[u], c1 = cols.i1[u], wx = cols.w1[u];
      const p00 = (r0 + c0) * c, p01 = (r0 + c1) * c, p10 = (r1 + c0) * c, p11 = (r1 + c1) * c;
      const o = (v * g.dstWidth + u) * c;
      for (let k = 0; k < c; k++) {
        const top = data[p00 + k] + (data[p01 + k] - data[p00 + k]) * wx;
        const bottom = data[p10 + k] + (data[p11 + k] - data[p10 + k]) * wx;
        out[o + k] = top + (bottom - top) * wy;
      }
    }
  }
  return out;
}

interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  w1: Float64Array;
  inside: Uint8Array;
}

/**
 * For each output index along one axis: the two intermediate samples to blend and the weight of the second.
 * `n` is the intermediate size: equal to `scaled` when libvips already resampled this axis (then one tap),
 * smaller when this axis is upscaled here (cv2/PIL bilinear, see `linearTaps`).
 */
function axisTaps(n: number, scaled: number, shift: number, dst: number): AxisTaps {
  const taps: AxisTaps = {
    i0: new Int32Array(dst), i1: new Int32Array(dst), w1: new Float64Array(dst), inside: new Uint8Array(dst),
  };
  const up = n === scaled ? undefined : linearTaps(n, scaled);
  for (let o = 0; o < dst; o++) {
    const s = o - shift;
    if (s < 0 || s >= scaled) continue;
    taps.inside[o] = 1;
    taps.i0[o] = up ? up.i0[s] : s;
    taps.i1[o] = up ? up.i1[s] : s;
    taps.w1[o] = up ? up.w1[s] : 0;
  }
  return taps;
}

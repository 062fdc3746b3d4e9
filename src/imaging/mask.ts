import { InputError } from '../errors.ts';
import { DEFAULT_MAX_PIXELS, openImage, type DecodedPixels } from './decode.ts';
import { resampleLayout, type Geometry } from './geometry.ts';
import { decodeReduced, interpolateToModel, isPlainCopy } from './resample.ts';

/**
 * Warps a mask image into the model frame with the same geometry (and the same resampler) as `prepareImage`,
 * so mask and model input line up pixel for pixel. The mask must have the source image's size after EXIF
 * rotation (its own EXIF orientation, if any, is applied first). Mask value: grey level, or the largest of
 * R, G, B for colour masks; alpha is dropped. The mask is resampled as grey values and then thresholded:
 * a model pixel is inside (1) when its resampled value is > 127.5, the midpoint of 0 and 255 (for
 * integer values the same as > 127), i.e. when more than about half of the source pixels under it are inside.
 * Letterbox padding is outside (0).
 *
 * Decoding: a greyscale 8-bit mask is decoded and shrunk in one sharp call (decode.ts `shrinkInOneCall`); a colour
 * mask is decoded at full size, since max(R, G, B) must be taken before resampling, and shrunk by a second call.
 *
 * @returns dstWidth * dstHeight bytes, row-major, each 0 or 1
 * @throws InputError when the mask cannot be decoded or its size does not match the image
 */
export async function warpMask(input: string | Buffer, geometry: Geometry, name?: string): Promise<Uint8Array> {
  const label = name ?? (typeof input === 'string' ? input : '<buffer>');
  // A mask has its image's size, and the image passed --max-pixels: allow that many pixels, and no fewer than the default.
  const maxPixels = Math.max(DEFAULT_MAX_PIXELS, geometry.srcWidth * geometry.srcHeight);
  const image = await openImage(input, label, { maxPixels });
  if (image.width !== geometry.srcWidth || image.height !== geometry.srcHeight) {
    throw new InputError(
      `mask is ${image.width}x${image.height} but its image is ${geometry.srcWidth}x${geometry.srcHeight} ` +
        '(sizes after EXIF rotation)',
      label,
    );
  }
  const reduced = await decodeReduced(image, geometry, 'mask');
  if (isPlainCopy(reduced, geometry)) return thresholdShifted(reduced, geometry);
  const warped = interpolateToModel(reduced, geometry);
  const mask = new Uint8Array(warped.length);
  for (let i = 0; i < warped.length; i++) mask[i] = warped[i] > 127.5 ? 1 : 0;
  return mask;
}

/**
 * The mask of reduced values that need no interpolation (`isPlainCopy`): each value thresholded (> 127, the same
 * as > 127.5 for integers) at its place shifted by the crop or padding; padding is 0.
 */
function thresholdShifted(reduced: DecodedPixels, g: Geometry): Uint8Array {
  const { shiftX, shiftY } = resampleLayout(g);
  const { data, width: w, height: h } = reduced;
  const mask = new Uint8Array(g.dstWidth * g.dstHeight);
  const u0 = Math.max(0, shiftX), u1 = Math.min(g.dstWidth, shiftX + w);
  const v0 = Math.max(0, shiftY), v1 = Math.min(g.dstHeight, shiftY + h);
  for (let v = v0; v < v1; v++) {
    let s = (v - shiftY) * w + (u0 - shiftX);
    for (let i = v * g.dstWidth + u0, end = v * g.dstWidth + u1; i < end; i++, s++) mask[i] = data[s] > 127 ? 1 : 0;
  }
  return mask;
}

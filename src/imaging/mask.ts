import { InputError } from '../errors.ts';
import { DEFAULT_MAX_PIXELS, decodeMaskValues } from './decode.ts';
import type { Geometry } from './geometry.ts';
import { resampleToModel } from './resample.ts';

/**
 * Warps a mask image into the model frame with the same geometry (and the same resampler) as `prepareImage`,
 * so mask and model input line up pixel for pixel. The mask must have the source image's size after EXIF
 * rotation (its own EXIF orientation, if any, is applied first). Mask value: grey level, or the largest of
 * R, G, B for colour masks; alpha is dropped. The mask is resampled as grey values and then thresholded:
 * a model pixel is inside (1) when its resampled value is > 127.5, the midpoint of 0 and 255 (for
 * integer values the same as > 127), i.e. when more than about half of the source pixels under it are inside.
 * Letterbox padding is outside (0).
 *
 * @returns dstWidth * dstHeight bytes, row-major, each 0 or 1
 * @throws InputError when the mask cannot be decoded or its size does not match the image
 */
export async function warpMask(input: string | Buffer, geometry: Geometry, name?: string): Promise<Uint8Array> {
  const label = name ?? (typeof input === 'string' ? input : '<buffer>');
  // A mask has its image's size, and the image passed --max-pixels: allow that many pixels, and no fewer than the default.
  const maxPixels = Math.max(DEFAULT_MAX_PIXELS, geometry.srcWidth * geometry.srcHeight);
  const values = await decodeMaskValues(input, label, { maxPixels });
  if (values.width !== geometry.srcWidth || values.height !== geometry.srcHeight) {
    throw new InputError(
      `mask is ${values.width}x${values.height} but its image is ${geometry.srcWidth}x${geometry.srcHeight} ` +
        '(sizes after EXIF rotation)',
      label,
    );
  }
  const warped = await resampleToModel(values, geometry, label);
  const mask = new Uint8Array(warped.length);
  for (let i = 0; i < warped.length; i++) mask[i] = warped[i] > 127.5 ? 1 : 0;
  return mask;
}

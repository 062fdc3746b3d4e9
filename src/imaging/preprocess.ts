import { invalidParameter } from '../errors.ts';
import { decodeRgb, openImage, type DecodedPixels } from './decode.ts';
import { geometryFor, resampleLayout, RESIZE_MODES, type Geometry, type ResizeMode } from './geometry.ts';
import { validateNormalization, type ChannelOrder, type Normalization } from './normalize.ts';
import { decodeReduced, interpolateToModel, isPlainCopy, reduceForModel } from './resample.ts';

export type Layout = 'NCHW' | 'NHWC';

export interface PreprocessOptions {
  width: number;
  height: number;
  channels: 1 | 3;
  layout: Layout;
  resize: ResizeMode;
  normalization: Normalization;
  /**
   * Run each image at its own size (models with symbolic height/width and no size given); `width`/`height` are then
   * ignored. A dimension the model fixes stays fixed and the other follows the image's aspect ratio.
   */
  ownSize?: { height?: number; width?: number };
  /** The order the model takes colour channels in (default rgb); mean and std stay per colour. */
  channelOrder?: ChannelOrder;
  /** Refuse images above this many pixels (decode.ts; default sharp's 268402689). */
  maxPixels?: number;
  /**
   * Also return the full-size source pixels (`PreparedImage.rgb`), for an overlay. Without it the image is decoded
   * straight to the model's size where that gives the same tensor, and the full-size pixels are never made.
   */
  keepRgb?: boolean;
  /**
   * Where the tensor goes: an array of `length` values the caller no longer needs (a pool of earlier images'
   * tensors; every value is overwritten), or undefined for a new one.
   */
  tensorBuffer?: (length: number) => Float32Array | undefined;
}

export interface PreparedImage {
  /** One image in `layout`: channels x height x width values (NCHW) or height x width x channels (NHWC). */
  tensor: Float32Array;
  geometry: Geometry;
  /** With `keepRgb`: the decoded, EXIF-rotated source image, 3-channel uint8 sRGB, width x height, row-major. */
  rgb?: Buffer;
  /** Source size after EXIF rotation. */
  width: number;
  height: number;
}

/** ITU-R 601 luma, the weights of PIL's `convert('L')` (torchvision's Grayscale). */
const LUMA = [0.299, 0.587, 0.114] as const;

/**
 * Decodes an image (JPEG, PNG, WebP, TIFF; EXIF orientation applied; alpha dropped as PIL's `convert('RGB')`
 * does), brings it to the model size with `options.resize` (see `geometryFor`), and normalises it into a float
 * tensor. A 1-channel model gets luma, a 3-channel model gets RGB (greyscale sources replicated).
 *
 * Decoding: with `keepRgb`, the full-size image is decoded and then shrunk from those pixels (two sharp calls);
 * without it, one sharp call decodes and shrinks at once where decode.ts's `shrinkInOneCall` says that gives the
 * same bytes (8-bit images without alpha; otherwise the two calls again). Either way the tensor is the same.
 *
 * @param name the file name used in error messages (defaults to the path, or `<buffer>`)
 * @throws InputError when the file is missing, empty, not a supported image, truncated or corrupt
 * @throws ConfigError when the options are invalid
 */
export function prepareImage(input: string | Buffer, options: PreprocessOptions & { keepRgb: true }, name?: string): Promise<PreparedImage & { rgb: Buffer }>;
export function prepareImage(input: string | Buffer, options: PreprocessOptions, name?: string): Promise<PreparedImage>;
export async function prepareImage(input: string | Buffer, options: PreprocessOptions, name?: string): Promise<PreparedImage> {
  validateOptions(options);
  const label = name ?? (typeof input === 'string' ? input : '<buffer>');
  const decodeOptions = { maxPixels: options.maxPixels };
  const fit = (image: { width: number; height: number }) => {
    const size = options.ownSize ? ownSizeOf(image, options.ownSize) : { width: options.width, height: options.height };
    return { size, geometry: geometryFor(image.width, image.height, size.width, size.height, options.resize) };
  };
  let source: { width: number; height: number; rgb?: Buffer };
  let reduced: DecodedPixels;
  let fitted: ReturnType<typeof fit>;
  if (options.keepRgb) {
    const decoded = await decodeRgb(input, label, decodeOptions);
    fitted = fit(decoded);
    reduced = await reduceForModel(decoded, fitted.geometry, label);
    source = { width: decoded.width, height: decoded.height, rgb: decoded.data };
  } else {
    const image = await openImage(input, label, decodeOptions);
    fitted = fit(image);
    reduced = await decodeReduced(image, fitted.geometry, 'rgb');
    source = { width: image.width, height: image.height };
  }
  const { size, geometry } = fitted;
  const tensorOptions = { ...options, ...size };
  // Without upscaling the model frame is the reduced pixels shifted (crop or padding): write the tensor straight
  // from them; the same values as going through resampleToModel's float frame, without building it.
  const tensor = isPlainCopy(reduced, geometry)
    ? writeTensor(reduced.data, reduced.width, reduced.height, resampleLayout(geometry), tensorOptions)
    : toTensor(interpolateToModel(reduced, geometry), tensorOptions);
  return { tensor, geometry, ...source };
}

/** The image's own size, with a dimension the model fixes kept and the other scaled to keep the aspect ratio. */
export function ownSizeOf(image: { width: number; height: number }, fixed: { height?: number; width?: number }): { width: number; height: number } {
  if (fixed.height !== undefined) return { height: fixed.height, width: Math.max(1, Math.round((image.width * fixed.height) / image.height)) };
  if (fixed.width !== undefined) return { width: fixed.width, height: Math.max(1, Math.round((image.height * fixed.width) / image.width)) };
  return { width: image.width, height: image.height };
}

type TensorOptions = Pick<PreprocessOptions, 'width' | 'height' | 'channels' | 'layout' | 'normalization' | 'channelOrder' | 'tensorBuffer'>;

/** HWC RGB floats on the 0..255 scale to the normalised tensor in the requested layout and channel count. */
export function toTensor(hwcRgb: Float32Array, options: TensorOptions): Float32Array {
  return writeTensor(hwcRgb, options.width, options.height, { shiftX: 0, shiftY: 0 }, options);
}

/**
 * HWC RGB values on the 0..255 scale (srcWidth x srcHeight, uint8 or float), placed at (shiftX, shiftY) in the
 * width x height model frame (negative: cropped, positive: padded with black), to the normalised tensor. One pass
 * per row, with the per-channel scale and offset worked out once; each value is `v * a[c] + b[c]` in double
 * precision, rounded once to float32, so uint8 and float input of the same values give the same bits.
 */
function writeTensor(
  src: Uint8Array | Float32Array,
  srcWidth: number,
  srcHeight: number,
  shift: { shiftX: number; shiftY: number },
  options: TensorOptions,
): Float32Array {
  const { width, height, channels, layout, normalization: n } = options;
  const plane = width * height;
  const spare = options.tensorBuffer?.(plane * channels);
  const tensor = spare?.length === plane * channels ? spare : new Float32Array(plane * channels);
  const [a0, a1, a2] = [0, 1, 2].map((c) => n.scale / n.std[c]);
  const [b0, b1, b2] = [0, 1, 2].map((c) => -n.mean[c] / n.std[c]);
  // Where red, green and blue go: the tensor index of pixel i's value is i * step + offset.
  const nchw = layout === 'NCHW';
  const step = channels === 1 || nchw ? 1 : 3;
  const order = options.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const [ro, go, bo] = order.map((k) => (nchw ? k * plane : k));
  // Black padding, computed as a pixel of value 0 (so the sign of a zero offset matches the pixels' own).
  if (shift.shiftX > 0 || shift.shiftY > 0 || shift.shiftX + srcWidth < width || shift.shiftY + srcHeight < height) {
    if (channels === 1) {
      tensor.fill(0 * a0 + b0);
    } else {
      for (let i = 0; i < plane; i++) {
        tensor[i * step + ro] = 0 * a0 + b0;
        tensor[i * step + go] = 0 * a1 + b1;
        tensor[i * step + bo] = 0 * a2 + b2;
      }
    }
  }
  const u0 = Math.max(0, shift.shiftX), u1 = Math.min(width, shift.shiftX + srcWidth);
  const v0 = Math.max(0, shift.shiftY), v1 = Math.min(height, shift.shiftY + srcHeight);
  for (let v = v0; v < v1; v++) {
    let s = ((v - shift.shiftY) * srcWidth + (u0 - shift.shiftX)) * 3;
    const rowEnd = v * width + u1;
    if (channels === 1) {
      for (let i = v * width + u0; i < rowEnd; i++, s += 3) {
        tensor[i] = (LUMA[0] * src[s] + LUMA[1] * src[s + 1] + LUMA[2] * src[s + 2]) * a0 + b0;
      }
    } else {
      for (let i = v * width + u0; i < rowEnd; i++, s += 3) {
        const t = i * step;
        tensor[t + ro] = src[s] * a0 + b0;
        tensor[t + go] = src[s + 1] * a1 + b1;
        tensor[t + bo] = src[s + 2] * a2 + b2;
      }
    }
  }
  return tensor;
}

function validateOptions(o: PreprocessOptions): void {
  if (!Number.isInteger(o?.width) || o.width < 1) throw invalidParameter('width', 'a positive integer', o?.width);
  if (!Number.isInteger(o.height) || o.height < 1) throw invalidParameter('height', 'a positive integer', o.height);
  if (o.channels !== 1 && o.channels !== 3) throw invalidParameter('channels', '1 or 3', o.channels);
  if (o.layout !== 'NCHW' && o.layout !== 'NHWC') throw invalidParameter('layout', 'NCHW | NHWC', o.layout);
  if (!RESIZE_MODES.includes(o.resize)) throw invalidParameter('resize', RESIZE_MODES.join(' | '), o.resize);
  validateNormalization(o.normalization);
  if (o.channelOrder !== undefined && o.channelOrder !== 'rgb' && o.channelOrder !== 'bgr') throw invalidParameter('channelOrder', 'rgb | bgr', o.channelOrder);
  if (o.maxPixels !== undefined && (!Number.isInteger(o.maxPixels) || o.maxPixels < 1)) {
    throw invalidParameter('maxPixels', 'a positive integer', o.maxPixels);
  }
  if (o.keepRgb !== undefined && typeof o.keepRgb !== 'boolean') throw invalidParameter('keepRgb', 'a boolean', o.keepRgb);
  if (o.tensorBuffer !== undefined && typeof o.tensorBuffer !== 'function') throw invalidParameter('tensorBuffer', 'a function', o.tensorBuffer);
}

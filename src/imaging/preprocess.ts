import { invalidParameter } from '../errors.ts';
import { decodeRgb } from './decode.ts';
import { geometryFor, RESIZE_MODES, type Geometry, type ResizeMode } from './geometry.ts';
import { validateNormalization, type ChannelOrder, type Normalization } from './normalize.ts';
import { resampleToModel } from './resample.ts';

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
}

export interface PreparedImage {
  /** One image in `layout`: channels x height x width values (NCHW) or height x width x channels (NHWC). */
  tensor: Float32Array;
  geometry: Geometry;
  /** The decoded, EXIF-rotated source image: 3-channel uint8 sRGB, width x height, row-major. */
  rgb: Buffer;
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
 * @param name the file name used in error messages (defaults to the path, or `<buffer>`)
 * @throws InputError when the file is missing, empty, not a supported image, truncated or corrupt
 * @throws ConfigError when the options are invalid
 */
export async function prepareImage(input: string | Buffer, options: PreprocessOptions, name?: string): Promise<PreparedImage> {
  validateOptions(options);
  const decoded = await decodeRgb(input, name, { maxPixels: options.maxPixels });
  const size = options.ownSize ? ownSizeOf(decoded, options.ownSize) : { width: options.width, height: options.height };
  const geometry = geometryFor(decoded.width, decoded.height, size.width, size.height, options.resize);
  const pixels = await resampleToModel(decoded, geometry, name ?? (typeof input === 'string' ? input : '<buffer>'));
  return {
    tensor: toTensor(pixels, { ...options, ...size }),
    geometry,
    rgb: decoded.data,
    width: decoded.width,
    height: decoded.height,
  };
}

/** The image's own size, with a dimension the model fixes kept and the other scaled to keep the aspect ratio. */
export function ownSizeOf(image: { width: number; height: number }, fixed: { height?: number; width?: number }): { width: number; height: number } {
  if (fixed.height !== undefined) return { height: fixed.height, width: Math.max(1, Math.round((image.width * fixed.height) / image.height)) };
  if (fixed.width !== undefined) return { width: fixed.width, height: Math.max(1, Math.round((image.height * fixed.width) / image.width)) };
  return { width: image.width, height: image.height };
}

/** HWC RGB floats on the 0..255 scale to the normalised tensor in the requested layout and channel count. */
export function toTensor(
  hwcRgb: Float32Array,
  options: Pick<PreprocessOptions, 'width' | 'height' | 'channels' | 'layout' | 'normalization' | 'channelOrder'>,
): Float32Array {
  const { width, height, channels, layout, normalization: n } = options;
  // Where red, green and blue go among the model's channels.
  const [ri, gi, bi] = options.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const plane = width * height;
  const tensor = new Float32Array(plane * channels);
  const a = [0, 1, 2].map((c) => n.scale / n.std[c]);
  const b = [0, 1, 2].map((c) => -n.mean[c] / n.std[c]);
  const nchw = layout === 'NCHW';
  for (let i = 0; i < plane; i++) {
    const r = hwcRgb[3 * i], g = hwcRgb[3 * i + 1], bl = hwcRgb[3 * i + 2];
    if (channels === 1) {
      tensor[i] = (LUMA[0] * r + LUMA[1] * g + LUMA[2] * bl) * a[0] + b[0];
    } else if (nchw) {
      tensor[ri * plane + i] = r * a[0] + b[0];
      tensor[gi * plane + i] = g * a[1] + b[1];
      tensor[bi * plane + i] = bl * a[2] + b[2];
    } else {
      tensor[3 * i + ri] = r * a[0] + b[0];
      tensor[3 * i + gi] = g * a[1] + b[1];
      tensor[3 * i + bi] = bl * a[2] + b[2];
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
}

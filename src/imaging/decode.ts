import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { Sharp, SharpOptions } from 'sharp';
import { BugError, InputError } from '../errors.ts';
import { sniffFormat, supportedFormatList } from './formats.ts';

/** Decoded pixels, EXIF orientation applied: interleaved uint8, `channels` per pixel, row-major. */
export interface DecodedPixels {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 3;
}

/**
 * libvips options shared by every decode:
 * - `failOn: 'error'`: truncated or broken data fails; a libvips warning alone does not.
 * - `ignoreIcc`: embedded ICC profiles are not applied, as PIL (and so torchvision training code) does not apply
 *   them; CMYK JPEGs are still converted to sRGB, with libvips' CMYK profile.
 * - `autoOrient`: EXIF orientation applied, so width/height are those of the image as displayed.
 * - `sequentialRead`: the decoder streams into the pipeline instead of first decoding the whole image into memory
 *   (same pixels; less CPU and memory per image, bench/decode.ts). sharp still buffers where a rotation needs it.
 * Multi-page TIFF and animated WebP: the first page.
 */
const DECODE_OPTIONS: SharpOptions = { failOn: 'error', ignoreIcc: true, autoOrient: true, sequentialRead: true };

/** sharp's own default for limitInputPixels (0x3FFF * 0x3FFF): the decompression-bomb guard. */
export const DEFAULT_MAX_PIXELS = 268402689;

export interface DecodeOptions {
  /** Refuse images with more pixels than this (sharp's limitInputPixels; the --max-pixels flag). */
  maxPixels?: number;
}

/** The bytes read, with what the decoders need to know about them. */
export interface Source {
  bytes: Buffer;
  name: string;
  format: string;
  maxPixels: number;
}

async function readSource(input: string | Buffer, name: string | undefined, options: DecodeOptions): Promise<Source> {
  return { ...(await readImageBytes(input, name)), maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS };
}

const open = (src: Source): Sharp => sharp(src.bytes, { ...DECODE_OPTIONS, limitInputPixels: src.maxPixels });

/** Reads a path into memory (or passes a buffer through) and checks that it is one of the supported formats. */
export async function readImageBytes(input: string | Buffer, name?: string): Promise<{ bytes: Buffer; name: string; format: string }> {
  const label = name ?? (typeof input === 'string' ? input : '<buffer>');
  let bytes: Buffer;
  if (typeof input === 'string') {
    try {
      bytes = await readFile(input);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new InputError(code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(error)})`, label);
    }
  } else {
    bytes = input;
  }
  if (bytes.length === 0) throw new InputError('empty file, not an image', label);
  const format = sniffFormat(bytes.subarray(0, 16));
  if (!format) throw new InputError(`not an image or unsupported format (expected ${supportedFormatList()})`, label);
  return { bytes, name: label, format: format.name };
}

/**
 * Decodes to 3-channel sRGB uint8, the way PIL's `Image.convert('RGB')` does:
 * - an alpha channel is dropped, not composited (the stored colour under transparent pixels stays);
 * - greyscale is replicated to three channels;
 * - 16-bit samples keep their high byte (v >> 8), as PIL does for 16-bit RGB PNGs. (PIL clips 16-bit greyscale
 *   to 255 instead; heatgate scales it like RGB.)
 */
export async function decodeRgb(input: string | Buffer, name?: string, options: DecodeOptions = {}): Promise<DecodedPixels> {
  const src = await readSource(input, name, options);
  return decode(src, open(src).removeAlpha().toColourspace('srgb'), 3);
}

/** An image whose header has been read: its size as displayed and whether one pipeline can decode and shrink it. */
export interface OpenedImage {
  readonly source: Source;
  /** Size after EXIF rotation. */
  width: number;
  height: number;
  /** More than one colour channel (alpha not counted): a mask's value is then the largest of R, G, B. */
  colour: boolean;
  /**
   * One sharp pipeline that decodes and shrinks (`decodeRgbShrunk`, `decodeMaskShrunk`) gives exactly the bytes of
   * decoding first and shrinking the decoded pixels: 8-bit samples, no alpha (sharp premultiplies alpha before
   * resizing; the decode drops it unpremultiplied), one page, and an sRGB, greyscale or CMYK source (CMYK is
   * converted to sRGB before the resize either way). 16-bit sources are resized at 16 bits in one pipeline but cut
   * to 8 bits first by the decode, so they differ. Checked in test/imaging/one-call.test.ts.
   */
  shrinkInOneCall: boolean;
}

/** Spaces whose 8-bit, alpha-free images `shrinkInOneCall` accepts. */
const ONE_CALL_SPACES = new Set(['srgb', 'b-w', 'cmyk']);

/**
 * Reads the file and its header (sharp's `metadata()`: no pixels decoded).
 * @throws InputError as `decodeRgb` does for files that are missing or not images
 */
export async function openImage(input: string | Buffer, name?: string, options: DecodeOptions = {}): Promise<OpenedImage> {
  const source = await readSource(input, name, options);
  try {
    const meta = await open(source).metadata();
    const channels = (meta.channels ?? 3) - (meta.hasAlpha ? 1 : 0);
    return {
      source,
      width: meta.autoOrient.width,
      height: meta.autoOrient.height,
      colour: channels !== 1,
      shrinkInOneCall: meta.depth === 'uchar' && !meta.hasAlpha && (meta.pages ?? 1) === 1 && ONE_CALL_SPACES.has(meta.space),
    };
  } catch (error) {
    throw await decodeError(error, source);
  }
}

/** `decodeRgb` of an opened image. */
export function decodeOpenedRgb(image: OpenedImage): Promise<DecodedPixels> {
  return decode(image.source, open(image.source).removeAlpha().toColourspace('srgb'), 3);
}

/**
 * Decodes and shrinks in one sharp pipeline: the same bytes as `decodeOpenedRgb` followed by resample.ts's
 * `reduceForModel` to width x height, when `image.shrinkInOneCall` (the caller checks). Each axis keeps or loses
 * pixels, none grows.
 */
export function decodeRgbShrunk(image: OpenedImage, width: number, height: number): Promise<DecodedPixels> {
  return decode(image.source, shrinkPipeline(image, width, height).removeAlpha().toColourspace('srgb'), 3, { width, height });
}

/** `decodeMaskValues` then `reduceForModel` in one pipeline, for greyscale masks with `shrinkInOneCall`. */
export function decodeMaskShrunk(image: OpenedImage, width: number, height: number): Promise<DecodedPixels> {
  return decode(image.source, shrinkPipeline(image, width, height).removeAlpha().toColourspace('b-w'), 1, { width, height });
}

/**
 * The decode with reduceForModel's resize in it. The extract of the whole image is what makes the pixels equal to
 * the two-step path: a pre-resize extract turns off JPEG/WebP shrink-on-load (which decodes at 1/2, 1/4 or 1/8
 * scale and so changes pixels) and makes sharp apply the EXIF rotation before resizing, as the decode does (after
 * it, the axes would be reduced in the other order, rounding in between).
 */
function shrinkPipeline(image: OpenedImage, width: number, height: number): Sharp {
  if (width > image.width || height > image.height) {
    throw new BugError(`cannot shrink ${image.width}x${image.height} to ${width}x${height} in one decode`, image.source.name);
  }
  const pipeline = open(image.source);
  if (width === image.width && height === image.height) return pipeline;
  return pipeline.extract({ left: 0, top: 0, width: image.width, height: image.height })
    .resize(width, height, { fit: 'fill', kernel: 'linear' });
}

/**
 * Decodes a mask to one uint8 value per pixel: the grey level of a greyscale mask, or the largest of R, G, B for
 * a colour mask (so a label painted in any saturated colour counts as inside). Alpha is dropped.
 */
export async function decodeMaskValues(input: string | Buffer, name?: string, options: DecodeOptions = {}): Promise<DecodedPixels> {
  return decodeOpenedMask(await openImage(input, name, options));
}

/** `decodeMaskValues` of an opened image. */
export async function decodeOpenedMask(image: OpenedImage): Promise<DecodedPixels> {
  const src = image.source;
  if (!image.colour) return decode(src, open(src).removeAlpha().toColourspace('b-w'), 1);
  const rgb = await decode(src, open(src).removeAlpha().toColourspace('srgb'), 3);
  return { data: largestChannel(rgb.data, rgb.width * rgb.height), width: rgb.width, height: rgb.height, channels: 1 };
}

/**
 * max(R, G, B) of each of `pixels` interleaved RGB pixels. Masks are mostly runs of black or white: four pixels
 * (three 32-bit words) that are all 0 or all 255 are written as one word; the others pixel by pixel.
 */
export function largestChannel(rgb: Uint8Array, pixels: number): Buffer {
  const out = Buffer.allocUnsafeSlow(pixels); // its own ArrayBuffer: word-aligned
  let i = 0;
  if (rgb.byteOffset % 4 === 0) {
    const words = new Uint32Array(rgb.buffer, rgb.byteOffset, Math.floor(pixels / 4) * 3);
    const outWords = new Uint32Array(out.buffer, out.byteOffset, Math.floor(pixels / 4));
    for (let q = 0, w = 0; q < outWords.length; q++, w += 3) {
      const a = words[w], b = words[w + 1], c = words[w + 2];
      if ((a | b | c) === 0) outWords[q] = 0;
      else if ((a & b & c) === 0xffffffff) outWords[q] = 0xffffffff;
      else for (let p = 4 * q, j = 3 * p; p < 4 * q + 4; p++, j += 3) out[p] = max3(rgb[j], rgb[j + 1], rgb[j + 2]);
    }
    i = outWords.length * 4;
  }
  for (let j = 3 * i; i < pixels; i++, j += 3) out[i] = max3(rgb[j], rgb[j + 1], rgb[j + 2]);
  return out;
}

function max3(r: number, g: number, b: number): number {
  const rg = r > g ? r : g;
  return rg > b ? rg : b;
}

async function decode(src: Source, pipeline: Sharp, channels: 1 | 3, size?: { width: number; height: number }): Promise<DecodedPixels> {
  let decoded: DecodedPixels;
  try {
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) throw new Error(`decoded to ${info.channels} channels, expected ${channels}`);
    decoded = { data, width: info.width, height: info.height, channels };
  } catch (error) {
    throw await decodeError(error, src);
  }
  if (size && (decoded.width !== size.width || decoded.height !== size.height)) {
    throw new BugError(`decoded to ${decoded.width}x${decoded.height}, expected ${size.width}x${size.height}`, src.name);
  }
  return decoded;
}

/** Turns libvips' multi-line messages into one line that names the file and the problem. */
async function decodeError(error: unknown, src: Source): Promise<InputError> {
  const detail = String((error as Error)?.message ?? error).split('\n')[0].replace(/^Input buffer (has|contains) /, '');
  if (/pixel limit/i.test(detail)) {
    // The header alone (no pixel limit, nothing decoded) gives the size to put in the message.
    const meta = await sharp(src.bytes, { limitInputPixels: false }).metadata().catch(() => undefined);
    if (!meta?.width || !meta.height) return new InputError(`image is above --max-pixels ${megapixels(src.maxPixels)}`, src.name);
    const pixels = meta.width * meta.height;
    // Megapixels read best; exact counts where rounding would make the two look equal.
    const [size, limit] = megapixels(pixels) === megapixels(src.maxPixels) ? [`${pixels} px`, `${src.maxPixels} px`] : [megapixels(pixels), megapixels(src.maxPixels)];
    return new InputError(`image is ${meta.width}x${meta.height} = ${size}, above --max-pixels ${limit}`, src.name);
  }
  return new InputError(`truncated or corrupt ${src.format} data (${detail})`, src.name);
}

/** 900000000 -> "900 Mpx", 268402689 -> "268 Mpx", 12288 -> "0.0123 Mpx". */
export function megapixels(pixels: number): string {
  const m = pixels / 1e6;
  return `${m >= 10 ? Math.floor(m) : Number(m.toPrecision(3))} Mpx`;
}

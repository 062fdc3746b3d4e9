import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { Sharp, SharpOptions } from 'sharp';
import { InputError } from '../errors.ts';
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
interface Source {
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

/**
 * Decodes a mask to one uint8 value per pixel: the grey level of a greyscale mask, or the largest of R, G, B for
 * a colour mask (so a label painted in any saturated colour counts as inside). Alpha is dropped.
 */
export async function decodeMaskValues(input: string | Buffer, name?: string, options: DecodeOptions = {}): Promise<DecodedPixels> {
  const src = await readSource(input, name, options);
  let channels: number;
  try {
    const meta = await open(src).metadata();
    channels = (meta.channels ?? 3) - (meta.hasAlpha ? 1 : 0);
  } catch (error) {
    throw await decodeError(error, src);
  }
  if (channels === 1) return decode(src, open(src).removeAlpha().toColourspace('b-w'), 1);
  const rgb = await decode(src, open(src).removeAlpha().toColourspace('srgb'), 3);
  const out = Buffer.allocUnsafe(rgb.width * rgb.height);
  const d = rgb.data;
  for (let i = 0, j = 0; i < out.length; i++, j += 3) out[i] = Math.max(d[j], d[j + 1], d[j + 2]);
  return { data: out, width: rgb.width, height: rgb.height, channels: 1 };
}

async function decode(src: Source, pipeline: Sharp, channels: 1 | 3): Promise<DecodedPixels> {
  try {
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) throw new Error(`decoded to ${info.channels} channels, expected ${channels}`);
    return { data, width: info.width, height: info.height, channels };
  } catch (error) {
    throw await decodeError(error, src);
  }
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

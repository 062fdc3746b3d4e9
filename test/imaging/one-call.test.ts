/**
 * The one-sharp-call decodes (decode.ts `decodeRgbShrunk`, `decodeMaskShrunk`) against the two-step path they
 * replace where `shrinkInOneCall` allows (decode at full size, then shrink those pixels): prepareImage without and
 * with `keepRgb`, and warpMask against decodeMaskValues + resampleToModel. Bit for bit, on sources that exercise
 * what makes one sharp pipeline differ: JPEG/WebP shrink-on-load, EXIF rotation, alpha, 16 bits, grey, CMYK.
 */
import zlib from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeMaskValues, openImage } from '../../src/imaging/decode.ts';
import { geometryFor, type ResizeMode } from '../../src/imaging/geometry.ts';
import { warpMask } from '../../src/imaging/mask.ts';
import { normalizationPreset } from '../../src/imaging/normalize.ts';
import { prepareImage, type PreprocessOptions } from '../../src/imaging/preprocess.ts';
import { resampleToModel } from '../../src/imaging/resample.ts';
import { png16 } from './helpers.ts';

/** Textured pixels (a gradient plus pseudo-random noise), so any resampling difference shows. */
function texture(width: number, height: number, channels: number, seed = 7): Buffer {
  const out = Buffer.alloc(width * height * channels);
  let s = seed;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        out[(y * width + x) * channels + c] = ((x * (3 + c)) + (y * 2) + (s >>> 25)) & 255;
      }
    }
  }
  return out;
}

/**
 * A PNG or JPEG with an EXIF orientation added by hand (a PNG eXIf chunk or a JPEG APP1 segment): sharp's
 * withMetadata({ orientation }) also converts greyscale to sRGB, which would hide the greyscale path.
 */
function withOrientation(bytes: Buffer, orientation: number): Buffer {
  // TIFF header (big endian), one IFD entry: Orientation (0x0112), SHORT, count 1, the value; no next IFD.
  const tiff = Buffer.from([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0]);
  if (bytes[0] === 0xff) {
    const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 255]), body]);
    return Buffer.concat([bytes.subarray(0, 2), app1, bytes.subarray(2)]);
  }
  const typeAndData = Buffer.concat([Buffer.from('eXIf', 'latin1'), tiff]);
  const chunk = Buffer.alloc(12 + tiff.length);
  chunk.writeUInt32BE(tiff.length, 0);
  typeAndData.copy(chunk, 4);
  chunk.writeUInt32BE(zlib.crc32(typeAndData), 8 + tiff.length);
  const afterHeader = 8 + 25; // signature, IHDR
  return Buffer.concat([bytes.subarray(0, afterHeader), chunk, bytes.subarray(afterHeader)]);
}

const raw = (width: number, height: number, channels: 1 | 2 | 3 | 4) =>
  sharp(texture(width, height, channels), { raw: { width, height, channels } });

/** name -> [bytes, whether one pipeline may decode and shrink it]. */
async function sources(): Promise<[string, Buffer, boolean][]> {
  const rgb16: number[] = [];
  for (const v of texture(300, 200, 3)) rgb16.push(v * 256 + ((v * 37) & 255));
  return [
    ['JPEG 1920x1080 (shrink-on-load x4)', await raw(1920, 1080, 3).jpeg({ quality: 90 }).toBuffer(), true],
    ['JPEG 4000x3000 (shrink-on-load x8)', await raw(4000, 3000, 3).jpeg({ quality: 80 }).toBuffer(), true],
    ['JPEG 640x480', await raw(640, 480, 3).jpeg({ quality: 90 }).toBuffer(), true],
    ['JPEG 150x100 (upscaled)', await raw(150, 100, 3).jpeg({ quality: 90 }).toBuffer(), true],
    ['JPEG EXIF 6', await raw(1600, 1000, 3).jpeg().withMetadata({ orientation: 6 }).toBuffer(), true],
    ['JPEG EXIF 8', await raw(900, 700, 3).jpeg().withMetadata({ orientation: 8 }).toBuffer(), true],
    ['grey JPEG', await raw(1200, 900, 1).toColourspace('b-w').jpeg().toBuffer(), true],
    ['grey PNG', await raw(500, 300, 1).toColourspace('b-w').png().toBuffer(), true],
    ['grey JPEG EXIF 8', withOrientation(await raw(1000, 700, 1).toColourspace('b-w').jpeg().toBuffer(), 8), true],
    ['CMYK JPEG', await raw(1000, 800, 3).toColourspace('cmyk').jpeg().toBuffer(), true],
    ['WebP 1600x1000', await raw(1600, 1000, 3).webp({ quality: 80 }).toBuffer(), true],
    ['RGBA PNG', await raw(600, 400, 4).png().toBuffer(), false],
    ['grey + alpha PNG', await raw(600, 400, 2).toColourspace('b-w').png().toBuffer(), false],
    ['16-bit RGB PNG', png16(rgb16, 300, 200, 3), false],
  ];
}

const MODELS: Pick<PreprocessOptions, 'width' | 'height' | 'channels' | 'layout' | 'normalization'>[] = [
  { width: 224, height: 224, channels: 3, layout: 'NCHW', normalization: normalizationPreset('imagenet') },
  { width: 160, height: 96, channels: 1, layout: 'NHWC', normalization: normalizationPreset('unit') },
];
const MODES: ResizeMode[] = ['resize', 'center-crop', 'letterbox'];

describe('prepareImage: one sharp call', () => {
  it('gives the tensor of the two-step decode (keepRgb) bit for bit, and takes one call exactly where allowed', async () => {
    let compared = 0;
    for (const [name, bytes, oneCall] of await sources()) {
      expect((await openImage(bytes, name)).shrinkInOneCall, name).toBe(oneCall);
      const exif = /EXIF (\d)/.exec(name);
      if (exif) expect((await sharp(bytes).metadata()).orientation, name).toBe(Number(exif[1]));
      for (const model of MODELS) {
        for (const resize of MODES) {
          const o: PreprocessOptions = { ...model, resize };
          const [one, two] = [await prepareImage(bytes, o, name), await prepareImage(bytes, { ...o, keepRgb: true }, name)];
          expect(one.geometry).toEqual(two.geometry);
          expect([one.width, one.height]).toEqual([two.width, two.height]);
          const label = `${name} -> ${o.width}x${o.height} c=${o.channels} ${resize}`;
          expect(Buffer.from(one.tensor.buffer).equals(Buffer.from(two.tensor.buffer)), label).toBe(true);
          compared++;
        }
      }
    }
    expect(compared).toBe(14 * 2 * 3);
  }, 60_000);

  it('returns the full-size pixels only when asked (keepRgb)', async () => {
    const bytes = await raw(64, 48, 3).png().toBuffer();
    const o: PreprocessOptions = { ...MODELS[0], resize: 'resize' };
    expect((await prepareImage(bytes, o)).rgb).toBeUndefined();
    const decoded = await sharp(bytes).raw().toBuffer();
    expect((await prepareImage(bytes, { ...o, keepRgb: true })).rgb.equals(decoded)).toBe(true);
  });
});

describe('warpMask: one sharp call', () => {
  /** Mask values spread over 0..255 (many near the threshold), as grey, RGB, RGBA and 16-bit files. */
  async function masks(width: number, height: number): Promise<[string, Buffer, boolean][]> {
    const grey16: number[] = [];
    for (const v of texture(width, height, 1, 3)) grey16.push(v * 256 + ((v * 91 + 13) & 255));
    return [
      ['grey PNG', await raw(width, height, 1).toColourspace('b-w').png().toBuffer(), true],
      ['grey PNG EXIF 6', withOrientation(await sharp(texture(height, width, 1), { raw: { width: height, height: width, channels: 1 } })
        .toColourspace('b-w').png().toBuffer(), 6), true],
      ['RGB PNG', await raw(width, height, 3).png().toBuffer(), true],
      ['RGBA PNG', await raw(width, height, 4).png().toBuffer(), false],
      ['16-bit grey PNG', png16(grey16, width, height, 1), false],
    ];
  }

  it('equals decodeMaskValues + resampleToModel thresholded at 127.5, for crops, padding and upscaling', async () => {
    let compared = 0;
    for (const [w, h] of [[640, 480], [120, 90]]) {
      for (const [name, bytes, oneCall] of await masks(w, h)) {
        expect((await openImage(bytes, name)).shrinkInOneCall, name).toBe(oneCall);
        expect((await openImage(bytes, name)).colour, name).toBe(/RGB/.test(name));
        for (const [dw, dh, mode] of [
          [224, 224, 'resize'], [224, 224, 'center-crop'], [224, 224, 'letterbox'], [100, 140, 'center-crop'], [160, 96, 'letterbox'],
        ] as const) {
          const g = geometryFor(w, h, dw, dh, mode);
          const values = await resampleToModel(await decodeMaskValues(bytes, name), g, name);
          const expected = Uint8Array.from(values, (v) => (v > 127.5 ? 1 : 0));
          const actual = await warpMask(bytes, g, name);
          expect(Buffer.from(actual).equals(Buffer.from(expected)), `${name} ${w}x${h} -> ${dw}x${dh} ${mode}`).toBe(true);
          compared++;
        }
      }
    }
    expect(compared).toBe(2 * 5 * 5);
  }, 60_000);
});

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ConfigError, InputError } from '../../src/errors.ts';
import { normalizationPreset, type Normalization } from '../../src/imaging/normalize.ts';
import { prepareImage, type PreprocessOptions } from '../../src/imaging/preprocess.ts';
import { centroid, encode, png16, rawImage, tempDir } from './helpers.ts';

const RAW = normalizationPreset('raw');
const opts = (o: Partial<PreprocessOptions>): PreprocessOptions => ({
  width: 8, height: 8, channels: 3, layout: 'NCHW', resize: 'resize', normalization: RAW, ...o,
});
/** Options that ask for the full-size source pixels (PreparedImage.rgb). */
const withRgb = (o: Partial<PreprocessOptions>) => ({ ...opts(o), keepRgb: true as const });

describe('prepareImage: decoding', () => {
  it('applies EXIF orientation 6 (rotate 90 degrees clockwise)', async () => {
    // stored 40x20: left half red, right half blue; orientation 6 displays it rotated clockwise, 20x40,
    // so the stored left half ends up on top
    const raw = rawImage(40, 20, 3, (x) => (x < 20 ? [255, 0, 0] : [0, 0, 255]));
    const jpeg = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const p = await prepareImage(jpeg, withRgb({ width: 20, height: 40 }));
    expect([p.width, p.height]).toEqual([20, 40]);
    const at = (x: number, y: number) => [...p.rgb.subarray((y * 20 + x) * 3, (y * 20 + x) * 3 + 3)];
    for (const [x, y] of [[2, 2], [17, 10], [10, 17]]) expect(at(x, y)[0]).toBeGreaterThan(200); // red on top
    for (const [x, y] of [[2, 37], [17, 30], [10, 22]]) expect(at(x, y)[2]).toBeGreaterThan(200); // blue below
    // geometry is for the displayed size: identity here
    expect(p.geometry).toMatchObject({ srcWidth: 20, srcHeight: 40, scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0 });
  });

  it('replicates greyscale to three channels and reduces RGB to ITU-R 601 luma for 1-channel models', async () => {
    const grey = await encode(rawImage(2, 1, 1, (x) => [x === 0 ? 40 : 200]), 2, 1, 1);
    const p = await prepareImage(grey, withRgb({ width: 2, height: 1 }));
    expect([...p.rgb]).toEqual([40, 40, 40, 200, 200, 200]);
    expect([...p.tensor]).toEqual([40, 200, 40, 200, 40, 200]);

    const rgb = await encode(rawImage(1, 1, 3, () => [200, 100, 50]), 1, 1, 3);
    const luma = await prepareImage(rgb, opts({ width: 1, height: 1, channels: 1 }));
    expect(luma.tensor[0]).toBeCloseTo(0.299 * 200 + 0.587 * 100 + 0.114 * 50, 4); // 124.2
  });

  it('drops alpha without compositing, like PIL convert("RGB")', async () => {
    // a fully transparent pixel keeps its stored colour; PIL's convert('RGB') gives (10, 20, 30) too
    const rgba = await encode(rawImage(2, 1, 4, (x) => (x === 0 ? [10, 20, 30, 0] : [200, 150, 100, 128])), 2, 1, 4);
    const p = await prepareImage(rgba, withRgb({ width: 2, height: 1 }));
    expect([...p.rgb]).toEqual([10, 20, 30, 200, 150, 100]);
    const greyAlpha = await encode(rawImage(1, 1, 2, () => [90, 0]), 1, 1, 2);
    expect([...(await prepareImage(greyAlpha, withRgb({ width: 1, height: 1 }))).rgb]).toEqual([90, 90, 90]);
  });

  it('reads 16-bit PNGs, keeping the high byte (v >> 8)', async () => {
    const rgb16 = png16([0x8080, 0x7fff, 0xffff, 0x0100, 0x01ff, 0x1234], 2, 1, 3);
    expect([...(await prepareImage(rgb16, withRgb({ width: 2, height: 1 }))).rgb]).toEqual([128, 127, 255, 1, 1, 18]);
    const grey16 = png16([0xfedc, 0x00ff], 2, 1, 1);
    expect([...(await prepareImage(grey16, withRgb({ width: 2, height: 1 }))).rgb]).toEqual([254, 254, 254, 0, 0, 0]);
  });

  it('decodes JPEG, PNG, WebP and TIFF', async () => {
    const raw = rawImage(16, 12, 3, (x, y) => [x * 15, y * 20, 128]);
    for (const format of ['jpeg', 'png', 'webp', 'tiff'] as const) {
      const p = await prepareImage(await encode(raw, 16, 12, 3, format), withRgb({ width: 16, height: 12 }));
      expect([p.width, p.height]).toEqual([16, 12]);
      let err = 0;
      for (let i = 0; i < raw.length; i++) err = Math.max(err, Math.abs(p.rgb[i] - raw[i]));
      expect(err).toBeLessThanOrEqual(format === 'jpeg' ? 12 : 0);
    }
  });

  it('fails with an InputError naming the file for missing, empty, non-image, truncated and corrupt files', async () => {
    const dir = tempDir();
    const file = (name: string, bytes: Buffer | string): string => {
      writeFileSync(path.join(dir, name), bytes);
      return path.join(dir, name);
    };
    const noise = rawImage(64, 48, 3, (x, y) => [(x * 37 + y * 11) % 256, (x * y) % 256, (x ^ y) * 4]);
    const jpeg = await encode(noise, 64, 48, 3, 'jpeg');
    const png = await encode(noise, 64, 48, 3, 'png');
    const cases: [string, RegExp][] = [
      [path.join(dir, 'missing.png'), /missing\.png: file not found/],
      [file('empty.png', Buffer.alloc(0)), /empty\.png: empty file/],
      [file('notes.jpg', 'not an image at all'), /notes\.jpg: not an image or unsupported format/],
      [file('cut.jpg', jpeg.subarray(0, Math.floor(jpeg.length * 0.7))), /cut\.jpg: truncated or corrupt JPEG data/],
      [file('cut.png', png.subarray(0, Math.floor(png.length * 0.7))), /cut\.png: truncated or corrupt PNG data/],
      [file('bad.webp', Buffer.concat([Buffer.from('RIFF\0\0\0\0WEBPVP8 '), Buffer.alloc(40, 7)])), /bad\.webp: truncated or corrupt WebP/],
    ];
    for (const [input, message] of cases) {
      const error = await prepareImage(input, opts({})).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).message).toMatch(message);
      expect((error as InputError).file).toBe(input);
      expect((error as InputError).exitCode).toBe(3);
    }
    // a buffer gets the caller's name
    await expect(prepareImage(Buffer.from('xx'), opts({}), 's3://bucket/a.png')).rejects.toThrow(/^s3:\/\/bucket\/a\.png: not an image/);
  });

  it('rejects invalid options with a ConfigError', async () => {
    const png = await encode(rawImage(4, 4, 3, () => [0, 0, 0]), 4, 4, 3);
    await expect(prepareImage(png, opts({ width: 0 }))).rejects.toThrow(ConfigError);
    await expect(prepareImage(png, opts({ channels: 2 as never }))).rejects.toThrow(/channels/);
    await expect(prepareImage(png, opts({ layout: 'CHW' as never }))).rejects.toThrow(/layout/);
    const badStd: Normalization = { mean: [0, 0, 0], std: [1, 0, 1], scale: 1 };
    await expect(prepareImage(png, opts({ normalization: badStd }))).rejects.toThrow(/std/);
  });
});

describe('prepareImage: geometry', () => {
  // 100x60 black with a white 10x10 square at x 40..49, y 20..29: centre (44.5, 24.5), area 100 px
  const square = (): Promise<Buffer> =>
    encode(rawImage(100, 60, 1, (x, y) => [x >= 40 && x < 50 && y >= 20 && y < 30 ? 255 : 0]), 100, 60, 1);

  it.each([
    ['resize', 50, 30], ['resize', 37, 23], ['center-crop', 64, 64], ['letterbox', 64, 64],
    ['resize', 224, 224], ['center-crop', 224, 160], ['letterbox', 300, 100], ['resize', 150, 20],
  ] as const)('%s to %ix%i puts the square where the geometry says', async (mode, width, height) => {
    const p = await prepareImage(await square(), opts({ width, height, channels: 1, resize: mode }));
    const g = p.geometry;
    const c = centroid(p.tensor, width, height);
    // a resample (nearly) conserves mean brightness, so the square's mass scales with the area
    expect(c.mass / 255 / (100 * g.scaleX * g.scaleY)).toBeCloseTo(1, 2);
    expect(Math.abs(c.x - (44.5 * g.scaleX + g.offsetX))).toBeLessThan(0.1);
    expect(Math.abs(c.y - (24.5 * g.scaleY + g.offsetY))).toBeLessThan(0.1);
  });

  it('letterbox pads with black and center-crop drops the sides', async () => {
    // 40x20 white image: letterbox into 20x20 gives rows 0-4 and 15-19 of padding (s = 0.5, 10 image rows)
    const white = await encode(rawImage(40, 20, 3, () => [255, 255, 255]), 40, 20, 3);
    const lb = await prepareImage(white, opts({ width: 20, height: 20, resize: 'letterbox', channels: 1 }));
    const rows = Array.from({ length: 20 }, (_, y) => lb.tensor[y * 20 + 10]);
    expect(rows).toEqual([0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0]);
    // 40x20 with a bright left quarter: center-crop 20x20 keeps source columns 10..29 (s = 1)
    const quarter = await encode(rawImage(40, 20, 1, (x) => [x < 10 || x >= 30 ? 255 : 0]), 40, 20, 1);
    const cc = await prepareImage(quarter, opts({ width: 20, height: 20, resize: 'center-crop', channels: 1 }));
    expect(cc.geometry.offsetX).toBe(-10);
    expect(Math.max(...cc.tensor)).toBe(0);
  });

  it('follows a linear ramp: each model pixel samples the source position the geometry gives', async () => {
    // value = x on a 256-wide ramp, so a model pixel's value is the source x it sampled (to 8-bit rounding)
    const ramp = await encode(rawImage(256, 4, 1, (x) => [x]), 256, 4, 1);
    for (const width of [100, 224, 255, 300, 700]) {
      const p = await prepareImage(ramp, opts({ width, height: 4, channels: 1 }));
      const g = p.geometry;
      const margin = Math.ceil(2 / g.scaleX) + 2; // the edge taps are clamped
      let worst = 0;
      for (let u = margin; u < width - margin; u++) {
        const u0 = p.tensor[u] * g.scaleX + g.offsetX; // where the sampled source x lands in the model frame
        // libvips' downscale rounds to 8 bits (half a source px); the upscale here stays in float
        worst = Math.max(worst, Math.abs(u0 - u) - (g.scaleX < 1 ? 0.5 * g.scaleX : 0));
      }
      expect(worst, `width ${width}`).toBeLessThan(g.scaleX < 1 ? 0.25 : 1e-3);
    }
  });
});

describe('prepareImage: tensor layout and normalisation', () => {
  // 2x1 image: pixel 0 = (10, 20, 30), pixel 1 = (40, 50, 60)
  const twoPixels = (): Promise<Buffer> => encode(rawImage(2, 1, 3, (x) => (x === 0 ? [10, 20, 30] : [40, 50, 60])), 2, 1, 3);

  it('NCHW is planar, NHWC is interleaved', async () => {
    const nchw = await prepareImage(await twoPixels(), opts({ width: 2, height: 1, layout: 'NCHW' }));
    expect([...nchw.tensor]).toEqual([10, 40, 20, 50, 30, 60]);
    const nhwc = await prepareImage(await twoPixels(), opts({ width: 2, height: 1, layout: 'NHWC' }));
    expect([...nhwc.tensor]).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it('applies the presets: imagenet (x/255 - mean) / std, unit x/255, raw 0..255', async () => {
    const img = await encode(rawImage(2, 1, 3, (x) => (x === 0 ? [0, 0, 0] : [255, 255, 255])), 2, 1, 3);
    const run = async (normalization: Normalization) =>
      [...(await prepareImage(img, opts({ width: 2, height: 1, layout: 'NHWC', normalization }))).tensor];
    const imagenet = await run(normalizationPreset('imagenet'));
    const expected = [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225, 0.515 / 0.229, 0.544 / 0.224, 0.594 / 0.225];
    imagenet.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    expect(await run(normalizationPreset('unit'))).toEqual([0, 0, 0, 1, 1, 1]);
    expect(await run(normalizationPreset('raw'))).toEqual([0, 0, 0, 255, 255, 255]);
    expect(normalizationPreset('imagenet').mean).toEqual([0.485, 0.456, 0.406]);
    expect(() => normalizationPreset('coco' as never)).toThrow(ConfigError);
  });
});

import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { geometryFor } from '../../src/imaging/geometry.ts';
import { warpMask } from '../../src/imaging/mask.ts';
import { normalizationPreset } from '../../src/imaging/normalize.ts';
import { prepareImage } from '../../src/imaging/preprocess.ts';
import { centroid, encode, rawImage } from './helpers.ts';

// 90x60, object = a 24x18 rectangle at x 30..53, y 12..29 (centre 41.5, 20.5)
const W = 90, H = 60;
const inObject = (x: number, y: number): boolean => x >= 30 && x < 54 && y >= 12 && y < 30;

describe('warpMask', () => {
  it.each([
    ['resize', 45, 30], ['resize', 128, 100], ['center-crop', 32, 32], ['letterbox', 64, 64], ['center-crop', 200, 150],
  ] as const)('lines up with prepareImage on a synthetic square: %s to %ix%i', async (mode, width, height) => {
    // the image shows the object in white on black; the mask marks the same pixels
    const image = await encode(rawImage(W, H, 3, (x, y) => (inObject(x, y) ? [255, 255, 255] : [0, 0, 0])), W, H, 3, 'png');
    const maskPng = await encode(rawImage(W, H, 1, (x, y) => [inObject(x, y) ? 255 : 0]), W, H, 1);
    const p = await prepareImage(image, {
      width, height, channels: 1, layout: 'NCHW', resize: mode, normalization: normalizationPreset('raw'),
    });
    const mask = await warpMask(maskPng, p.geometry, 'mask.png');
    expect(mask.length).toBe(width * height);
    // same resampler, same geometry: the mask is exactly the thresholded image
    const fromImage = Uint8Array.from(p.tensor, (v) => (v > 127.5 ? 1 : 0));
    expect(mask).toEqual(fromImage);
    // and it sits where the geometry puts the object
    const c = centroid(mask, width, height);
    const g = p.geometry;
    expect(Math.abs(c.x - (41.5 * g.scaleX + g.offsetX))).toBeLessThanOrEqual(0.5);
    expect(Math.abs(c.y - (20.5 * g.scaleY + g.offsetY))).toBeLessThanOrEqual(0.5);
    expect(c.mass / (24 * 18 * g.scaleX * g.scaleY)).toBeCloseTo(1, 0);
  });

  it('treats any colour channel above 127 as inside, drops alpha, and pads letterbox as outside', async () => {
    // left half red (R = 200), right half dark blue (B = 100); alpha 0 everywhere must not matter
    const rgba = await encode(rawImage(8, 4, 4, (x) => (x < 4 ? [200, 0, 0, 0] : [0, 0, 100, 0])), 8, 4, 4);
    const g = geometryFor(8, 4, 8, 8, 'letterbox'); // 2 rows of padding above and below
    const mask = await warpMask(rgba, g);
    const rows = Array.from({ length: 8 }, (_, y) => [...mask.subarray(y * 8, y * 8 + 8)].join(''));
    expect(rows).toEqual(['00000000', '00000000', '11110000', '11110000', '11110000', '11110000', '00000000', '00000000']);
  });

  it('applies the mask file\'s own EXIF orientation', async () => {
    // stored 6x4 with the left 3 columns inside; orientation 6 (90 degrees clockwise) makes it 4x6, top half inside
    const raw = rawImage(6, 4, 1, (x) => [x < 3 ? 255 : 0]);
    const jpeg = await sharp(raw, { raw: { width: 6, height: 4, channels: 1 } }).jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 }).toBuffer();
    const mask = await warpMask(jpeg, geometryFor(4, 6, 4, 6, 'resize'));
    expect([...mask]).toEqual([...'111111111111000000000000'].map(Number));
  });

  it('rejects a mask whose size differs from the image, naming the file', async () => {
    const png = await encode(rawImage(10, 10, 1, () => [255]), 10, 10, 1);
    const error = await warpMask(png, geometryFor(20, 10, 8, 8, 'resize'), 'masks/a.png').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe('masks/a.png: mask is 10x10 but its image is 20x10 (sizes after EXIF rotation)');
    await expect(warpMask(Buffer.from('nope'), geometryFor(2, 2, 2, 2, 'resize'), 'm.png')).rejects.toThrow(/^m\.png: not an image/);
  });
});

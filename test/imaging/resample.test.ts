import { describe, expect, it } from 'vitest';
import { decodeRgb } from '../../src/imaging/decode.ts';
import { geometryFor, type ResizeMode } from '../../src/imaging/geometry.ts';
import { normalizationPreset } from '../../src/imaging/normalize.ts';
import { prepareImage, toTensor, type PreprocessOptions } from '../../src/imaging/preprocess.ts';
import { isPlainCopy, reduceForModel, resampleToModel } from '../../src/imaging/resample.ts';
import { encode, rawImage } from './helpers.ts';

const pixels = (width: number, height: number) => ({
  data: rawImage(width, height, 3, (x, y) => [(x * 7) % 256, (y * 11) % 256, (x * y) % 256]), width, height, channels: 3 as const,
});

describe('reduceForModel / isPlainCopy', () => {
  it('shrinks only the axes that shrink and says when nothing is left to upscale', async () => {
    // 40x10 stretched to 20x20: the width halves (libvips), the height doubles (left to the JS pass)
    const wide = pixels(40, 10);
    const g1 = geometryFor(40, 10, 20, 20, 'resize');
    const r1 = await reduceForModel(wide, g1);
    expect([r1.width, r1.height, r1.channels, r1.data.length]).toEqual([20, 10, 3, 20 * 10 * 3]);
    expect(isPlainCopy(r1, g1)).toBe(false);

    // 40x20 letterboxed into 20x20: scaled to 20x10 and padded, no upscaling
    const g2 = geometryFor(40, 20, 20, 20, 'letterbox');
    const r2 = await reduceForModel(pixels(40, 20), g2);
    expect([r2.width, r2.height]).toEqual([20, 10]);
    expect(isPlainCopy(r2, g2)).toBe(true);

    // same size: the decoded pixels themselves, no resampling
    const same = pixels(16, 12);
    const g3 = geometryFor(16, 12, 16, 12, 'resize');
    expect(await reduceForModel(same, g3)).toBe(same);
    expect(isPlainCopy(same, g3)).toBe(true);
  });

  it('refuses pixels that do not match the geometry', async () => {
    await expect(reduceForModel(pixels(10, 10), geometryFor(12, 10, 4, 4, 'resize'), 'a.png'))
      .rejects.toThrow('geometry is for 12x10 but the image is 10x10');
  });
});

describe('prepareImage tensor', () => {
  // The tensor is written straight from the reduced uint8 pixels when nothing is upscaled; it must be the
  // tensor of the float model frame (resampleToModel + toTensor) bit for bit, zeros' signs included.
  it('equals toTensor(resampleToModel(...)) bit for bit in every mode, layout, channel order and channel count', async () => {
    const sources = [
      await encode(rawImage(50, 37, 3, (x, y) => [(x * 5) % 256, (y * 7) % 256, (x * y * 3) % 256]), 50, 37, 3),
      await encode(rawImage(10, 6, 3, (x, y) => [x * 20, y * 40, 255 - x * 9]), 10, 6, 3), // upscaled
      await encode(rawImage(64, 9, 3, (x, y) => [x * 4, y * 25, 77]), 64, 9, 3), // one axis shrinks, one grows
    ];
    let compared = 0;
    for (const bytes of sources) {
      const decoded = await decodeRgb(bytes);
      for (const resize of ['resize', 'center-crop', 'letterbox'] as ResizeMode[]) {
        for (const [layout, channelOrder, channels, preset] of [
          ['NCHW', 'rgb', 3, 'imagenet'], ['NHWC', 'bgr', 3, 'caffe'], ['NCHW', 'rgb', 3, 'unit'], ['NHWC', 'rgb', 1, 'tf'], ['NCHW', 'rgb', 1, 'unit'],
        ] as const) {
          const o: PreprocessOptions = { width: 16, height: 12, channels, layout, channelOrder, resize, normalization: normalizationPreset(preset) };
          const g = geometryFor(decoded.width, decoded.height, 16, 12, resize);
          const expected = toTensor(await resampleToModel(decoded, g), o);
          const actual = (await prepareImage(bytes, o)).tensor;
          expect(actual.length).toBe(expected.length);
          expect(Buffer.from(actual.buffer).equals(Buffer.from(expected.buffer)), `${decoded.width}x${decoded.height} ${resize} ${layout} ${channelOrder} c=${channels} ${preset}`).toBe(true);
          compared++;
        }
      }
    }
    expect(compared).toBe(45);
  });
});

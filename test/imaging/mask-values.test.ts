/** A colour mask's value is max(R, G, B) per pixel, however the pixels are laid out in memory. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeMaskValues, largestChannel } from '../../src/imaging/decode.ts';
import { rng } from '../helpers/tiny-models.ts';

/** The definition, pixel by pixel. */
const reference = (rgb: Uint8Array, pixels: number) => Uint8Array.from({ length: pixels }, (_, i) => Math.max(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]));

/** A mask as labelling tools draw them: black and white runs, a painted colour, soft edges. */
function maskPixels(pixels: number, seed: number): Uint8Array {
  const r = rng(seed);
  const rgb = new Uint8Array(3 * pixels);
  let value = [0, 0, 0];
  for (let i = 0; i < pixels; i++) {
    const u = r();
    if (u < 0.02) value = [0, 0, 0];
    else if (u < 0.04) value = [255, 255, 255];
    else if (u < 0.045) value = [255, 0, 0];
    else if (u < 0.05) value = [Math.floor(r() * 256), Math.floor(r() * 256), Math.floor(r() * 256)];
    rgb.set(r() < 0.01 ? [Math.floor(r() * 256), 255, Math.floor(r() * 256)] : value, 3 * i);
  }
  return rgb;
}

describe('largestChannel', () => {
  it('is max(R, G, B) for uniform and mixed groups of pixels, any pixel count, aligned or not', () => {
    for (const pixels of [0, 1, 3, 4, 5, 17, 640 * 480 + 3]) {
      const rgb = maskPixels(pixels, pixels + 1);
      expect(largestChannel(rgb, pixels)).toEqual(Buffer.from(reference(rgb, pixels)));
      // The same pixels at an odd byte offset (not word-aligned).
      const shifted = new Uint8Array(3 * pixels + 1).subarray(1);
      shifted.set(rgb);
      expect(largestChannel(shifted, pixels)).toEqual(Buffer.from(reference(rgb, pixels)));
    }
  });

  it('takes every channel: a group whose words are all set in only some channels is not white', () => {
    const rgb = new Uint8Array(12).fill(255);
    rgb[4] = 0; // pixel 1's green
    expect([...largestChannel(rgb, 4)]).toEqual([255, 255, 255, 255]);
    const dark = new Uint8Array(12);
    dark[11] = 7; // pixel 3's blue
    expect([...largestChannel(dark, 4)]).toEqual([0, 0, 0, 7]);
  });

  it('is what decodeMaskValues gives for a colour PNG mask', async () => {
    const width = 61, height = 37;
    const rgb = maskPixels(width * height, 9);
    const png = await sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
    const decoded = await decodeMaskValues(png, 'mask.png');
    expect(decoded.channels).toBe(1);
    expect([...decoded.data]).toEqual([...reference(rgb, width * height)]);
  });
});

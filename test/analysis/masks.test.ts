import { describe, expect, it } from 'vitest';
import { componentBoxes, countOnes, fillBoxes, maskOutline, nearMask, orInto } from '../../src/analysis/masks.ts';
import { draw, show } from './helpers.ts';

describe('mask operations', () => {
  it('outlines a region with its 4-neighbour edge pixels; the image border closes it', () => {
    const mask = draw(`
      ......
      .####.
      .####.
      .####.
      ......
      ##....`);
    expect(show(maskOutline(mask, 6, 6), 6)).toBe(show(draw(`
      ......
      .####.
      .#..#.
      .####.
      ......
      ##....`), 6));
  });

  it('finds the bounding boxes of 8-connected components', () => {
    const mask = draw(`
      #.....
      .#..##
      ....#.
      ......
      ..#...`);
    // (0,0)-(1,1) touch diagonally: one component; the L at top right: another; the single pixel: a third
    expect(componentBoxes(mask, 6, 5)).toEqual([
      [0, 0, 1, 1],
      [4, 1, 5, 2],
      [2, 4, 2, 4],
    ]);
    expect(show(fillBoxes(componentBoxes(mask, 6, 5), 6, 5), 6)).toBe(show(draw(`
      ##....
      ##..##
      ....##
      ......
      ..#...`), 6));
  });

  it('measures Euclidean distance between pixel centres for the pointing tolerance', () => {
    const mask = new Uint8Array(20 * 20);
    mask[10 * 20 + 10] = 1;
    expect(nearMask(mask, 20, 20, 13, 14, 5)).toBe(true); // 3-4-5 triangle: exactly 5
    expect(nearMask(mask, 20, 20, 14, 14, 5)).toBe(false); // √32 ≈ 5.66
    expect(nearMask(mask, 20, 20, 10, 10, 0)).toBe(true);
    expect(nearMask(mask, 20, 20, 10, 11, 0.99)).toBe(false);
  });

  it('unions and counts', () => {
    const a = Uint8Array.from([1, 0, 0, 0]);
    orInto(a, Uint8Array.from([0, 0, 1, 0]));
    expect(Array.from(a)).toEqual([1, 0, 1, 0]);
    expect(countOnes(a)).toBe(2);
  });
});

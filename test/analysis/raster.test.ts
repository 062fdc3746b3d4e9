import { describe, expect, it } from 'vitest';
import { fillPolygon, fillSourceBox, fillSourcePolygon } from '../../src/analysis/raster.ts';
import { geometryFor } from '../../src/imaging/index.ts';
import { countOnes } from '../../src/analysis/masks.ts';
import { draw, show } from './helpers.ts';

const blank = (w: number, h: number) => new Uint8Array(w * h);

describe('polygon rasterisation (pixel-centre sampling)', () => {
  it('fills a triangle; centres on the hypotenuse (a right edge) stay out', () => {
    const out = blank(4, 4);
    fillPolygon(out, 4, 4, [
      [0, 0],
      [4, 0],
      [0, 4],
    ]);
    // centre (u+.5, v+.5) inside x + y < 4  ⇔  u + v <= 2 (u + v = 3 lies on the edge)
    expect(show(out, 4)).toBe(show(draw(`
      ###.
      ##..
      #...
      ....`), 4));
  });

  it('counts centres on the left/top edge in and on the right/bottom edge out', () => {
    const out = blank(3, 3);
    fillPolygon(out, 3, 3, [
      [0.5, 0.5],
      [1.5, 0.5],
      [1.5, 1.5],
      [0.5, 1.5],
    ]);
    expect(show(out, 3)).toBe(show(draw('#..\n...\n...'), 3));
    // Two boxes sharing the edge x = 1.5 split the 3x3 grid with no gap and no overlap.
    const a = blank(3, 3);
    const b = blank(3, 3);
    fillPolygon(a, 3, 3, [[0, 0], [1.5, 0], [1.5, 3], [0, 3]]);
    fillPolygon(b, 3, 3, [[1.5, 0], [3, 0], [3, 3], [1.5, 3]]);
    expect(countOnes(a) + countOnes(b)).toBe(9);
    expect(a.every((v, i) => v + b[i] === 1)).toBe(true);
  });

  it('fills a concave polygon with the even-odd rule and clips to the frame', () => {
    const out = blank(5, 4);
    // a U shape, partly outside on the left
    fillPolygon(out, 5, 4, [[-2, 0], [1, 0], [1, 3], [3, 3], [3, 0], [5, 0], [5, 4], [-2, 4]]);
    expect(show(out, 5)).toBe(show(draw(`
      #..##
      #..##
      #..##
      #####`), 5));
  });
});

describe('regions through the geometry', () => {
  it('identity: a box [x, y, w, h] covers exactly w*h pixels', () => {
    const g = geometryFor(5, 5, 5, 5, 'resize');
    const out = blank(5, 5);
    fillSourceBox(out, g, [1, 1, 2, 3]);
    expect(show(out, 5)).toBe(show(draw(`
      .....
      .##..
      .##..
      .##..
      .....`), 5));
  });

  it('resize 100x50 → 10x5: box [15, 10, 30, 20] → model edges x 1.5..4.5, y 1..3', () => {
    const g = geometryFor(100, 50, 10, 5, 'resize');
    const out = blank(10, 5);
    fillSourceBox(out, g, [15, 10, 30, 20]);
    // centres 1.5, 2.5, 3.5 lie in [1.5, 4.5) (1.5 on the left edge: in); rows 1.5, 2.5 in [1, 3)
    expect(show(out, 10)).toBe(show(draw(`
      ..........
      .###......
      .###......
      ..........
      ..........`), 10));
  });

  it('center-crop 200x100 → 50x50: scale 0.5, 25 px cropped on the left', () => {
    const g = geometryFor(200, 100, 50, 50, 'center-crop');
    const inside = blank(50, 50);
    fillSourceBox(inside, g, [60, 20, 40, 40]); // → x 5..25, y 10..30
    expect(countOnes(inside)).toBe(20 * 20);
    expect(inside[10 * 50 + 5]).toBe(1);
    expect(inside[29 * 50 + 24]).toBe(1);
    expect(inside[10 * 50 + 25]).toBe(0);
    expect(inside[9 * 50 + 5]).toBe(0);
    const cropped = blank(50, 50);
    fillSourceBox(cropped, g, [0, 0, 40, 100]); // → x −25..−5: all cropped away
    expect(countOnes(cropped)).toBe(0);
    const straddling = blank(50, 50);
    fillSourceBox(straddling, g, [40, 0, 20, 10]); // → x −5..5, y 0..5
    expect(countOnes(straddling)).toBe(5 * 5);
  });

  it('letterbox 200x100 → 50x50: the whole image [0, 0, 200, 100] is exactly the unpadded rows 12..36', () => {
    const g = geometryFor(200, 100, 50, 50, 'letterbox'); // scale 0.25 → 50x25, 12 rows of padding on top
    const out = blank(50, 50);
    fillSourceBox(out, g, [0, 0, 200, 100]);
    for (let v = 0; v < 50; v++) expect(out[v * 50 + 7], `row ${v}`).toBe(v >= 12 && v <= 36 ? 1 : 0);
    expect(countOnes(out)).toBe(50 * 25);
    const poly = blank(50, 50);
    fillSourcePolygon(poly, g, [[0, 0], [200, 0], [200, 100], [0, 100]]);
    expect(Array.from(poly)).toEqual(Array.from(out));
  });

  it('lands edges that fall exactly on pixel centres on the inclusive side despite float noise', () => {
    // 15 * 0.1 = 1.5000000000000002 in floating point; the edge is meant to be exactly 1.5, a pixel centre
    const g = geometryFor(100, 10, 10, 1, 'resize');
    const out = blank(10, 1);
    fillSourceBox(out, g, [15, 0, 10, 10]);
    expect(show(out, 10)).toBe('.#........');
  });
});

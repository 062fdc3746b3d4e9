import { describe, expect, it } from 'vitest';
import { countOnes } from '../../src/analysis/masks.ts';
import { parseStaticRegions, rasterizeStaticRegions } from '../../src/analysis/static-regions.ts';
import { ConfigError } from '../../src/errors.ts';
import { geometryFor } from '../../src/imaging/index.ts';

describe('static (fixed-camera) regions', () => {
  it('gives the same mask in pixels and as fractions, for each resize mode', () => {
    const px = parseStaticRegions([{ name: 'sky', role: 'invalid', box: [40, 0, 120, 30] }], 'static');
    const frac = parseStaticRegions([{ name: 'sky', role: 'invalid', box: [0.2, 0, 0.6, 0.3], units: 'fraction' }], 'static');
    for (const mode of ['resize', 'center-crop', 'letterbox'] as const) {
      const g = geometryFor(200, 100, 50, 50, mode);
      const a = rasterizeStaticRegions(px, 'invalid', g)!;
      expect(Array.from(rasterizeStaticRegions(frac, 'invalid', g)!)).toEqual(Array.from(a));
      expect(rasterizeStaticRegions(px, 'roi', g)).toBeNull();
      // hand-computed model boxes: resize x*0.25, y*0.5 → x 10..40, y 0..15; center-crop x*0.5 − 25 → −5..55,
      // y*0.5 → 0..15, clipped to 50 columns; letterbox x*0.25, y*0.25 + 12 → x 10..40, y 12..19.5 → rows 12..18
      const expected = { resize: 30 * 15, 'center-crop': 50 * 15, letterbox: 30 * 7 }[mode];
      expect(countOnes(a), mode).toBe(expected);
    }
  });

  it('ORs several regions of a role, polygons included', () => {
    const regions = parseStaticRegions(
      [
        { name: 'a', role: 'roi', box: [0, 0, 2, 2] },
        { name: 'b', role: 'roi', polygon: [[4, 0], [6, 0], [6, 2], [4, 2]] },
        { name: 'c', role: 'invalid', box: [0, 4, 6, 2] },
      ],
      'static',
    );
    const g = geometryFor(6, 6, 6, 6, 'resize');
    expect(countOnes(rasterizeStaticRegions(regions, 'roi', g)!)).toBe(8);
    expect(countOnes(rasterizeStaticRegions(regions, 'invalid', g)!)).toBe(12);
  });

  const bad: [string, unknown, RegExp][] = [
    ['not a list', { name: 'x' }, /static: expected a list/],
    ['bad role', [{ name: 'x', role: 'sky', box: [0, 0, 1, 1] }], /static\[0\]\.role: expected "roi" or "invalid"/],
    ['both shapes', [{ name: 'x', role: 'roi', box: [0, 0, 1, 1], polygon: [[0, 0], [1, 0], [1, 1]] }], /static\[0\]: give exactly one/],
    ['short box', [{ name: 'x', role: 'roi', box: [0, 0, 1] }], /static\[0\]\.box: expected \[x, y, w, h\]/],
    ['empty box', [{ name: 'x', role: 'roi', box: [0, 0, 0, 5] }], /static\[0\]\.box: width and height must be > 0/],
    ['2-point polygon', [{ name: 'x', role: 'roi', polygon: [[0, 0], [1, 1]] }], /static\[0\]\.polygon: expected at least 3/],
    ['bad vertex', [{ name: 'x', role: 'roi', polygon: [[0, 0], [1, 1], [2]] }], /static\[0\]\.polygon\[2\]/],
    ['fraction > 1', [{ name: 'x', role: 'roi', box: [0.5, 0, 0.6, 1], units: 'fraction' }], /static\[0\]\.box: fraction coordinates/],
    ['bad units', [{ name: 'x', role: 'roi', box: [0, 0, 1, 1], units: 'cm' }], /static\[0\]\.units/],
    ['duplicate', [{ name: 'x', role: 'roi', box: [0, 0, 1, 1] }, { name: 'x', role: 'roi', box: [0, 0, 1, 1] }], /static\[1\]\.name: duplicate/],
    ['unknown key', [{ name: 'x', role: 'roi', box: [0, 0, 1, 1], colour: 'red' }], /static\[0\]\.colour: unknown key/],
  ];
  for (const [what, value, message] of bad) {
    it(`rejects ${what} with a ConfigError naming the file and the path`, () => {
      let error: unknown;
      try {
        parseStaticRegions(value, 'static', 'heatgate.yaml');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/^heatgate\.yaml: /);
      expect((error as Error).message).toMatch(message);
    });
  }
});

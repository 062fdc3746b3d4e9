import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { normalizeMinMax, upsampleBilinear } from '../../src/imaging/heatmap.ts';

const f32 = (rows: number[][]): Float32Array => Float32Array.from(rows.flat());
const grid = (data: Float32Array, w: number): number[][] =>
  Array.from({ length: data.length / w }, (_, y) => [...data.subarray(y * w, y * w + w)]);

describe('upsampleBilinear (cv2.resize INTER_LINEAR)', () => {
  it('2x2 -> 4x4 gives cv2\'s values', () => {
    // cv2.resize(np.float32([[1, 2], [3, 4]]), (4, 4)): sample positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
    expect(grid(upsampleBilinear(f32([[1, 2], [3, 4]]), 2, 2, 4, 4), 4)).toEqual([
      [1, 1.25, 1.75, 2],
      [1.5, 1.75, 2.25, 2.5],
      [2.5, 2.75, 3.25, 3.5],
      [3, 3.25, 3.75, 4],
    ]);
  });

  it('shrinks by point sampling between pixel centres (no antialiasing)', () => {
    // 4x4 of 0..15 -> 2x2: positions 0.5 and 2.5 average 2x2 blocks
    const map = Float32Array.from({ length: 16 }, (_, i) => i);
    expect(grid(upsampleBilinear(map, 4, 4, 2, 2), 2)).toEqual([[2.5, 4.5], [10.5, 12.5]]);
    // 1x3 [0, 4, 8] -> 1x2: positions 0.25 and 1.75
    expect([...upsampleBilinear(f32([[0, 4, 8]]), 1, 3, 1, 2)]).toEqual([1, 7]);
  });

  it('handles non-square and non-integer ratios, and 1x1 maps', () => {
    // 1x2 [0, 10] -> 1x5: positions (o + 0.5) * 0.4 - 0.5 = -0.3, 0.1, 0.5, 0.9, 1.3
    const row = [...upsampleBilinear(f32([[0, 10]]), 1, 2, 1, 5)];
    [0, 1, 5, 9, 10].forEach((v, i) => expect(row[i]).toBeCloseTo(v, 5));
    expect([...upsampleBilinear(f32([[7]]), 1, 1, 2, 3)]).toEqual([7, 7, 7, 7, 7, 7]);
  });

  it('checks its arguments', () => {
    expect(() => upsampleBilinear(new Float32Array(3), 2, 2, 4, 4)).toThrow(ConfigError);
    expect(() => upsampleBilinear(new Float32Array(4), 2, 2, 0, 4)).toThrow(/outH/);
  });
});

describe('normalizeMinMax (pytorch-grad-cam scale_cam_image)', () => {
  it('maps to (x - min) / (1e-7 + max - min)', () => {
    const out = normalizeMinMax(Float32Array.from([2, 4, 6, 3]));
    const d = 1e-7 + 4;
    [0, 2 / d, 4 / d, 1 / d].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 7));
  });

  it('gives zeros for a constant map and keeps negative inputs in range', () => {
    expect([...normalizeMinMax(Float32Array.from([3, 3, 3]))]).toEqual([0, 0, 0]);
    const out = normalizeMinMax(Float32Array.from([-1, 0, 1]));
    expect(out[0]).toBe(0);
    expect(out[1]).toBeCloseTo(0.5, 6);
  });
});

describe('upsampleBilinear equals the per-pixel cv2 formula bit for bit', () => {
  /** cv2 INTER_LINEAR per output pixel, float64 arithmetic, x then y, written out independently of linearTaps. */
  function perPixel(map: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
    const out = new Float32Array(outH * outW);
    const tap = (o: number, n: number, m: number) => {
      const p = Math.min(Math.max((o + 0.5) * (n / m) - 0.5, 0), n - 1);
      const i0 = Math.floor(p);
      return [i0, Math.min(i0 + 1, n - 1), p - i0];
    };
    for (let y = 0; y < outH; y++) {
      const [y0, y1, wy] = tap(y, h, outH);
      for (let x = 0; x < outW; x++) {
        const [x0, x1, wx] = tap(x, w, outW);
        const top = map[y0 * w + x0] * (1 - wx) + map[y0 * w + x1] * wx;
        const bottom = map[y1 * w + x0] * (1 - wx) + map[y1 * w + x1] * wx;
        out[y * outW + x] = top * (1 - wy) + bottom * wy;
      }
    }
    return out;
  }
  const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

  it('on random maps with ties and zeros, up and down, square or not, the same sizes twice (cached taps)', () => {
    let seed = 5;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const sizes: [number, number, number, number][] = [
      [7, 7, 224, 224], [7, 7, 224, 224], [14, 14, 224, 224], [1, 1, 5, 3], [3, 5, 17, 9], [12, 9, 4, 5], [7, 7, 299, 299], [1, 8, 1, 3],
    ];
    for (const [h, w, outH, outW] of sizes) {
      const map = Float32Array.from({ length: h * w }, () => (next() < 0.3 ? 0 : next() < 0.2 ? 1 : next()));
      expect(same(upsampleBilinear(map, h, w, outH, outW), perPixel(map, h, w, outH, outW))).toBe(true);
    }
    const constant = new Float32Array(49).fill(0.25);
    expect(same(upsampleBilinear(constant, 7, 7, 224, 224), new Float32Array(224 * 224).fill(0.25))).toBe(true);
  });
});

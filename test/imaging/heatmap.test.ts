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

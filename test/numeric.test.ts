import { describe, expect, it } from 'vitest';
import { mulberry32, sortedCopy } from '../src/numeric.ts';

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

describe('sortedCopy', () => {
  it('equals the comparison sort on non-negative maps: ties, zeros, denormals, Infinity, and every byte position', () => {
    const next = mulberry32(7);
    const cases: Float32Array[] = [
      Float32Array.from({ length: 224 * 224 }, () => next()), // a normalised heatmap
      Float32Array.from({ length: 5000 }, () => Math.floor(next() * 10) / 10), // many ties
      Float32Array.from({ length: 3000 }, () => (next() < 0.3 ? 0 : next() * 1e-40)), // zeros and denormals
      Float32Array.from({ length: 3000 }, () => (next() < 0.01 ? Infinity : next() * 1e30)),
      Float32Array.from({ length: 1000 }, () => 0.5), // one value: every pass skipped
      new Float32Array(0),
    ];
    for (const values of cases) {
      const before = Float32Array.from(values);
      expect(same(sortedCopy(values), Float32Array.from(values).sort())).toBe(true);
      expect(same(values, before)).toBe(true); // a copy: the input is left alone
    }
  });

  it('falls back to the comparison sort for negatives, -0 and NaN, with the same order', () => {
    const values = Float32Array.from([0.5, -0, 0, -2, NaN, 3, -Infinity, 1e-3]);
    expect(same(sortedCopy(values), Float32Array.from(values).sort())).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { KEEP_SCRATCH, mulberry32, sortedCopy } from '../src/numeric.ts';

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

describe('sortedCopy: digit passes, scratch reuse, views', () => {
  const reference = (values: Float32Array) => Float32Array.from(values).sort();
  const fromBits = (bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);

  it('sorts maps whose values differ only in some of the three digits (bits 0-10, 11-21, 22-31)', () => {
    const next = mulberry32(11);
    const base = 0x3f000000; // 0.5
    const cases = [
      Array.from({ length: 999 }, () => base + Math.floor(next() * 2048)), // low digit only: two passes skipped
      Array.from({ length: 999 }, () => base + (Math.floor(next() * 2048) << 11)), // middle digit only
      Array.from({ length: 999 }, () => (Math.floor(next() * 200) << 22) >>> 0), // top digit only
      Array.from({ length: 999 }, () => base + Math.floor(next() * 2048) + (Math.floor(next() * 4) << 22)), // low and top
      Array.from({ length: 999 }, () => base + (Math.floor(next() * 8) << 11) + (Math.floor(next() * 4) << 22)), // middle and top
      Array.from({ length: 999 }, () => base + Math.floor(next() * 2048) + (Math.floor(next() * 8) << 11)), // low and middle
    ];
    for (const bits of cases) {
      const values = fromBits(bits);
      expect(same(sortedCopy(values), reference(values))).toBe(true);
    }
  });

  it('gives every call its own result while reusing its working memory across sizes', () => {
    const next = mulberry32(12);
    const big = Float32Array.from({ length: 5000 }, () => next());
    const small = Float32Array.from({ length: 37 }, () => Math.floor(next() * 5));
    const a = sortedCopy(big);
    const b = sortedCopy(small);
    const c = sortedCopy(big.subarray(0, 4000));
    // Longer than any map sorted before in this file: the working memory has to grow.
    const d = sortedCopy(Float32Array.from({ length: 70000 }, (_, i) => big[i % 5000] * 2));
    expect(same(a, reference(big))).toBe(true); // not overwritten by the later calls
    expect(same(b, reference(small))).toBe(true);
    expect(same(c, reference(big.subarray(0, 4000)))).toBe(true);
    expect(d.length).toBe(70000);
    expect(same(d, reference(Float32Array.from({ length: 70000 }, (_, i) => big[i % 5000] * 2)))).toBe(true);
  });

  it('sorts maps larger than the working memory it keeps (own-size inputs), and smaller ones after them', () => {
    const next = mulberry32(14);
    const huge = Float32Array.from({ length: KEEP_SCRATCH + 3 }, () => next());
    expect(same(sortedCopy(huge), reference(huge))).toBe(true);
    const small = Float32Array.from({ length: 3000 }, () => next());
    expect(same(sortedCopy(small), reference(small))).toBe(true);
  });

  it('reads a view at an offset of a larger buffer, and leaves the buffer alone', () => {
    const next = mulberry32(13);
    const all = Float32Array.from({ length: 3000 }, () => (next() < 0.2 ? 0 : next()));
    const view = all.subarray(1001, 2500);
    const before = Float32Array.from(all);
    expect(same(sortedCopy(view), reference(view))).toBe(true);
    expect(same(all, before)).toBe(true);
    const withNegative = all.subarray(5, 50).map((v, i) => (i === 7 ? -v : v));
    expect(same(sortedCopy(withNegative), reference(withNegative))).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { assertNonDegenerate, pearson, variance } from './stats.ts';

describe('pearson (the reference tests\' yardstick)', () => {
  it('is 1 for a positive linear relation and -1 for a negative one', () => {
    expect(pearson([1, 2, 3, 4], [3, 5, 7, 9])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
  });

  it('is NaN, never 1, when a map is constant: two all-zero maps do not "agree"', () => {
    expect(pearson([0, 0, 0], [0, 0, 0])).toBeNaN();
    expect(pearson([0, 0, 0], [1, 2, 3])).toBeNaN();
    expect(() => pearson([1, 2], [1, 2, 3])).toThrow(/lengths differ/);
  });

  it('assertNonDegenerate rejects all-zero and constant maps', () => {
    expect(() => assertNonDegenerate(new Float32Array(4), 'cam')).toThrow(/cam: the map is all zeros/);
    expect(() => assertNonDegenerate([2, 2, 2], 'cam')).toThrow(/constant/);
    expect(() => assertNonDegenerate([0, 1, 0], 'cam')).not.toThrow();
    expect(variance([1, 3])).toBe(1);
  });
});

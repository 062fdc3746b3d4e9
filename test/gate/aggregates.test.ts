import { describe, expect, it } from 'vitest';
import { aggregateFor, percentile } from '../../src/gate/aggregates.ts';

const sorted = (xs: number[]) => Float64Array.from(xs).sort();

describe('percentile (linear interpolation, numpy default)', () => {
  // Expected values from numpy 1.x: np.percentile([0.3, 0.1, 0.7, 0.2, 0.9, 0.4, 0.05], q).
  const data = sorted([0.3, 0.1, 0.7, 0.2, 0.9, 0.4, 0.05]);
  it.each([
    [0, 0.05],
    [10, 0.08],
    [25, 0.15],
    [50, 0.3],
    [90, 0.78],
    [99.5, 0.894],
    [100, 0.9],
  ])('q=%s matches numpy', (q, expected) => {
    expect(percentile(data, q)).toBeCloseTo(expected, 12);
  });

  it('handles one and two values like numpy', () => {
    expect(percentile(sorted([4]), 90)).toBe(4);
    expect(percentile(sorted([1, 2]), 90)).toBeCloseTo(1.9, 12);
    expect(percentile(sorted([1, 2]), 33)).toBeCloseTo(1.33, 12);
  });
});

describe('aggregate registry', () => {
  const data = sorted([0.1, 0.5, 0.5, 0.6, 1.0]);
  it.each([
    ['mean', undefined, 2.7 / 5],
    ['median', undefined, 0.5],
    ['min', undefined, 0.1],
    ['max', undefined, 1.0],
    ['p90', undefined, 0.84], // h = 4 * 0.9 = 3.6 -> 0.6 + 0.6 * 0.4
    ['p25', undefined, 0.5],
    ['shareAbove', 0.5, 2 / 5], // strictly above: 0.6, 1.0
    ['shareBelow', 0.5, 1 / 5], // strictly below: 0.1
    ['shareAbove', 1.0, 0],
    ['shareBelow', 0.05, 0],
  ])('%s(value=%s) = %s', (name, value, expected) => {
    expect(aggregateFor(name)!.compute(data, value)).toBeCloseTo(expected, 12);
  });

  it('rejects unknown names and malformed percentiles', () => {
    for (const name of ['avg', 'p', 'p101', 'p-1', 'P90', 'toString', 'constructor']) {
      expect(aggregateFor(name), name).toBeUndefined();
    }
    expect(aggregateFor('p99.9')).toBeDefined();
    expect(aggregateFor('p100')).toBeDefined();
  });
});

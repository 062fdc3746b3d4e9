import { describe, expect, it } from 'vitest';
import { binCounts, domainOf, histogramSvg } from '../../src/report/histogram.ts';

describe('histogram', () => {
  it('bins values over [lo, hi], the last bin including hi', () => {
    // 20 bins of width 0.05: 0 -> bin 0, 0.05 -> bin 1, 0.5 -> bin 10, 0.99 and 1 -> bin 19.
    const counts = binCounts([0, 0.05, 0.5, 0.99, 1], 0, 1, 20);
    const expected = new Array(20).fill(0);
    expected[0] = 1;
    expected[1] = 1;
    expected[10] = 1;
    expected[19] = 2;
    expect(counts).toEqual(expected);
  });

  it('uses [0, 1] for unit metrics, the data range otherwise, and widens a single value', () => {
    expect(domainOf([0.2, 0.7])).toEqual([0, 1]);
    expect(domainOf([-1, 3])).toEqual([-1, 3]);
    expect(domainOf([5, 5])).toEqual([4.5, 5.5]);
  });

  it('draws one bar per non-empty bin and only markers inside the domain', () => {
    const svg = histogramSvg([0.1, 0.1, 0.9], {
      markers: [
        { x: 0.5, label: 'bound <0.5>', tone: 'threshold' },
        { x: 2, label: 'outside', tone: 'measured' },
      ],
      title: 'invalidMass histogram',
    });
    expect(svg.match(/<rect class="bar"/g)).toHaveLength(2);
    expect(svg.match(/<line class="marker/g)).toHaveLength(1);
    expect(svg).toContain('<title>bound &lt;0.5&gt;</title>');
    expect(svg).toMatch(/^<svg class="hist" viewBox="0 0 \d+ \d+"/);
    // The tallest bar (2 values) reaches the top of the plot; the other is half as tall.
    const heights = [...svg.matchAll(/<rect class="bar"[^>]* height="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(heights[0]).toBeCloseTo(2 * heights[1], 6);
  });
});

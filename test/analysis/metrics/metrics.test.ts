import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetricContext, type MetricInput } from '../../../src/analysis/metrics/context.ts';
import { computeMetrics, getMetric, METRIC_NAMES, METRICS } from '../../../src/analysis/metrics/registry.ts';
import { ConfigError } from '../../../src/errors.ts';

/** A context over a ready model-frame heatmap (the CAM is the heatmap itself). */
function ctxFor(heatmap: number[], width: number, extra: Partial<MetricInput> = {}) {
  const h = Float32Array.from(heatmap);
  const height = h.length / width;
  return createMetricContext({ cam: h, camHeight: height, camWidth: width, height, width, heatmap: h, predicted: 1, target: 1, ...extra });
}
const u8 = (v: number[]) => Uint8Array.from(v);

describe('metrics on a hand-made 2x2 map', () => {
  // h = [1 2; 3 4], Σh = 10; invalid = bottom-right pixel; roi = top row
  const ctx = ctxFor([1, 2, 3, 4], 2, { invalid: u8([0, 0, 0, 1]), roi: u8([1, 1, 0, 0]), label: 1, pointingTolerancePx: 0 });
  const m = computeMetrics(ctx);

  it('mass shares', () => {
    expect(m.invalidMass).toBeCloseTo(4 / 10, 12);
    expect(m.invalidArea).toBe(1 / 4);
    expect(m.roiMass).toBeCloseTo(3 / 10, 12);
    expect(m.energyPointingGame).toBeCloseTo(3 / 10, 12); // the ROI is its own bounding box
  });

  it('pointing game: the max (bottom-right) is 1 px from the ROI', () => {
    expect(m.pointingGame).toBe(0);
    expect(getMetric('pointingGame').compute({ ...ctx, pointingTolerancePx: 1 })).toBe(1);
  });

  it('top-K: K = |roi| = 2, the two highest pixels (4, 3) are both outside', () => {
    expect(m.topKIoU).toBe(0);
    expect(computeMetrics(ctxFor([4, 3, 2, 1], 2, { roi: u8([1, 0, 1, 0]) })).topKIoU).toBe(0.5);
  });

  it('sparseness (Gini with Quantus normalise_by_max and +1e-7) and entropy (nats)', () => {
    // a = [1 2 3 4]/4 + 1e-7 sorted; Σ(2i − N − 1)a_i = −3(.25) − .5 + .75 + 3(1) = 2.5 (the 1e-7 terms cancel)
    expect(m.sparseness).toBeCloseTo(2.5 / (4 * (2.5 + 4e-7)), 12);
    // p = [.1 .2 .3 .4]: −Σ p ln p (numpy)
    expect(m.entropy).toBeCloseTo(1.2798542258336676, 6);
    // Quantus takes |h|: a map with a negative value gives the Gini of its absolute values
    expect(computeMetrics(ctxFor([-4, 1, 2, 3], 2), ['sparseness']).sparseness).toBeCloseTo(2.5 / (4 * (2.5 + 4e-7)), 12);
  });

  it('correct', () => {
    expect(m.correct).toBe(1);
    expect(computeMetrics(ctxFor([1], 1, { label: 0 }), ['correct']).correct).toBe(0);
  });
});

describe('metrics that cannot be computed are null, never 0', () => {
  it('without masks or label', () => {
    const m = computeMetrics(ctxFor([1, 2, 3, 4], 2));
    for (const name of ['invalidMass', 'invalidArea', 'roiMass', 'energyPointingGame', 'pointingGame', 'topKIoU', 'correct', 'occlusionDrop', 'occlusionFlip']) {
      expect(m[name], name).toBeNull();
    }
    expect(m.sparseness).not.toBeNull();
    expect(m.entropy).not.toBeNull();
  });

  it('with an empty ROI (no object to locate); an empty invalid mask is a real 0', () => {
    const m = computeMetrics(ctxFor([1, 2, 3, 4], 2, { roi: u8([0, 0, 0, 0]), invalid: u8([0, 0, 0, 0]) }));
    for (const name of ['roiMass', 'energyPointingGame', 'pointingGame', 'topKIoU']) expect(m[name], name).toBeNull();
    expect(m.invalidMass).toBe(0);
    expect(m.invalidArea).toBe(0);
  });

  it('with an all-zero heatmap (Σh = 0)', () => {
    const m = computeMetrics(ctxFor([0, 0, 0, 0], 2, { roi: u8([1, 0, 0, 0]), invalid: u8([0, 1, 0, 0]) }));
    for (const name of ['invalidMass', 'roiMass', 'energyPointingGame', 'pointingGame', 'topKIoU', 'sparseness', 'entropy']) {
      expect(m[name], name).toBeNull();
    }
    expect(m.invalidArea).toBe(0.25); // a property of the mask, not of the map
  });

  it('reads the occlusion counterfactual when the pipeline ran it', () => {
    const m = computeMetrics(ctxFor([1], 1, { occlusion: { occlusionDrop: 0.25, occlusionFlip: 1 } }));
    expect([m.occlusionDrop, m.occlusionFlip]).toEqual([0.25, 1]);
  });
});

describe('energy-based pointing game: boxes of the ROI components', () => {
  it('counts the mass inside each object box, not only inside the mask', () => {
    // 4x4 map of ones; ROI = a diagonal pair (one 8-connected component, box 2x2) and a lone pixel
    const roi = u8([1, 0, 0, 0, /**/ 0, 1, 0, 0, /**/ 0, 0, 0, 0, /**/ 0, 0, 0, 1]);
    const m = computeMetrics(ctxFor(new Array(16).fill(1), 4, { roi }));
    expect(m.roiMass).toBeCloseTo(3 / 16, 12);
    expect(m.energyPointingGame).toBeCloseTo(5 / 16, 12);
  });
});

interface Reference {
  name: string;
  height: number;
  width: number;
  heatmap: number[];
  roi: number[];
  invalid: number[];
  expected: Record<string, number>;
}
const references = JSON.parse(readFileSync(new URL('../fixtures/metric-reference.json', import.meta.url), 'utf8')) as Reference[];

describe('metrics against numpy (Quantus formulas, fixtures/make_reference.py)', () => {
  for (const r of references) {
    it(r.name, () => {
      const base = { roi: u8(r.roi), invalid: u8(r.invalid) };
      const m = computeMetrics(ctxFor(r.heatmap, r.width, base));
      for (const name of ['invalidMass', 'invalidArea', 'roiMass', 'energyPointingGame', 'topKIoU', 'sparseness', 'entropy']) {
        expect(m[name], name).toBeCloseTo(r.expected[name], 6);
      }
      for (const tol of [0, 3, 15]) {
        const pg = computeMetrics(ctxFor(r.heatmap, r.width, { ...base, pointingTolerancePx: tol }), ['pointingGame']);
        expect(pg.pointingGame, `tolerance ${tol}`).toBe(r.expected[`pointingGame@${tol}`]);
      }
    });
  }
});

describe('metric context', () => {
  it('normalises then upsamples the raw CAM once (pytorch-grad-cam scale_cam_image order)', () => {
    // raw 2x2 [0 0; 0 4] → normalised [0 0; 0 4/(4 + 1e-7)]; cv2 INTER_LINEAR 2 → 4 samples source positions
    // (o + .5)/2 − .5 = −.25, .25, .75, 1.25, clamped to 0, .25, .75, 1: the weights of the bottom-right value
    const ctx = createMetricContext({ cam: Float32Array.from([0, 0, 0, 4]), camHeight: 2, camWidth: 2, height: 4, width: 4, predicted: 0, target: 0 });
    const w = [0, 0.25, 0.75, 1];
    const peak = 4 / (4 + 1e-7);
    const h = ctx.heatmap;
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) expect(h[y * 4 + x]).toBeCloseTo(w[y] * w[x] * peak, 6);
    expect(ctx.heatmap).toBe(h); // cached
    expect(ctx.heatSum).toBeCloseTo(2 * 2 * peak, 5); // Σw = 2 per axis
    expect(ctx.pointingTolerancePx).toBe(15);
  });

  it('rejects masks that are not in the model frame', () => {
    expect(() => createMetricContext({ cam: new Float32Array(4), camHeight: 2, camWidth: 2, height: 4, width: 4, roi: new Uint8Array(4), predicted: 0, target: 0 })).toThrow(
      /roi has 4 values, expected the model frame 4x4/,
    );
  });
});

describe('registry', () => {
  it('has unique names and documents every metric', () => {
    expect(new Set(METRIC_NAMES).size).toBe(METRICS.length);
    const readme = readFileSync(new URL('../../../src/analysis/metrics/README.md', import.meta.url), 'utf8');
    for (const m of METRICS) {
      expect(m.description && m.formula && m.source, m.name).toBeTruthy();
      expect(readme, m.name).toContain(`| \`${m.name}\` |`);
    }
  });

  it('rejects an unknown metric with a ConfigError listing the known ones', () => {
    expect(() => getMetric('roimass')).toThrow(ConfigError);
    expect(() => getMetric('roimass')).toThrow(/unknown metric "roimass"; known metrics: invalidMass, /);
  });
});

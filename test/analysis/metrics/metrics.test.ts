import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetricContext, type MetricInput } from '../../../src/analysis/metrics/context.ts';
import { computeMetrics, getMetric, isRegionMetric, METRIC_NAMES, METRICS } from '../../../src/analysis/metrics/registry.ts';
import { DEFAULT_POINTING_TOLERANCE, pointingTolerancePx } from '../../../src/analysis/metrics/context.ts';
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
    expect(m.topKPrecision).toBe(0);
    expect(computeMetrics(ctxFor([4, 3, 2, 1], 2, { roi: u8([1, 0, 1, 0]) })).topKPrecision).toBe(0.5);
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
    for (const name of ['invalidMass', 'invalidArea', 'roiMass', 'energyPointingGame', 'pointingGame', 'topKPrecision', 'correct', 'occlusionDrop', 'occlusionFlip']) {
      expect(m[name], name).toBeNull();
    }
    expect(m.sparseness).not.toBeNull();
    expect(m.entropy).not.toBeNull();
  });

  it('with an empty ROI (no object to locate); an empty invalid mask is a real 0', () => {
    const m = computeMetrics(ctxFor([1, 2, 3, 4], 2, { roi: u8([0, 0, 0, 0]), invalid: u8([0, 0, 0, 0]) }));
    for (const name of ['roiMass', 'energyPointingGame', 'pointingGame', 'topKPrecision']) expect(m[name], name).toBeNull();
    expect(m.invalidMass).toBe(0);
    expect(m.invalidArea).toBe(0);
  });

  it('with an all-zero heatmap (Σh = 0)', () => {
    const m = computeMetrics(ctxFor([0, 0, 0, 0], 2, { roi: u8([1, 0, 0, 0]), invalid: u8([0, 1, 0, 0]) }));
    for (const name of ['invalidMass', 'roiMass', 'energyPointingGame', 'pointingGame', 'topKPrecision', 'sparseness', 'entropy']) {
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
      for (const name of ['invalidMass', 'invalidArea', 'roiMass', 'energyPointingGame', 'topKPrecision', 'sparseness', 'entropy']) {
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
    // The default tolerance is 15/224 of the shorter side: 15 px at 224, 0.27 px here.
    expect(ctx.pointingTolerancePx).toBeCloseTo((15 / 224) * 4, 12);
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

describe('metric names say what they measure', () => {
  it('topKPrecision is precision at K; the old name topKIoU is an error naming the new one', () => {
    expect(METRIC_NAMES).toContain('topKPrecision');
    expect(METRIC_NAMES).not.toContain('topKIoU');
    expect(() => getMetric('topKIoU')).toThrow(ConfigError);
    expect(() => getMetric('topKIoU')).toThrow('metric "topKIoU" was renamed to topKPrecision');
    // K = |roi| = 3; the top 3 (9, 8, 7) hold 2 ROI pixels: precision 2/3. The IoU of the two sets would be 2/4.
    const m = computeMetrics(ctxFor([9, 8, 7, 1, 2, 3], 3, { roi: u8([1, 0, 1, 1, 0, 0]) }), ['topKPrecision']);
    expect(m.topKPrecision).toBeCloseTo(2 / 3, 12);
  });
});

describe('declared metric ranges', () => {
  // Hand-checked against each definition: shares of mass or pixels and 0/1 indicators in [0, 1]; a Gini index in
  // [0, 1); entropy in [0, ln N], open above because N is the input size; occlusionDrop a difference of two
  // probabilities.
  const expected: Record<string, [number, number]> = {
    invalidMass: [0, 1],
    invalidArea: [0, 1],
    occlusionDrop: [-1, 1],
    occlusionFlip: [0, 1],
    roiMass: [0, 1],
    energyPointingGame: [0, 1],
    pointingGame: [0, 1],
    topKPrecision: [0, 1],
    sparseness: [0, 1],
    entropy: [0, Infinity],
    correct: [0, 1],
    // AUCs of a probability curve over [0, 1]; differences of two such AUCs or of two probabilities.
    deletionAuc: [0, 1],
    insertionAuc: [0, 1],
    deletionVsRandom: [-1, 1],
    insertionVsRandom: [-1, 1],
    roadMorf: [-1, 1],
    roadLerf: [-1, 1],
    roadCombined: [-1, 1],
  };

  it('every metric declares its range once, in the registry', () => {
    expect(Object.fromEntries(METRICS.map((m) => [m.name, m.range]))).toEqual(expected);
  });

  it('values on random maps and masks stay inside the declared range', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 50; trial++) {
      const heatmap = Array.from({ length: 64 }, () => (rand() < 0.3 ? 0 : rand()));
      const mask = () => u8(Array.from({ length: 64 }, () => (rand() < 0.3 ? 1 : 0)));
      const m = computeMetrics(ctxFor(heatmap, 8, { roi: mask(), invalid: mask(), label: trial % 3, occlusion: { occlusionDrop: rand() * 2 - 1, occlusionFlip: trial % 2 } }));
      for (const metric of METRICS) {
        const v = m[metric.name];
        if (v === null) continue;
        expect(v, metric.name).toBeGreaterThanOrEqual(metric.range[0]);
        expect(v, metric.name).toBeLessThanOrEqual(metric.range[1]);
      }
    }
  });

  it('region metrics are the ones that need invalid or ROI regions', () => {
    expect(METRIC_NAMES.filter(isRegionMetric).sort()).toEqual(
      ['energyPointingGame', 'invalidArea', 'invalidMass', 'occlusionDrop', 'occlusionFlip', 'pointingGame', 'roiMass', 'topKPrecision'].sort(),
    );
  });
});

describe('pointing-game tolerance scales with the input', () => {
  it('defaults to 15/224 of the shorter side (TorchRay: 15 px at 224 px)', () => {
    expect(DEFAULT_POINTING_TOLERANCE).toBe(15 / 224);
    expect(pointingTolerancePx(undefined, 224, 300)).toBeCloseTo(15, 12);
    expect(pointingTolerancePx(undefined, 128, 96)).toBeCloseTo((15 / 224) * 96, 12);
    expect(pointingTolerancePx({ fraction: 0.1 }, 128, 200)).toBeCloseTo(12.8, 12);
    expect(pointingTolerancePx({ px: 4 }, 128, 200)).toBe(4);
  });

  it('on a 128-px input a maximum 10 px from the ROI is a miss by default (a fixed 15 px would count it)', () => {
    const size = 128;
    const heatmap = new Array(size * size).fill(0);
    const roi = new Array(size * size).fill(0);
    roi[64 * size + 40] = 1; // ROI pixel at (40, 64)
    heatmap[64 * size + 50] = 1; // the maximum, 10 px to its right
    const ctx = createMetricContext({
      cam: Float32Array.from(heatmap), camHeight: size, camWidth: size, height: size, width: size,
      heatmap: Float32Array.from(heatmap), roi: u8(roi), predicted: 0, target: 0,
    });
    expect(ctx.pointingTolerancePx).toBeCloseTo(8.57, 2);
    expect(getMetric('pointingGame').compute(ctx)).toBe(0);
    expect(getMetric('pointingGame').compute({ ...ctx, pointingTolerancePx: 15 })).toBe(1);
  });
});

describe('entropy follows scipy.stats.entropy exactly, not Quantus\' +1e-12 inside the log', () => {
  it('two equal pixels give ln 2 to the last bit; Quantus\' variant would be 2e-12 lower', () => {
    const e = computeMetrics(ctxFor([1, 1, 0, 0], 2), ['entropy']).entropy!;
    expect(e).toBe(Math.LN2);
    const quantus = -2 * 0.5 * Math.log(0.5 + 1e-12);
    expect(Math.abs(e - quantus)).toBeGreaterThan(1e-12);
  });

  it('zero pixels contribute nothing (0 log 0 = 0)', () => {
    expect(computeMetrics(ctxFor([3, 0, 0, 0], 2), ['entropy']).entropy).toBe(0);
  });
});

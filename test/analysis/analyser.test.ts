import { describe, expect, it } from 'vitest';
import { createAnalyser, type AnalysisExplainer } from '../../src/analysis/analyser.ts';
import type { Explanation } from '../../src/cam/explainer.ts';
import { ConfigError } from '../../src/errors.ts';
import { geometryFor } from '../../src/imaging/index.ts';
import type { BatchItem } from '../../src/analysis/types.ts';

// 4x4 model frame, CAM at the same size (no upsampling), 1-channel CHW input.
const g = geometryFor(4, 4, 4, 4, 'resize');

function item(image: string, cam: number[], tensor: number[], target: number, label: number | null): BatchItem {
  const logits = Float32Array.from([0, 0]);
  const explanation: Explanation = {
    logits,
    probabilities: Float32Array.from([0.5, 0.5]),
    predicted: 0,
    confidence: 0.5,
    target,
    cam: Float32Array.from(cam),
    camHeight: 4,
    camWidth: 4,
  };
  return {
    image,
    prepared: { tensor: Float32Array.from(tensor), geometry: g, rgb: Buffer.alloc(48), width: 4, height: 4 },
    explanation,
    record: { image, predicted: 0, target, label },
  };
}

describe('analyser (pipeline stage)', () => {
  it('computes regions, one batched occlusion forward and all metrics into the records', async () => {
    // invalid = left column (static, for every image); roi = the bottom-right 2x2 block
    const analyser = await createAnalyser({
      regions: {
        static: [
          { name: 'left', role: 'invalid', box: [0, 0, 1, 4] },
          { name: 'object', role: 'roi', box: [0.5, 0.5, 0.5, 0.5], units: 'fraction' },
        ],
      },
    });
    // image a: all heat on the left column (4 pixels of 1); image b: heat on the object
    const camA = [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0];
    const camB = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 3];
    // inputs: left column bright (10) in a, dark elsewhere; b is all ones
    const a = item('a.png', camA, [10, 0, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0], 1, 1);
    const b = item('b.png', camB, new Array(16).fill(1), 0, 1);
    // model: logit1 = Σ left column − 20, logit0 = 0 (it "uses" the invalid pixels)
    const model = (x: Float32Array) => Float32Array.from([0, x[0] + x[4] + x[8] + x[12] - 20]);
    a.explanation.logits = model(a.prepared.tensor);
    b.explanation.logits = model(b.prepared.tensor);
    const calls: { n: number }[] = [];
    const explainer: AnalysisExplainer = {
      inputShape: { channels: 1, height: 4, width: 4, layout: 'NCHW' },
      model: { outputIsProbability: false },
      predict: async (inputs) => {
        calls.push({ n: inputs.length });
        return inputs.map((x) => model(x));
      },
    };
    await analyser.analyse([a, b], explainer);

    expect(calls).toEqual([{ n: 2 }]);
    const ma = a.record.metrics!;
    const mb = b.record.metrics!;
    expect(ma.invalidMass).toBeCloseTo(1, 6);
    expect(ma.invalidArea).toBe(0.25);
    expect(ma.roiMass).toBeCloseTo(0, 6);
    expect(mb.invalidMass).toBeCloseTo(0, 6);
    expect(mb.roiMass).toBeCloseTo(1, 6);
    expect(mb.pointingGame).toBe(1);
    expect(mb.topKPrecision).toBe(1);
    expect(ma.correct).toBe(0); // predicted 0, label 1
    // a: logits [0, 20] → mean fill of the left column = mean of the other 12 pixels = 0 → [0, −20]
    const s = (z: number) => 1 / (1 + Math.exp(-z));
    expect(ma.occlusionDrop).toBeCloseTo(s(20) - s(-20), 6);
    expect(ma.occlusionFlip).toBe(1);
    // b (target 0): logits [0, −16] → the fill (1) equals the pixels → unchanged
    expect(mb.occlusionDrop).toBeCloseTo(0, 6);
    expect(mb.occlusionFlip).toBe(0);
    expect(a.record.regions).toEqual(['static:object', 'static:left']);
    expect(a.outlines?.map((o) => o.color)).toEqual([[64, 220, 64], [255, 48, 48]]);
  });

  it('without regions gives only the map and label metrics, and runs no extra forward', async () => {
    const analyser = await createAnalyser({ metrics: ['invalidMass', 'entropy', 'occlusionDrop'] });
    const x = item('x.png', [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], new Array(16).fill(0), 0, null);
    const explainer: AnalysisExplainer = {
      inputShape: { channels: 1, height: 4, width: 4, layout: 'NCHW' },
      model: { outputIsProbability: false },
      predict: async () => {
        throw new Error('no forward expected');
      },
    };
    await analyser.analyse([x], explainer);
    expect(x.record.metrics!.invalidMass).toBeNull();
    expect(x.record.metrics!.occlusionDrop).toBeNull();
    expect(x.record.metrics!.entropy).toBeCloseTo(Math.log(4), 6); // 4 equal pixels
    expect(Object.keys(x.record.metrics!)).toEqual(['invalidMass', 'entropy', 'occlusionDrop']);
  });

  it('rejects unknown metric names before any image', async () => {
    await expect(createAnalyser({ metrics: ['invalidmass'] })).rejects.toThrow(ConfigError);
  });
});

import type { Metric } from './types.ts';

/** The counterfactual itself runs in the pipeline (one batched forward, analysis/occlusion.ts); these read it. */
export const occlusionDrop: Metric = {
  name: 'occlusionDrop',
  description: 'drop in the target-class softmax probability when the invalid pixels are filled in',
  formula: 'p_t(x) − p_t(x with invalid pixels filled)',
  source: 'occlusion / deletion counterfactual (Zeiler & Fergus 2014; Fong & Vedaldi 2017 blur fill)',
  // A difference of two probabilities.
  range: [-1, 1],
  needs: 'invalid',
  readsOcclusion: true,
  higherIsBetter: false,
  compute: (ctx) => ctx.occlusion?.occlusionDrop ?? null,
};

export const occlusionFlip: Metric = {
  name: 'occlusionFlip',
  description: '1 when filling in the invalid pixels changes the predicted class, else 0',
  formula: '1[argmax f(x) ≠ argmax f(x with invalid pixels filled)]',
  source: 'occlusion counterfactual (heatgate)',
  range: [0, 1],
  needs: 'invalid',
  readsOcclusion: true,
  higherIsBetter: false,
  compute: (ctx) => ctx.occlusion?.occlusionFlip ?? null,
};

import { relu, type CamMethod, type FeatureMap } from './base.ts';

/**
 * Muhammad & Yeasin 2020, https://arxiv.org/abs/2008.00299: the activations as an (h·w)×C matrix, centred per
 * channel, projected on their first principal direction: map = ReLU(M·v₁) = ReLU(σ₁u₁). An SVD's sign is
 * arbitrary (pytorch-grad-cam inherits LAPACK's); heatgate fixes it so the projection correlates positively with
 * the channel-summed activation, so the map shows where the layer is most active.
 */
export const eigenCam: CamMethod = {
  name: 'eigencam',
  title: 'Eigen-CAM',
  citation: 'Muhammad & Yeasin 2020, arXiv:2008.00299',
  usesGradients: false,
  compute: (input) => relu(firstComponentProjection(input.activations)),
};

/** σ₁u₁ of the centred (h·w)×C matrix, via power iteration on its (h·w)×(h·w) Gram matrix. */
export function firstComponentProjection(acts: FeatureMap): Float64Array {
  const hw = acts.height * acts.width;
  const C = acts.channels;
  const centred = new Float64Array(hw * C); // row-major [pixel][channel]
  for (let c = 0; c < C; c++) {
    let mean = 0;
    for (let p = 0; p < hw; p++) mean += acts.data[c * hw + p];
    mean /= hw;
    for (let p = 0; p < hw; p++) centred[p * C + c] = acts.data[c * hw + p] - mean;
  }
  const gram = new Float64Array(hw * hw);
  for (let i = 0; i < hw; i++) {
    for (let j = i; j < hw; j++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += centred[i * C + c] * centred[j * C + c];
      gram[i * hw + j] = gram[j * hw + i] = s;
    }
  }
  let u: Float64Array = new Float64Array(hw).map((_, i) => 1 + ((i * 7919) % 13) / 13); // deterministic start
  let lambda = 0;
  for (let iter = 0; iter < 1000; iter++) {
    const next = new Float64Array(hw);
    for (let i = 0; i < hw; i++) {
      let s = 0;
      for (let j = 0; j < hw; j++) s += gram[i * hw + j] * u[j];
      next[i] = s;
    }
    const norm = Math.hypot(...next);
    if (norm === 0) return new Float64Array(hw);
    for (let i = 0; i < hw; i++) next[i] /= norm;
    const delta = Math.max(...next.map((v, i) => Math.abs(v - u[i])));
    u = next;
    lambda = norm;
    if (delta < 1e-12) break;
  }
  const sigma = Math.sqrt(lambda);
  let orientation = 0;
  for (let p = 0; p < hw; p++) {
    let total = 0;
    for (let c = 0; c < C; c++) total += acts.data[c * hw + p];
    orientation += total * u[p];
  }
  const sign = orientation < 0 ? -1 : 1;
  return u.map((v) => sign * sigma * v);
}

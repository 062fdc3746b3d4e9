import { requireGradients, weightedSum, type CamMethod } from './base.ts';

/**
 * Chattopadhay et al. 2018, https://arxiv.org/abs/1710.11063, eq. 19 with exponential-score gradients:
 * α = G² / (2G² + Σ_hw A · G³ + 1e-6), α = 0 where G = 0; w_c = Σ_hw ReLU(G)·α.
 */
export const gradCamPlusPlus: CamMethod = {
  name: 'gradcampp',
  title: 'Grad-CAM++',
  citation: 'Chattopadhay et al. 2018, arXiv:1710.11063, eq. 19',
  usesGradients: true,
  compute(input) {
    const acts = input.activations;
    const grads = requireGradients(input, 'gradcampp');
    const hw = acts.height * acts.width;
    const weights = new Float64Array(acts.channels);
    for (let c = 0; c < acts.channels; c++) {
      let sumA = 0;
      for (let i = c * hw; i < (c + 1) * hw; i++) sumA += acts.data[i];
      let w = 0;
      for (let i = c * hw; i < (c + 1) * hw; i++) {
        const g = grads.data[i];
        if (g <= 0) continue; // ReLU(G) = 0, and α = 0 where G = 0
        const g2 = g * g;
        w += g * (g2 / (2 * g2 + sumA * g2 * g + 1e-6));
      }
      weights[c] = w;
    }
    return weightedSum(acts, weights);
  },
};

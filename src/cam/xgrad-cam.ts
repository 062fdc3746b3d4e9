import { requireGradients, weightedSum, type CamMethod } from './base.ts';

/** Fu et al. 2020, https://arxiv.org/abs/2008.02312, eq. 11: w_c = Σ_hw dS/dA_c·A_c / (Σ_hw A_c + 1e-7). */
export const xGradCam: CamMethod = {
  name: 'xgradcam',
  title: 'XGrad-CAM',
  citation: 'Fu et al. 2020, arXiv:2008.02312, eq. 11',
  usesGradients: true,
  compute(input) {
    const acts = input.activations;
    const grads = requireGradients(input, 'xgradcam');
    const hw = acts.height * acts.width;
    const weights = new Float64Array(acts.channels);
    for (let c = 0; c < acts.channels; c++) {
      let num = 0;
      let den = 0;
      for (let i = c * hw; i < (c + 1) * hw; i++) {
        num += grads.data[i] * acts.data[i];
        den += acts.data[i];
      }
      weights[c] = num / (den + 1e-7);
    }
    return weightedSum(acts, weights);
  },
};

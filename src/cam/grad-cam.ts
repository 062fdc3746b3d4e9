import { reduceMean, reduceSum } from '../autodiff/emit.ts';
import { perChannel, requireGradients, weightedSum, type CamMethod } from './base.ts';

/** Selvaraju et al. 2017, https://arxiv.org/abs/1610.02391, eq. 1-2: w_c = mean_hw dS/dA_c; map = ReLU(Σ_c w_c A_c). */
export const gradCam: CamMethod = {
  name: 'gradcam',
  title: 'Grad-CAM',
  citation: 'Selvaraju et al. 2017, arXiv:1610.02391, eq. 1-2',
  usesGradients: true,
  compute(input) {
    const grads = requireGradients(input, 'gradcam');
    const hw = grads.height * grads.width;
    const weights = perChannel(grads, (d, s, e) => {
      let sum = 0;
      for (let i = s; i < e; i++) sum += d[i];
      return sum / hw;
    });
    return weightedSum(input.activations, weights);
  },
  graph(ops, a, g, layout) {
    const [spatial, channel] = layout === 'NCHW' ? [[2, 3], 1] : [[1, 2], 3];
    const weights = reduceMean(ops, g, spatial, true);
    const sum = reduceSum(ops, ops.op('Mul', [a, weights], {}, 'weighted'), [channel], false);
    return ops.op('Relu', [sum], {}, 'cam');
  },
};

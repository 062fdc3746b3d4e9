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
  graph(ops, { activation, gradient, activationDims, gradientDims, layout }) {
    const [spatial, channel] = layout === 'NCHW' ? [[2, 3], 1] : [[1, 2], 3];
    // dA that is constant over space (a pooled head gives it as [N, C, 1, 1]) is its own spatial mean.
    const weights = spatial.every((a) => gradientDims[a] === 1) ? gradient : reduceMean(ops, gradient, spatial, true);
    const [h, w, c] = [activationDims[spatial[0]], activationDims[spatial[1]], activationDims[channel]];
    if (gradientDims[channel] !== c) {
      // dA constant across channels (a head that sums them first): one weight broadcast over all channels.
      return ops.op('Relu', [reduceSum(ops, ops.op('Mul', [activation, weights], {}, 'weighted'), [channel], false)], {}, 'cam');
    }
    // Σ_c w_c·A_c as one batched MatMul ([N, 1, C] x [N, C, hw] or [N, hw, C] x [N, C, 1]): no [N, C, h, w] product.
    const flat = ops.op('Reshape', [activation, ops.constant(layout === 'NCHW' ? [0, c, h * w] : [0, h * w, c], 'int64')], {}, 'a_flat');
    const sum = layout === 'NCHW'
      ? ops.op('MatMul', [ops.op('Reshape', [weights, ops.constant([0, 1, c], 'int64')], {}, 'w_row'), flat], {}, 'sum')
      : ops.op('MatMul', [flat, ops.op('Reshape', [weights, ops.constant([0, c, 1], 'int64')], {}, 'w_column')], {}, 'sum');
    const map = ops.op('Reshape', [sum, ops.constant([0, h, w], 'int64')], {}, 'map');
    return ops.op('Relu', [map], {}, 'cam');
  },
};

import { requireGradients, spatialSum, type CamMethod } from './base.ts';

/** Draelos & Carin 2020, https://arxiv.org/abs/2011.08891, eq. 4: map = ReLU(Σ_c dS/dA_c ⊙ A_c). */
export const hiResCam: CamMethod = {
  name: 'hirescam',
  title: 'HiResCAM',
  citation: 'Draelos & Carin 2020, arXiv:2011.08891, eq. 4',
  usesGradients: true,
  compute: (input) => spatialSum(input.activations, requireGradients(input, 'hirescam'), (a, g) => a * g),
};

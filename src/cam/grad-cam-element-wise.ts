import { requireGradients, spatialSum, type CamMethod } from './base.ts';

/** pytorch-grad-cam's GradCAMElementWise (grad_cam_elementwise.py): map = ReLU(Σ_c ReLU(dS/dA_c ⊙ A_c)). */
export const gradCamElementWise: CamMethod = {
  name: 'gradcamelementwise',
  title: 'Grad-CAM element-wise',
  citation: 'pytorch-grad-cam GradCAMElementWise (HiResCAM with the product rectified before the channel sum)',
  usesGradients: true,
  compute: (input) => spatialSum(input.activations, requireGradients(input, 'gradcamelementwise'), (a, g) => Math.max(a * g, 0)),
};

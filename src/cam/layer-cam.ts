import { requireGradients, spatialSum, type CamMethod } from './base.ts';

/** Jiang et al. 2021, LayerCAM (IEEE TIP 30), eq. 5-6: map = ReLU(Σ_c ReLU(dS/dA_c) ⊙ A_c). */
export const layerCam: CamMethod = {
  name: 'layercam',
  title: 'LayerCAM',
  citation: 'Jiang et al. 2021, IEEE TIP 30:5875, eq. 5-6',
  usesGradients: true,
  compute: (input) => spatialSum(input.activations, requireGradients(input, 'layercam'), (a, g) => Math.max(g, 0) * a),
};

// Gradient checks for Resize (and Upsample, upgraded to Resize-11): central differences in float32,
// |grad - fd| <= 3e-4 + 3e-3 |fd| (see ../grad-check.ts). Resize is linear in x, so the differences are exact up to
// round-off; the cases cover each coordinate transformation and rounding, block and non-block index maps.
import { describe, expect, it } from 'vitest';
import type { NodeSpec } from '../../../src/onnx/builder.ts';
import { floatTensor, gradCheck, intTensor, type GradCase } from '../grad-check.ts';

const resize = (opset: number, input: number[], attributes: NodeSpec['attributes'], scales?: number[], sizes?: number[]): GradCase => {
  const initializers = [floatTensor('roi', [0], [])];
  if (scales) initializers.push(floatTensor('scales', [4], scales));
  if (sizes) initializers.push(intTensor('sizes', [4], sizes));
  const inputs = ['x', opset >= 13 ? '' : 'roi', scales ? 'scales' : '', ...(sizes ? ['sizes'] : [])];
  // Sizes fix the batch, so the finite differences run one batch-2 perturbation at a time.
  return { opset, input, initializers, separable: !sizes, nodes: [{ opType: 'Resize', inputs, outputs: ['y'], attributes }] };
};

const cases: [string, GradCase][] = [
  ['nearest x2, asymmetric + floor (torch interpolate, Upsample)', resize(11, [2, 3, 4, 5], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, [1, 1, 2, 2])],
  ['nearest x3 asymmetric + round_prefer_floor (not a block map)', resize(13, [2, 2, 3, 3], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric' }, [1, 1, 3, 3])],
  ['nearest half_pixel default, x1.5 by sizes', resize(13, [2, 2, 4, 4], { mode: 'nearest' }, undefined, [2, 2, 6, 6])],
  ['nearest tf_half_pixel_for_nn + ceil, downsample', resize(13, [2, 2, 6, 6], { mode: 'nearest', coordinate_transformation_mode: 'tf_half_pixel_for_nn', nearest_mode: 'ceil' }, [1, 1, 0.5, 0.5])],
  ['linear x2 pytorch_half_pixel (bilinear, align_corners=False)', resize(11, [2, 3, 4, 4], { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' }, [1, 1, 2, 2])],
  ['linear align_corners, 3x4 -> 7x9', resize(17, [2, 2, 3, 4], { mode: 'linear', coordinate_transformation_mode: 'align_corners' }, undefined, [2, 2, 7, 9])],
  ['linear asymmetric x2 (Upsample linear)', resize(11, [2, 2, 3, 3], { mode: 'linear', coordinate_transformation_mode: 'asymmetric' }, [1, 1, 2, 2])],
];

describe('Resize gradients match finite differences', () => {
  it.each(cases)('%s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });

  it('refuses cubic resampling by name', async () => {
    await expect(gradCheck(resize(13, [2, 2, 3, 3], { mode: 'cubic' }, [1, 1, 2, 2]))).rejects.toThrow(/Resize.*mode "cubic" is not supported/);
  });
});

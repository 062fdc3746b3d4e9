// Gradient checks for Conv (dx via ConvTranspose): central differences in float32, h = 1e-2,
// |grad - fd| <= 3e-4 + 3e-3 |fd| (see ../grad-check.ts).
import { describe, expect, it } from 'vitest';
import type { AttrValue } from '../../../src/onnx/builder.ts';
import { floatTensor, gradCheck, random, type GradCase } from '../grad-check.ts';

function conv(opset: number, x: number[], w: number[], attributes: Record<string, AttrValue>, seed: number, bias = false): GradCase {
  const initializers = [floatTensor('w', w, random(seed, w.reduce((p, q) => p * q, 1)))];
  if (bias) initializers.push(floatTensor('b', [w[0]], random(seed + 1, w[0])));
  return { opset, input: x, seed, initializers, nodes: [{ opType: 'Conv', inputs: ['x', 'w', ...(bias ? ['b'] : [])], outputs: ['y'], attributes }] };
}

const cases: [string, GradCase][] = [
  ['3x3, stride 1, pads 1, bias', conv(13, [2, 3, 5, 5], [4, 3, 3, 3], { pads: [1, 1, 1, 1] }, 1, true)],
  ['3x3, stride 2, asymmetric pads [1,0,0,2]', conv(11, [2, 2, 6, 5], [3, 2, 3, 3], { strides: [2, 2], pads: [1, 0, 0, 2] }, 2)],
  ['3x3, stride 2, no pads: the last input row/col is in no window', conv(13, [2, 2, 6, 6], [2, 2, 3, 3], { strides: [2, 2] }, 3)],
  ['2x3 kernel, dilations [2,1], stride [1,2]', conv(18, [2, 2, 7, 6], [3, 2, 2, 3], { dilations: [2, 1], strides: [1, 2], pads: [1, 1, 1, 1] }, 4)],
  ['groups 2', conv(13, [2, 4, 4, 4], [6, 2, 3, 3], { group: 2, pads: [1, 1, 1, 1] }, 5)],
  ['depthwise (group = C), stride 2', conv(13, [2, 3, 5, 5], [3, 1, 3, 3], { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] }, 6)],
  ['depthwise multiplier 2 (group = C, M = 2C)', conv(13, [2, 2, 4, 4], [4, 1, 3, 3], { group: 2, pads: [1, 1, 1, 1] }, 7)],
  ['auto_pad SAME_UPPER, stride 2, even size', conv(11, [2, 2, 6, 6], [2, 2, 3, 3], { auto_pad: 'SAME_UPPER', strides: [2, 2] }, 8)],
  ['auto_pad SAME_UPPER, 4x4 kernel (odd total pad)', conv(13, [2, 2, 5, 5], [2, 2, 4, 4], { auto_pad: 'SAME_UPPER' }, 9)],
  ['auto_pad SAME_LOWER, 4x4 kernel (odd total pad)', conv(13, [2, 2, 5, 5], [2, 2, 4, 4], { auto_pad: 'SAME_LOWER' }, 10)],
  ['auto_pad SAME_LOWER, stride 2, odd size', conv(17, [2, 1, 7, 7], [2, 1, 3, 3], { auto_pad: 'SAME_LOWER', strides: [2, 2] }, 11)],
  ['auto_pad VALID, stride 3', conv(13, [2, 2, 8, 7], [2, 2, 2, 2], { auto_pad: 'VALID', strides: [3, 3] }, 12)],
  ['1x1 kernel, stride 2 (pointwise downsample)', conv(13, [2, 3, 5, 4], [2, 3, 1, 1], { strides: [2, 2] }, 13)],
  ['1-D conv, stride 2, pads [2,1]', conv(13, [2, 3, 9], [2, 3, 3], { strides: [2], pads: [2, 1] }, 14)],
  ['3-D conv, pads 1', conv(13, [2, 1, 3, 4, 3], [2, 1, 2, 3, 2], { pads: [1, 1, 0, 0, 1, 1] }, 15)],
];

describe('Conv gradients match finite differences', () => {
  it.each(cases)('%s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });
});

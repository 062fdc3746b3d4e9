// Gradient checks for Caffe2-era ops: LRN, variadic Sum and Mean (with broadcasting). Central differences in float32,
// |grad - fd| <= 3e-4 + 3e-3 |fd| (see ../grad-check.ts).
import { describe, expect, it } from 'vitest';
import { float } from '../../../src/onnx/builder.ts';
import { floatTensor, gradCheck, random, type GradCase } from '../grad-check.ts';

const cases: [string, GradCase][] = [
  ['LRN size 3 (AlexNet/GoogLeNet style)', {
    opset: 13, input: [2, 5, 3, 3], values: random(11, 90, -2, 2),
    nodes: [{ opType: 'LRN', inputs: ['x'], outputs: ['y'], attributes: { size: 3, alpha: float(0.3), beta: float(0.75), bias: float(1) } }],
  }],
  ['LRN size 5, default alpha/beta/bias', {
    opset: 11, input: [2, 6, 2, 2], values: random(12, 48, -3, 3),
    nodes: [{ opType: 'LRN', inputs: ['x'], outputs: ['y'], attributes: { size: 5 } }],
  }],
  ['Sum of three, x used twice, one broadcast constant', {
    opset: 13, input: [2, 3, 4],
    initializers: [floatTensor('b', [4], [0.1, -0.2, 0.3, 0.4])],
    nodes: [
      { opType: 'Mul', inputs: ['x', 'x'], outputs: ['x2'] },
      { opType: 'Sum', inputs: ['x', 'x2', 'b'], outputs: ['y'] },
    ],
  }],
  ['Mean of x and a per-channel slice of x', {
    opset: 11, input: [2, 3, 4],
    nodes: [
      { opType: 'ReduceSum', inputs: ['x'], outputs: ['s'], attributes: { axes: [2], keepdims: 1 } },
      { opType: 'Mean', inputs: ['x', 's'], outputs: ['y'] },
    ],
  }],
];

describe('Caffe2-era op gradients match finite differences', () => {
  it.each(cases)('%s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });
});

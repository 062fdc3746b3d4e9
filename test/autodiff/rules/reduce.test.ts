// Gradient checks for reductions and softmax: central differences in float32, h = 1e-2,
// |grad - fd| <= 3e-4 + 3e-3 |fd| (see ../grad-check.ts). Softmax's axis means "all axes from axis on" before
// opset 13 and "this one axis" from 13: both are checked on 3-D inputs where the two differ.
import { describe, expect, it } from 'vitest';
import type { NodeSpec } from '../../../src/onnx/builder.ts';
import type { onnx } from '../../../src/onnx/proto.ts';
import { gradCheck, intTensor, random, type GradCase } from '../grad-check.ts';

/** y = op(x)^2 (squared so dy/dx depends on where x sits, not only on the reduction's pattern). */
function reduce(opset: number, input: number[], opType: string, attributes: NodeSpec['attributes'], axes?: number[], separable = true): GradCase {
  const initializers: onnx.TensorProto[] = axes ? [intTensor('axes', [axes.length], axes)] : [];
  return {
    opset, input, initializers, separable,
    nodes: [{ opType, inputs: axes ? ['x', 'axes'] : ['x'], outputs: ['r'], attributes }, { opType: 'Mul', inputs: ['r', 'r'], outputs: ['y'] }],
  };
}

const softmax = (opset: number, opType: string, input: number[], attributes: NodeSpec['attributes'] = {}): GradCase => ({
  opset, input, values: random(opset, input.reduce((p, q) => p * q, 1), -2, 2), nodes: [{ opType, inputs: ['x'], outputs: ['y'], attributes }],
});

const cases: [string, GradCase][] = [
  ['ReduceSum axes attribute, keepdims 0 (opset 11)', reduce(11, [2, 3, 4], 'ReduceSum', { axes: [2], keepdims: 0 })],
  ['ReduceSum axes input, keepdims 1 (opset 13)', reduce(13, [2, 3, 2, 2], 'ReduceSum', { keepdims: 1 }, [2, -1])],
  ['ReduceSum axes input, keepdims 0 (opset 18)', reduce(18, [2, 3, 4], 'ReduceSum', { keepdims: 0 }, [1])],
  ['ReduceSum empty axes reduce everything, batch included (opset 13)', reduce(13, [2, 3], 'ReduceSum', { keepdims: 1 }, [], false)],
  ['ReduceSum noop_with_empty_axes (opset 13)', reduce(13, [2, 3], 'ReduceSum', { noop_with_empty_axes: 1 }, [])],
  ['ReduceMean axes attribute, keepdims 0 (opset 11)', reduce(11, [2, 3, 4], 'ReduceMean', { axes: [1, 2], keepdims: 0 })],
  ['ReduceMean spatial mean, axes attribute (opset 13)', reduce(13, [2, 3, 2, 3], 'ReduceMean', { axes: [-2, -1] })],
  ['ReduceMean axes input (opset 18)', reduce(18, [2, 3, 4], 'ReduceMean', { keepdims: 0 }, [2])],
  ['ReduceMean over the batch axis: count from Size (opset 13)', reduce(13, [2, 3, 2], 'ReduceMean', { axes: [0, 2] }, undefined, false)],
  ['ReduceMean with no axes: everything (opset 11)', reduce(11, [2, 3], 'ReduceMean', { keepdims: 1 }, undefined, false)],
  ['Softmax over logits [N, C] (opset 13)', softmax(13, 'Softmax', [2, 5])],
  ['Softmax axis 1 of [N,3,4] (opset 11: over axes 1 and 2)', softmax(11, 'Softmax', [2, 3, 4], { axis: 1 })],
  ['Softmax default axis of [N,3,4] (opset 11: 1, over axes 1 and 2)', softmax(11, 'Softmax', [2, 3, 4])],
  ['Softmax axis 1 of [N,3,4] (opset 13: axis 1 only)', softmax(13, 'Softmax', [2, 3, 4], { axis: 1 })],
  ['Softmax default axis of [N,3,4] (opset 13: -1)', softmax(13, 'Softmax', [2, 3, 4])],
  ['LogSoftmax over logits [N, C] (opset 11)', softmax(11, 'LogSoftmax', [2, 6])],
  ['LogSoftmax axis 1 of [N,3,4] (opset 11: over axes 1 and 2)', softmax(11, 'LogSoftmax', [2, 3, 4], { axis: 1 })],
  ['LogSoftmax axis 1 of [N,3,4] (opset 13: axis 1 only)', softmax(13, 'LogSoftmax', [2, 3, 4], { axis: 1 })],
  ['LogSoftmax default axis of [N,2,3,2] (opset 18)', softmax(18, 'LogSoftmax', [2, 2, 3, 2])],
];

describe('reduction and softmax gradients match finite differences', () => {
  it.each(cases)('%s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });
});

// Gradient checks for BatchNormalization (inference) and LayerNormalization: central differences in float32,
// h = 1e-2, |grad - fd| <= 3e-4 + 3e-3 |fd| (see ../grad-check.ts).
import { describe, expect, it } from 'vitest';
import { buildBackward } from '../../../src/autodiff/index.ts';
import { InputError } from '../../../src/errors.ts';
import { float, toNodeProto } from '../../../src/onnx/builder.ts';
import { GraphIndex } from '../../../src/onnx/graph.ts';
import type { TensorInfo } from '../../../src/onnx/probe.ts';
import { floatTensor, gradCheck, random, type GradCase } from '../grad-check.ts';

function bn(opset: number, input: number[], attributes = {}): GradCase {
  const c = input[1];
  return {
    opset, input,
    initializers: [
      floatTensor('scale', [c], random(1, c, 0.5, 2)), floatTensor('bias', [c], random(2, c)),
      floatTensor('mean', [c], random(3, c)), floatTensor('var', [c], random(4, c, 0.1, 1.5)),
    ],
    nodes: [{ opType: 'BatchNormalization', inputs: ['x', 'scale', 'bias', 'mean', 'var'], outputs: ['b'], attributes }, { opType: 'Tanh', inputs: ['b'], outputs: ['y'] }],
  };
}

function ln(opset: number, input: number[], axis: number | undefined, epsilon?: number): GradCase {
  const normalized = input.slice(axis === undefined ? -1 : axis < 0 ? input.length + axis : axis);
  const n = normalized.reduce((p, q) => p * q, 1);
  return {
    opset, input, values: random(opset + input.length, input.reduce((p, q) => p * q, 1), -2, 2),
    initializers: [floatTensor('scale', normalized, random(5, n, 0.5, 1.5)), floatTensor('bias', normalized, random(6, n))],
    nodes: [{
      opType: 'LayerNormalization', inputs: ['x', 'scale', 'bias'], outputs: ['y'],
      attributes: { ...(axis === undefined ? {} : { axis }), ...(epsilon === undefined ? {} : { epsilon: float(epsilon) }) },
    }],
  };
}

const cases: [string, GradCase][] = [
  ['BatchNormalization [N,C,H,W] (opset 11)', bn(11, [2, 3, 2, 2])],
  ['BatchNormalization [N,C] with epsilon 0.1 (opset 15)', bn(15, [2, 4], { epsilon: float(0.1) })],
  ['BatchNormalization [N,C,L] (opset 14, training_mode 0)', bn(14, [2, 3, 4], { training_mode: 0 })],
  ['LayerNormalization over the last axis (opset 17)', ln(17, [2, 3, 5], undefined)],
  ['LayerNormalization axis 1 of [N,2,3] (opset 17)', ln(17, [2, 2, 3], 1)],
  ['LayerNormalization axis -2, epsilon 1e-3 (opset 18: ReduceMean axes as input)', ln(18, [2, 3, 2, 2], -2, 1e-3)],
];

describe('normalization gradients match finite differences', () => {
  it.each(cases)('%s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });

  it('BatchNormalization in training mode is refused with the node named', () => {
    // ORT itself rejects this graph, so the builder is called directly with hand-written shapes.
    const c = bn(15, [2, 3], { training_mode: 1 });
    const graph = {
      node: [toNodeProto({ ...c.nodes[0], outputs: ['y', 'running_mean', 'running_var'], name: 'bn_train' })],
      initializer: c.initializers,
    };
    const shapes = new Map<string, TensorInfo>([['x', { dims: [2, 3], dtype: 'float32' }], ['y', { dims: [2, 3], dtype: 'float32' }]]);
    const build = () => buildBackward({ graph, index: new GraphIndex(graph), from: 'x', to: 'y', seed: 'dy', shapes, opset: 15, file: 'bn.onnx' });
    expect(build).toThrow(InputError);
    expect(build).toThrow(/bn\.onnx: cannot differentiate BatchNormalization node "bn_train".*training_mode/);
  });
});

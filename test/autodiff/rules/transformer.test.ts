// Gradient checks for the ops of a vision transformer block's tail, at the shapes a ViT has: tokens [N, T, C]
// (T = 5: a class token and a 2x2 grid), heads [N, h, T, d]. Central differences in float32,
// |grad - fd| <= 3e-4 + 3e-3 |fd| (see ../grad-check.ts); h = 1e-3 for the multi-op graphs.
import { describe, expect, it } from 'vitest';
import { float } from '../../../src/onnx/builder.ts';
import { floatTensor, gradCheck, intTensor, random, type GradCase } from '../grad-check.ts';

const T = 5, C = 8, HEADS = 2, D = C / HEADS;
const weights = (name: string, dims: number[], seed: number, lo = -1, hi = 1) => floatTensor(name, dims, random(seed, dims.reduce((p, q) => p * q, 1), lo, hi));
const tokens = (seed: number) => random(seed, 2 * T * C, -2, 2);

/** x [N,T,C] -> heads [N,h,T,d] through a projection, as timm's Attention does. */
function heads(name: string, w: string, transposeLast = false): GradCase['nodes'] {
  return [
    { opType: 'MatMul', inputs: ['x', w], outputs: [`${name}_lin`] },
    { opType: 'Reshape', inputs: [`${name}_lin`, 'split_shape'], outputs: [`${name}_split`] },
    { opType: 'Transpose', inputs: [`${name}_split`], outputs: [name], attributes: { perm: transposeLast ? [0, 2, 3, 1] : [0, 2, 1, 3] } },
  ];
}

const attentionInits = () => [
  weights('wq', [C, C], 11, -0.5, 0.5), weights('wk', [C, C], 12, -0.5, 0.5), weights('wv', [C, C], 13, -0.5, 0.5),
  intTensor('split_shape', [4], [0, T, HEADS, D]), intTensor('merge_shape', [3], [0, T, C]), floatTensor('scale', [], [1 / Math.sqrt(D)]),
];

const cases: [string, GradCase][] = [
  ['LayerNormalization over C of tokens [N,T,C] (opset 17)', {
    opset: 17, input: [2, T, C], values: tokens(1),
    initializers: [weights('g', [C], 2, 0.5, 1.5), weights('b', [C], 3)],
    nodes: [{ opType: 'LayerNormalization', inputs: ['x', 'g', 'b'], outputs: ['y'], attributes: { axis: -1, epsilon: float(1e-6) } }],
  }],
  ['MatMul tokens [N,T,C] @ W [C,D] (a Linear, W broadcast over N and T)', {
    opset: 13, input: [2, T, C], values: tokens(4), initializers: [weights('w', [C, 3], 5)],
    nodes: [{ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
  }],
  ['attention: softmax(Q K^T / sqrt(d)) over tokens, @ V; Q, K, V all from x (opset 13)', {
    opset: 13, input: [2, T, C], values: tokens(6), h: 1e-3, initializers: attentionInits(),
    nodes: [
      ...heads('q', 'wq'), ...heads('kt', 'wk', true), ...heads('v', 'wv'),
      { opType: 'MatMul', inputs: ['q', 'kt'], outputs: ['logit'] },
      { opType: 'Mul', inputs: ['logit', 'scale'], outputs: ['scaled'] },
      { opType: 'Softmax', inputs: ['scaled'], outputs: ['attn'], attributes: { axis: -1 } },
      { opType: 'MatMul', inputs: ['attn', 'v'], outputs: ['mixed'] },
      { opType: 'Transpose', inputs: ['mixed'], outputs: ['merged_t'], attributes: { perm: [0, 2, 1, 3] } },
      { opType: 'Reshape', inputs: ['merged_t', 'merge_shape'], outputs: ['y'] },
    ],
  }],
  ['MatMul with broadcast batch dims: [N,h,T,T] @ [N,1,T,d] (both from x)', {
    opset: 13, input: [2, T, C], values: tokens(7), h: 1e-3,
    initializers: [...attentionInits(), intTensor('one_head', [4], [0, 1, T, C])],
    nodes: [
      ...heads('q', 'wq'), ...heads('kt', 'wk', true),
      { opType: 'MatMul', inputs: ['q', 'kt'], outputs: ['attn'] },
      { opType: 'Reshape', inputs: ['x', 'one_head'], outputs: ['shared'] },
      { opType: 'MatMul', inputs: ['attn', 'shared'], outputs: ['y'] },
    ],
  }],
  ['GELU written with Erf, as torch 1.13 exports it: x/2 (1 + erf(x/sqrt 2)) (opset 13)', {
    opset: 13, input: [2, T, C], values: tokens(8), h: 1e-3,
    initializers: [floatTensor('sqrt2', [], [Math.SQRT2]), floatTensor('one', [], [1]), floatTensor('half', [], [0.5])],
    nodes: [
      { opType: 'Div', inputs: ['x', 'sqrt2'], outputs: ['s'] },
      { opType: 'Erf', inputs: ['s'], outputs: ['e'] },
      { opType: 'Add', inputs: ['e', 'one'], outputs: ['a'] },
      { opType: 'Mul', inputs: ['x', 'a'], outputs: ['m'] },
      { opType: 'Mul', inputs: ['m', 'half'], outputs: ['y'] },
    ],
  }],
  ['Gelu op on tokens (opset 20)', {
    opset: 20, input: [2, T, C], values: tokens(9), nodes: [{ opType: 'Gelu', inputs: ['x'], outputs: ['y'] }],
  }],
  ['class token by Gather (axis 1, scalar index 0), then the head MatMul', {
    opset: 13, input: [2, T, C], values: tokens(10),
    initializers: [intTensor('zero', [], [0]), weights('w', [C, 3], 14)],
    nodes: [
      { opType: 'Gather', inputs: ['x', 'zero'], outputs: ['cls'], attributes: { axis: 1 } },
      { opType: 'MatMul', inputs: ['cls', 'w'], outputs: ['y'] },
    ],
  }],
  ['class token by Slice x[:, 0:1] then Squeeze (opset 13)', {
    opset: 13, input: [2, T, C], values: tokens(11),
    initializers: [intTensor('s0', [1], [0]), intTensor('s1', [1], [1]), intTensor('ax', [1], [1])],
    nodes: [
      { opType: 'Slice', inputs: ['x', 's0', 's1', 'ax'], outputs: ['cls'] },
      { opType: 'Squeeze', inputs: ['cls', 'ax'], outputs: ['sq'] },
      { opType: 'Mul', inputs: ['sq', 'sq'], outputs: ['y'] },
    ],
  }],
  ['patch tokens by Slice x[:, 1:] then ReduceMean over tokens (opset 18, axes input)', {
    opset: 18, input: [2, T, C], values: tokens(12),
    initializers: [intTensor('s1', [1], [1]), intTensor('end', [1], [T]), intTensor('ax', [1], [1])],
    nodes: [
      { opType: 'Slice', inputs: ['x', 's1', 'end', 'ax'], outputs: ['patches'] },
      { opType: 'ReduceMean', inputs: ['patches', 'ax'], outputs: ['pooled'], attributes: { keepdims: 0 } },
      { opType: 'Mul', inputs: ['pooled', 'pooled'], outputs: ['y'] },
    ],
  }],
  ['ReduceMean over tokens, axes attribute (opset 13)', {
    opset: 13, input: [2, T, C], values: tokens(13),
    nodes: [
      { opType: 'ReduceMean', inputs: ['x'], outputs: ['pooled'], attributes: { axes: [1], keepdims: 0 } },
      { opType: 'Mul', inputs: ['pooled', 'pooled'], outputs: ['y'] },
    ],
  }],
];

describe('transformer block tail gradients match finite differences', () => {
  it.each(cases)('%s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });
});

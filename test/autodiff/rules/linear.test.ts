// Gradient checks for Gemm and MatMul: central differences in float32, h = 1e-2, |grad - fd| <= 3e-4 + 3e-3 |fd|
// (see ../grad-check.ts). Weights are constants; cases that carve both operands out of x check both gradients.
import { describe, expect, it } from 'vitest';
import { float } from '../../../src/onnx/builder.ts';
import { carve, floatTensor, gradCheck, intTensor, random, type GradCase } from '../grad-check.ts';

const weights = (name: string, dims: number[], seed: number) => floatTensor(name, dims, random(seed, dims.reduce((p, q) => p * q, 1)));

const gemmCases: [string, GradCase][] = [
  ['features @ W^T + b (the classifier head)', {
    opset: 13, input: [2, 6], initializers: [weights('w', [4, 6], 1), weights('b', [4], 2)],
    nodes: [{ opType: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], attributes: { transB: 1 } }],
  }],
  ['alpha 0.5, no bias, W untransposed (opset 11)', {
    opset: 11, input: [2, 5], initializers: [weights('w', [5, 3], 3)],
    nodes: [{ opType: 'Gemm', inputs: ['x', 'w'], outputs: ['y'], attributes: { alpha: float(0.5) } }],
  }],
];
// x carved into A and B, so dA and dB are both checked, under every transA/transB and with a broadcast C.
for (const transA of [0, 1]) {
  for (const transB of [0, 1]) {
    const aDims = transA ? [3, 2] : [2, 3], bDims = transB ? [4, 3] : [3, 4];
    const carved = carve(13, [{ name: 'a_flat', dims: [2, aDims[0] * aDims[1] / 2] }, { name: 'b_flat', dims: [2, bDims[0] * bDims[1] / 2] }, { name: 'c', dims: [2, 4] }]);
    gemmCases.push([`transA ${transA}, transB ${transB}, alpha 1.5, beta -2, C [M,N] (both operands depend on x)`, {
      opset: 13, input: carved.input, separable: false,
      initializers: [...carved.initializers, intTensor('a_shape', [2], aDims), intTensor('b_shape', [2], bDims)],
      nodes: [
        ...carved.nodes,
        { opType: 'Reshape', inputs: ['a_flat', 'a_shape'], outputs: ['a'] },
        { opType: 'Reshape', inputs: ['b_flat', 'b_shape'], outputs: ['b'] },
        { opType: 'Gemm', inputs: ['a', 'b', 'c'], outputs: ['y'], attributes: { transA, transB, alpha: float(1.5), beta: float(-2) } },
      ],
    }]);
  }
}
{
  const carved = carve(13, [{ name: 'a', dims: [2, 3] }, { name: 'c', dims: [1, 4] }]);
  gemmCases.push(['bias [1,N] depending on x broadcast over rows (not separable)', {
    opset: 13, input: carved.input, separable: false, initializers: [...carved.initializers, weights('w', [3, 4], 4)],
    nodes: [...carved.nodes, { opType: 'Gemm', inputs: ['a', 'w', 'c'], outputs: ['y'], attributes: { beta: float(0.5) } }],
  }]);
}

function matmul(opset: number, a: number[], b: number[], seed: number): GradCase {
  // Operands without a batch axis are carved as [2, ...] then reshaped, which mixes the two samples.
  const flatA = a.length > 0 && a[0] === 2, flatB = b.length > 0 && b[0] === 2;
  const operands = [{ name: flatA ? 'a' : 'a_raw', dims: flatA ? a : [2, a.reduce((p, q) => p * q, 1) / 2] }, { name: flatB ? 'b' : 'b_raw', dims: flatB ? b : [2, b.reduce((p, q) => p * q, 1) / 2] }];
  const carved = carve(opset, operands);
  const nodes = [...carved.nodes];
  const initializers = [...carved.initializers];
  for (const [name, dims, flat] of [['a', a, flatA], ['b', b, flatB]] as const) {
    if (flat) continue;
    initializers.push(intTensor(`${name}_to`, [dims.length], dims));
    nodes.push({ opType: 'Reshape', inputs: [`${name}_raw`, `${name}_to`], outputs: [name] });
  }
  nodes.push({ opType: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] });
  return { opset, input: carved.input, nodes, initializers, seed, separable: flatA && flatB };
}

/** A scalar dot product: y = (a . b) * ones[2, 1] keeps a batch axis for the checker. */
function dot(): GradCase {
  const c = matmul(13, [6], [6], 6);
  const nodes = c.nodes.map((n) => (n.opType === 'MatMul' ? { ...n, outputs: ['dot'] } : n));
  nodes.push({ opType: 'Mul', inputs: ['dot', 'ones'], outputs: ['y'] });
  return { ...c, nodes, initializers: [...(c.initializers ?? []), floatTensor('ones', [2, 1], [1, 1])] };
}

const matmulCases: [string, GradCase][] = [
  ['[N,M,K] @ [N,K,P] (batched)', matmul(13, [2, 3, 4], [2, 4, 5], 1)],
  ['[N,M,K] @ [K,P] (weight broadcast over the batch)', matmul(13, [2, 3, 4], [4, 2], 2)],
  ['[N,1,M,K] @ [3,K,P] (batch dims broadcast both ways)', matmul(11, [2, 1, 2, 3], [3, 3, 2], 3)],
  ['[K] @ [N,K,P] (1-D left operand)', matmul(13, [4], [2, 4, 3], 4)],
  ['[N,M,K] @ [K] (1-D right operand)', matmul(13, [2, 3, 4], [4], 5)],
  ['[K] @ [K] (dot product, scalar result spread to [N,1])', dot()],
  ['[N,T,C] @ W[C,D] with constant W', {
    opset: 17, input: [2, 3, 4], initializers: [weights('w', [4, 5], 7)], nodes: [{ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
  }],
];

describe('Gemm gradients match finite differences', () => {
  it.each(gemmCases)('%s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });
});

describe('MatMul gradients match finite differences', () => {
  it.each(matmulCases)('%s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });
});

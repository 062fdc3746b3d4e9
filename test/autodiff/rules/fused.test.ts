// Gradient checks for ONNX Runtime's com.microsoft FusedConv / FusedGemm: central differences in float32,
// h = 1e-3 (the activations have kinks; pre-activations are asserted >= 5h away from them),
// |grad - fd| <= 3e-4 + 3e-3 |fd| (see ../grad-check.ts).
import { describe, expect, it } from 'vitest';
import { float, type AttrValue } from '../../../src/onnx/builder.ts';
import { floatTensor, gradCheck, random, type GradCase } from '../grad-check.ts';

/** The same node as plain Conv (for the kink check) and as FusedConv (checked). */
function fusedConv(activation: string, params: number[], kinks: number[], withZ = false, seed = 1): GradCase {
  const attrs: Record<string, AttrValue> = { pads: [1, 1, 1, 1] };
  const fusedAttrs: Record<string, AttrValue> = { ...attrs, ...(activation ? { activation } : {}), ...(params.length ? { activation_params: float(params) } : {}) };
  const inputs = ['x', 'w', 'b'];
  return {
    opset: 13, input: [2, 2, 4, 4], h: 1e-3, seed,
    initializers: [floatTensor('w', [3, 2, 3, 3], random(seed + 10, 54, -0.4, 0.4)), floatTensor('b', [3], [0.1, -0.2, 0.3])],
    nodes: [
      ...(withZ ? [{ opType: 'Conv', inputs: ['x', 'w'], outputs: ['z'], attributes: attrs }] : []),
      { opType: 'Conv', inputs, outputs: ['pre'], attributes: attrs }, // for the kink check only
      { opType: 'FusedConv', domain: 'com.microsoft', inputs: withZ ? [...inputs, 'z'] : inputs, outputs: ['y'], attributes: fusedAttrs },
    ],
    kinks: withZ ? [] : [{ tensor: 'pre', at: kinks, margin: 5e-3 }],
  };
}

const cases: [string, GradCase][] = [
  ['FusedConv + Relu', fusedConv('Relu', [], [0], false, 12)],
  ['FusedConv + LeakyRelu(0.2)', fusedConv('LeakyRelu', [0.2], [0], false, 2)],
  ['FusedConv + Sigmoid', fusedConv('Sigmoid', [], [])],
  ['FusedConv + Tanh', fusedConv('Tanh', [], [])],
  ['FusedConv + Clip(-0.3, 0.4)', fusedConv('Clip', [-0.3, 0.4], [-0.3, 0.4], false, 12)],
  ['FusedConv + HardSigmoid(0.5, 0.5)', fusedConv('HardSigmoid', [0.5, 0.5], [-1, 1], false, 4)],
  ['FusedConv, no activation, with the Z (residual sum) input', fusedConv('', [], [], true)],
  ['FusedGemm + Relu (transB)', {
    opset: 13, input: [2, 5], h: 1e-3, seed: 5,
    initializers: [floatTensor('w', [4, 5], random(6, 20)), floatTensor('c', [4], [0.1, -0.1, 0.2, 0])],
    nodes: [
      { opType: 'Gemm', inputs: ['x', 'w', 'c'], outputs: ['pre'], attributes: { transB: 1 } },
      { opType: 'FusedGemm', domain: 'com.microsoft', inputs: ['x', 'w', 'c'], outputs: ['y'], attributes: { transB: 1, activation: 'Relu' } },
    ],
    kinks: [{ tensor: 'pre', at: [0], margin: 5e-3 }],
  }],
  ['FusedGemm + LeakyRelu, alpha 0.5', {
    opset: 13, input: [2, 3], h: 1e-3, seed: 7,
    initializers: [floatTensor('w', [3, 4], random(8, 12))],
    nodes: [
      { opType: 'Gemm', inputs: ['x', 'w'], outputs: ['pre'], attributes: { alpha: float(0.5) } },
      { opType: 'FusedGemm', domain: 'com.microsoft', inputs: ['x', 'w'], outputs: ['y'], attributes: { alpha: float(0.5), activation: 'LeakyRelu', activation_alpha: float(0.1) } },
    ],
    kinks: [{ tensor: 'pre', at: [0], margin: 5e-3 }],
  }],
];

describe('ONNX Runtime fused-op gradients match finite differences', () => {
  it.each(cases)('%s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });
});

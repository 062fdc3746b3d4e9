// Multi-op heads, checked end to end: central differences in float32 (h = 1e-2 unless a case says otherwise),
// |grad - fd| <= 3e-4 + 3e-3 |fd| (see grad-check.ts), plus batch independence: the augmented graph runs at batch
// 1, 2 and 5 and gives each image the same gradient. Pre-activation values are asserted to stay away from kinks.
import { describe, expect, it } from 'vitest';
import { float, type NodeSpec } from '../../src/onnx/builder.ts';
import type { onnx } from '../../src/onnx/proto.ts';
import { augment, floatTensor, gradCheck, gradientAt, intTensor, random, type GradCase } from './grad-check.ts';

const count = (d: number[]) => d.reduce((p, q) => p * q, 1);
let seed = 100;
/** Random weights scaled by 1/sqrt(fan-in), so activations stay O(1). */
const weights = (name: string, dims: number[], fanIn = count(dims.slice(1))) =>
  floatTensor(name, dims, random(seed++, count(dims)).map((v) => (v * 1.7) / Math.sqrt(fanIn)));
const n = (opType: string, inputs: string[], outputs: string[], attributes: NodeSpec['attributes'] = {}): NodeSpec => ({ opType, inputs, outputs, attributes });

/** GAP -> Flatten -> Gemm: the classifier head every case ends with. */
function classifier(from: string, channels: number, classes = 3): { nodes: NodeSpec[]; initializers: onnx.TensorProto[] } {
  return {
    nodes: [n('GlobalAveragePool', [from], ['gap']), n('Flatten', ['gap'], ['feat']), n('Gemm', ['feat', 'fc_w', 'fc_b'], ['y'], { transB: 1 })],
    initializers: [weights('fc_w', [classes, channels]), weights('fc_b', [classes], 1)],
  };
}

function convBnReluGapGemm(): GradCase {
  seed = 100;
  const head = classifier('act', 4);
  return {
    opset: 13, input: [2, 3, 5, 5], h: 1e-3, seed: 1,
    initializers: [
      weights('w', [4, 3, 3, 3]), floatTensor('scale', [4], [1.2, 0.8, 1.5, 0.6]), floatTensor('shift', [4], [0.1, -0.2, 0.05, 0.3]),
      floatTensor('mean', [4], [0.05, -0.1, 0.2, 0]), floatTensor('var', [4], [0.5, 1.2, 0.8, 2]), ...head.initializers,
    ],
    nodes: [
      n('Conv', ['x', 'w'], ['conv'], { pads: [1, 1, 1, 1] }),
      n('BatchNormalization', ['conv', 'scale', 'shift', 'mean', 'var'], ['bn']),
      n('Relu', ['bn'], ['act']),
      ...head.nodes,
    ],
    kinks: [{ tensor: 'bn', at: [0], margin: 0.005 }],
  };
}

function squeezeExcite(): GradCase {
  seed = 100;
  const head = classifier('scaled', 4);
  return {
    opset: 13, input: [2, 4, 3, 3], seed: 7,
    initializers: [weights('se1', [2, 4, 1, 1]), weights('se1_b', [2], 1), weights('se2', [4, 2, 1, 1]), weights('se2_b', [4], 1), ...head.initializers],
    nodes: [
      n('GlobalAveragePool', ['x'], ['squeeze']),
      n('Conv', ['squeeze', 'se1', 'se1_b'], ['fc1']),
      n('Relu', ['fc1'], ['fc1_act']),
      n('Conv', ['fc1_act', 'se2', 'se2_b'], ['fc2']),
      n('Sigmoid', ['fc2'], ['gate']),
      n('Mul', ['x', 'gate'], ['scaled']), // x fans out into the pool and the product; gate broadcasts over H, W
      ...head.nodes,
    ],
    kinks: [{ tensor: 'fc1', at: [0], margin: 0.005 }],
    h: 1e-3,
  };
}

function residual(): GradCase {
  seed = 100;
  const head = classifier('out', 3);
  return {
    opset: 11, input: [2, 3, 4, 4], h: 1e-3, seed: 1,
    initializers: [weights('w1', [3, 3, 3, 3]), weights('w2', [3, 3, 3, 3]), ...head.initializers],
    nodes: [
      n('Conv', ['x', 'w1'], ['c1'], { pads: [1, 1, 1, 1] }),
      n('Relu', ['c1'], ['r1']),
      n('Conv', ['r1', 'w2'], ['c2'], { pads: [1, 1, 1, 1] }),
      n('Add', ['c2', 'x'], ['sum']),
      n('Relu', ['sum'], ['out']),
      ...head.nodes,
    ],
    kinks: [{ tensor: 'c1', at: [0], margin: 0.005 }, { tensor: 'sum', at: [0], margin: 0.005 }],
  };
}

/** A channels-last model: the target is NHWC, transposed to NCHW before the head (as TF/Keras exports do). */
function nhwcTranspose(): GradCase {
  seed = 100;
  return {
    opset: 13, input: [2, 3, 3, 4],
    initializers: [weights('w', [4, 5]), weights('b', [5], 1), intTensor('axes', [2], [1, 2])],
    nodes: [
      n('Transpose', ['x'], ['nchw'], { perm: [0, 3, 1, 2] }),
      n('Tanh', ['nchw'], ['act']),
      n('Transpose', ['act'], ['nhwc'], { perm: [0, 2, 3, 1] }),
      n('ReduceMean', ['nhwc'], ['pooled'], { axes: [1, 2], keepdims: 0 }),
      n('MatMul', ['pooled', 'w'], ['mm']),
      n('Add', ['mm', 'b'], ['y']),
    ],
  };
}

function softmaxEnd(): GradCase {
  seed = 100;
  const head = classifier('x', 4, 5);
  return {
    opset: 11, input: [2, 4, 2, 2],
    initializers: head.initializers,
    nodes: [...head.nodes.map((s) => (s.outputs[0] === 'y' ? { ...s, outputs: ['logits'] } : s)), n('Softmax', ['logits'], ['y'], { axis: 1 })],
  };
}

function concatBranches(): GradCase {
  seed = 100;
  const head = classifier('cat', 5);
  return {
    opset: 13, input: [2, 2, 4, 4], seed: 11, h: 1e-3,
    initializers: [weights('w', [3, 2, 3, 3]), ...head.initializers],
    nodes: [
      n('Conv', ['x', 'w'], ['branch_a'], { pads: [1, 1, 1, 1] }),
      n('MaxPool', ['x'], ['branch_b'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
      n('Concat', ['branch_a', 'branch_b'], ['cat'], { axis: 1 }),
      ...head.nodes,
    ],
  };
}

/** A ViT-style head: LayerNorm over tokens, the CLS token gathered, GELU (erf form), a linear layer. */
function vitHead(): GradCase {
  seed = 100;
  return {
    opset: 17, input: [2, 4, 6], values: random(21, 48, -2, 2),
    initializers: [
      weights('ln_s', [6], 1), weights('ln_b', [6], 1), intTensor('cls', [], [0]), weights('w', [6, 3]),
      floatTensor('inv_sqrt2', [], [Math.SQRT1_2]), floatTensor('one', [], [1]), floatTensor('half', [], [0.5]),
    ],
    nodes: [
      n('LayerNormalization', ['x', 'ln_s', 'ln_b'], ['ln'], { epsilon: float(1e-6) }),
      n('Gather', ['ln', 'cls'], ['token'], { axis: 1 }),
      n('Mul', ['token', 'inv_sqrt2'], ['scaled']),
      n('Erf', ['scaled'], ['erf']),
      n('Add', ['erf', 'one'], ['erf1']),
      n('Mul', ['token', 'erf1'], ['gelu2']),
      n('Mul', ['gelu2', 'half'], ['gelu']),
      n('MatMul', ['gelu', 'w'], ['y']),
    ],
  };
}

/** MobileNetV3-style: depthwise Conv, HardSwish, AveragePool, Flatten, Gemm, Dropout. */
function mobile(): GradCase {
  seed = 100;
  return {
    opset: 14, input: [2, 3, 4, 4], seed: 5, h: 1e-3,
    initializers: [weights('dw', [3, 1, 3, 3]), weights('fc', [2, 12])],
    nodes: [
      n('Conv', ['x', 'dw'], ['dwc'], { group: 3, pads: [1, 1, 1, 1] }),
      n('HardSwish', ['dwc'], ['hs']),
      n('AveragePool', ['hs'], ['pool'], { kernel_shape: [2, 2], strides: [2, 2] }),
      n('Flatten', ['pool'], ['flat']),
      n('Dropout', ['flat'], ['drop']),
      n('Gemm', ['drop', 'fc'], ['y'], { transB: 1 }),
    ],
    kinks: [{ tensor: 'dwc', at: [-3, 3], margin: 0.005 }],
  };
}

/** Data movement with the batch kept dynamic: reflect Pad, strided Slice, Split, Reshape with 0/-1, Softmax. */
function plumbing(): GradCase {
  seed = 100;
  return {
    opset: 13, input: [2, 4, 3, 4],
    initializers: [
      intTensor('pads', [8], [0, 0, 1, 1, 0, 0, 1, 2]), intTensor('starts', [2], [0, 1]), intTensor('ends', [2], [100, 100]),
      intTensor('axes', [2], [2, 3]), intTensor('steps', [2], [2, 2]), intTensor('flat', [2], [0, -1]), weights('w', [18, 3]),
    ],
    nodes: [
      n('Pad', ['x', 'pads'], ['padded'], { mode: 'reflect' }),
      n('Slice', ['padded', 'starts', 'ends', 'axes', 'steps'], ['strided']),
      n('Split', ['strided'], ['p', 'q'], { axis: 1 }),
      n('Mul', ['p', 'q'], ['pq']),
      n('Reshape', ['pq', 'flat'], ['rows']),
      n('MatMul', ['rows', 'w'], ['logits']),
      n('Softmax', ['logits'], ['y']),
    ],
  };
}

const models: [string, () => GradCase][] = [
  ['Conv -> BN -> Relu -> GAP -> Flatten -> Gemm', convBnReluGapGemm],
  ['squeeze-excite x * sigmoid(fc(relu(fc(GAP(x))))) with fan-out', squeezeExcite],
  ['residual block relu(conv(relu(conv(x))) + x)', residual],
  ['NHWC target, Transpose before the head, ReduceMean + MatMul', nhwcTranspose],
  ['Softmax at the end (opset 11)', softmaxEnd],
  ['Concat of a Conv branch and a MaxPool branch', concatBranches],
  ['ViT-style LayerNorm -> CLS Gather -> GELU(erf) -> MatMul', vitHead],
  ['depthwise Conv -> HardSwish -> AveragePool -> Flatten -> Dropout -> Gemm', mobile],
  ['reflect Pad -> strided Slice -> Split -> Mul -> Reshape -> MatMul -> Softmax', plumbing],
];

describe('multi-op heads', () => {
  it.each(models)('%s: gradient matches finite differences', async (_, make) => {
    const report = await gradCheck(make());
    expect(report.worst).toBeLessThanOrEqual(1);
  });

  it.each(models)('%s: batch 1, 2 and 5 give each image the same gradient', async (_, make) => {
    const c = { ...make(), kinks: undefined }; // no finite differences here
    const aug = await augment(c);
    try {
      const per = count(c.input.slice(1)), perY = count(aug.yDims.slice(1));
      const x = random(77, 5 * per, -1, 1), dy = random(78, 5 * perY);
      const at = (b: number, from: number) => gradientAt(aug, [b, ...c.input.slice(1)], x.slice(from * per, (from + b) * per), dy.slice(from * perY, (from + b) * perY));
      const five = await at(5, 0);
      const two = await at(2, 3);
      for (let i = 0; i < 5; i++) {
        const one = await at(1, i);
        const same = i >= 3 ? two.subarray((i - 3) * per, (i - 2) * per) : undefined;
        for (let k = 0; k < per; k++) {
          expect(five[i * per + k]).toBeCloseTo(one[k], 5);
          if (same) expect(same[k]).toBeCloseTo(one[k], 5);
        }
      }
    } finally {
      await aug.close();
    }
  });
});

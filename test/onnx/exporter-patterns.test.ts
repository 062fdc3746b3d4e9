/**
 * Graph patterns of other exporters, hand-built: tf2onnx/Keras (NHWC input, Transpose pairs, Identity chains, spatial
 * Squeeze, MatMul + Add instead of Gemm) and Paddle2ONNX (HardSigmoid squeeze-excitation, HardSwish, a Reshape whose
 * target is built from Shape/Slice/Concat at run time, Softmax output). Per model: the automatic target layer, the
 * predictions of plain ONNX Runtime, and dS/dA against central finite differences of the unmodified head.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { augmentModel, TARGET_INPUT } from '../../src/cam/augment.ts';
import { Explainer } from '../../src/cam/explainer.ts';
import { float, makeTensor, makeValueInfo, toNodeProto, type NodeSpec } from '../../src/onnx/builder.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { defaultLayer } from '../../src/onnx/layers.ts';
import { encodeModel } from '../../src/onnx/model.ts';
import { DataType, onnx } from '../../src/onnx/proto.ts';
import { rng } from '../helpers/tiny-models.ts';
import { centralDifferenceRows } from '../autodiff/grad-check.ts';
import { runModel } from '../helpers/run-model.ts';

const C = 4, K = 3, S = 5, N = 2;
const r = rng(33);
const vals = (n: number, scale = 1) => Float32Array.from({ length: n }, () => r() * scale);

interface Pattern {
  input: { name: string; dims: (number | string)[] };
  imageDims: number[];
  body: NodeSpec[];
  head: NodeSpec[];
  weights: onnx.TensorProto[];
  output: string;
  /** The automatic target tensor (the last activation, data movement skipped). */
  auto: string;
  /** The target the gradient is checked at, its layout, and its per-sample dims in that layout. */
  layer: string;
  layout: 'NCHW' | 'NHWC';
  layerDims: number[];
  opset: number;
}

const patterns: [string, Pattern][] = [
  ['tf2onnx / Keras: NHWC input, Transpose pairs, Identity chain, spatial Squeeze, MatMul + Add', {
    input: { name: 'input_1', dims: ['unk__0', S, S, 3] }, imageDims: [S, S, 3], opset: 13,
    body: [
      { opType: 'Transpose', inputs: ['input_1'], outputs: ['nchw'], attributes: { perm: [0, 3, 1, 2] } },
      { opType: 'Conv', inputs: ['nchw', 'conv.w', 'conv.b'], outputs: ['conv'], attributes: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] } },
      { opType: 'Transpose', inputs: ['conv'], outputs: ['conv_nhwc'], attributes: { perm: [0, 2, 3, 1] } },
      { opType: 'Relu', inputs: ['conv_nhwc'], outputs: ['model/relu/Relu:0'] },
    ],
    head: [
      { opType: 'Identity', inputs: ['model/relu/Relu:0'], outputs: ['id1'] },
      { opType: 'Identity', inputs: ['id1'], outputs: ['id2'] },
      { opType: 'Transpose', inputs: ['id2'], outputs: ['back'], attributes: { perm: [0, 3, 1, 2] } },
      { opType: 'Transpose', inputs: ['back'], outputs: ['again'], attributes: { perm: [0, 2, 3, 1] } },
      { opType: 'ReduceMean', inputs: ['again'], outputs: ['mean'], attributes: { axes: [1, 2], keepdims: 1 } },
      { opType: 'Squeeze', inputs: ['mean', 'spatial'], outputs: ['squeezed'] },
      { opType: 'MatMul', inputs: ['squeezed', 'dense.w'], outputs: ['mm'] },
      { opType: 'Add', inputs: ['mm', 'dense.b'], outputs: ['dense'] },
    ],
    weights: [
      makeTensor('conv.w', 'float32', [C, 3, 3, 3], vals(C * 27)), makeTensor('conv.b', 'float32', [C], vals(C, 0.3)),
      makeTensor('spatial', 'int64', [2], [1, 2]), makeTensor('dense.w', 'float32', [C, K], vals(C * K, 3)), makeTensor('dense.b', 'float32', [K], vals(K)),
    ],
    output: 'dense', auto: 'model/relu/Relu:0', layer: 'model/relu/Relu:0', layout: 'NHWC', layerDims: [S, S, C],
  }],
  ['Paddle2ONNX: HardSigmoid SE block, HardSwish, Shape/Slice/Concat reshape target, Softmax', {
    input: { name: 'x', dims: ['p2o.DynamicDimension.0', 3, S, S] }, imageDims: [3, S, S], opset: 14,
    body: [
      { opType: 'Conv', inputs: ['x', 'conv.w', 'conv.b'], outputs: ['conv2d_0.tmp_0'], attributes: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] } },
      { opType: 'Relu', inputs: ['conv2d_0.tmp_0'], outputs: ['relu_0.tmp_0'] },
    ],
    head: [
      { opType: 'GlobalAveragePool', inputs: ['relu_0.tmp_0'], outputs: ['se_pool'] },
      { opType: 'Conv', inputs: ['se_pool', 'se1.w', 'se1.b'], outputs: ['se1'], attributes: { kernel_shape: [1, 1] } },
      { opType: 'Relu', inputs: ['se1'], outputs: ['se1_relu'] },
      { opType: 'Conv', inputs: ['se1_relu', 'se2.w', 'se2.b'], outputs: ['se2'], attributes: { kernel_shape: [1, 1] } },
      { opType: 'HardSigmoid', inputs: ['se2'], outputs: ['se_gate'], attributes: { alpha: float(0.2), beta: float(0.5) } },
      { opType: 'Mul', inputs: ['relu_0.tmp_0', 'se_gate'], outputs: ['scaled'] },
      { opType: 'HardSwish', inputs: ['scaled'], outputs: ['hswish'] },
      { opType: 'GlobalAveragePool', inputs: ['hswish'], outputs: ['pool'] },
      { opType: 'Shape', inputs: ['pool'], outputs: ['pool_shape'] },
      { opType: 'Slice', inputs: ['pool_shape', 'zero', 'one'], outputs: ['batch'] },
      { opType: 'Concat', inputs: ['batch', 'minus_one'], outputs: ['flat_shape'], attributes: { axis: 0 } },
      { opType: 'Reshape', inputs: ['pool', 'flat_shape'], outputs: ['flat'] },
      { opType: 'MatMul', inputs: ['flat', 'fc.w'], outputs: ['fc_mm'] },
      { opType: 'Add', inputs: ['fc_mm', 'fc.b'], outputs: ['fc'] },
      { opType: 'Softmax', inputs: ['fc'], outputs: ['save_infer_model/scale_0.tmp_0'], attributes: { axis: -1 } },
    ],
    weights: [
      makeTensor('conv.w', 'float32', [C, 3, 3, 3], vals(C * 27)), makeTensor('conv.b', 'float32', [C], vals(C, 0.3)),
      makeTensor('se1.w', 'float32', [2, C, 1, 1], vals(2 * C, 2)), makeTensor('se1.b', 'float32', [2], vals(2)),
      makeTensor('se2.w', 'float32', [C, 2, 1, 1], vals(2 * C, 2)), makeTensor('se2.b', 'float32', [C], vals(C)),
      makeTensor('zero', 'int64', [1], [0]), makeTensor('one', 'int64', [1], [1]), makeTensor('minus_one', 'int64', [1], [-1]),
      makeTensor('fc.w', 'float32', [C, K], vals(C * K, 3)), makeTensor('fc.b', 'float32', [K], vals(K)),
    ],
    // The SE-scaled HardSwish output is the block's output, so the automatic choice; the gradient is checked
    // before the SE block so that it is on the head.
    output: 'save_infer_model/scale_0.tmp_0', auto: 'hswish', layer: 'relu_0.tmp_0', layout: 'NCHW', layerDims: [C, S, S],
  }],
];

function build(nodes: NodeSpec[], weights: onnx.TensorProto[], input: Pattern['input'], output: string, opset: number): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: 'pattern',
    node: nodes.map(toNodeProto),
    initializer: weights,
    input: [makeValueInfo(input.name, DataType.FLOAT, input.dims)],
    output: [makeValueInfo(output, DataType.FLOAT, ['N', K])],
  });
  return encodeModel(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: opset }], graph }));
}

describe.each(patterns)('%s', (_, p) => {
  it('takes the expected target layer; predictions are plain ONNX Runtime\'s; dS/dA matches finite differences', async () => {
    const bytes = build([...p.body, ...p.head], p.weights, p.input, p.output, p.opset);
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'heatgate-pattern-')), 'm.onnx');
    await writeFile(file, bytes);
    const per = p.imageDims.reduce((a, b) => a * b, 1);
    const image = vals(N * per, 2);
    const feed = () => new ort.Tensor('float32', image, [N, ...p.imageDims]);
    const plain = (await runModel(bytes, { [p.input.name]: feed() }))[p.output].data as Float32Array;

    const model = await inspectModel(file);
    expect(defaultLayer(model.candidates, file).tensor).toBe(p.auto);
    const layer = model.candidates.find((c) => c.tensor === p.layer)!;
    expect(layer.layout).toBe(p.layout);
    const explainer = await Explainer.create(file);
    const explained = await explainer.explain(Array.from({ length: N }, (_, n) => image.slice(n * per, (n + 1) * per)), [-1, -1]);
    await explainer.release();
    explained.forEach((e, n) => {
      const row = plain.slice(n * K, (n + 1) * K);
      expect(e.predicted).toBe(row.indexOf(Math.max(...row)));
    });

    const augmented = augmentModel(model, [layer], true);
    const headOnly = build(p.head, p.weights, { name: p.layer, dims: ['N', ...p.layerDims] }, p.output, p.opset);
    const size = p.layerDims.reduce((a, b) => a * b, 1);
    const h = 1e-2;
    for (const k of [0, K - 1]) {
      const out = await runModel(augmented.bytes, { [p.input.name]: feed(), [TARGET_INPUT]: new ort.Tensor('int64', new BigInt64Array(N).fill(BigInt(k)), [N]) });
      const act = out[p.layer].data as Float32Array;
      const grad = out[augmented.layers[0].gradient!].data as Float32Array;
      for (let n = 0; n < N; n++) {
        const batch = centralDifferenceRows(act.subarray(n * size, (n + 1) * size), h);
        const scores = (await runModel(headOnly, { [p.layer]: new ort.Tensor('float32', batch, [2 * size, ...p.layerDims]) }))[p.output].data as Float32Array;
        for (let j = 0; j < size; j++) {
          const fd = (scores[2 * j * K + k] - scores[(2 * j + 1) * K + k]) / (2 * h);
          expect(Math.abs(grad[n * size + j] - fd), `class ${k} image ${n} element ${j}`).toBeLessThanOrEqual(3e-4 + 3e-3 * Math.abs(fd));
        }
      }
    }
  });
});

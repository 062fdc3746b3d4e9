/**
 * A hand-built IR 3 / opset 7 classifier, the way Caffe2-era exporters wrote them: every initializer is also a graph
 * input, and the head after the target layer uses the attribute forms of Upsample-7, Pad-2, Slice-1, Clip-6,
 * BatchNormalization-7 (spatial), Dropout-7, Sum-6 and LRN, and a Softmax-1 output over [N, C].
 * heatgate upgrades it to opset 11 in memory; the augmented model must return the file's own outputs, and dS/dA must
 * match central finite differences of the unmodified opset-7 head (the graph cut at the target tensor).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { augmentModel, TARGET_INPUT } from '../../src/cam/augment.ts';
import { float, makeTensor, makeValueInfo, toNodeProto, type NodeSpec } from '../../src/onnx/builder.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { encodeModel } from '../../src/onnx/model.ts';
import { DataType, onnx } from '../../src/onnx/proto.ts';
import { pearson } from '../helpers/stats.ts';
import { rng } from '../helpers/tiny-models.ts';
import { centralDifferenceRows } from '../autodiff/grad-check.ts';
import { runModel } from '../helpers/run-model.ts';

const C = 4, K = 5, S = 6;
const r = rng(7);
const values = (n: number, scale = 1) => Float32Array.from({ length: n }, () => r() * scale);
const weights = [
  makeTensor('conv.w', 'float32', [C, 3, 3, 3], values(C * 27)),
  makeTensor('conv.b', 'float32', [C], values(C, 0.2)),
  makeTensor('bn.scale', 'float32', [C], Float32Array.from({ length: C }, () => 1 + r())),
  makeTensor('bn.bias', 'float32', [C], values(C, 0.5)),
  makeTensor('bn.mean', 'float32', [C], values(C, 0.2)),
  makeTensor('bn.var', 'float32', [C], Float32Array.from({ length: C }, () => 1 + r())),
  makeTensor('fc.w', 'float32', [K, C], values(K * C, 4)),
  makeTensor('fc.b', 'float32', [K], values(K)),
];
const body: NodeSpec[] = [
  { opType: 'Conv', inputs: ['data', 'conv.w', 'conv.b'], outputs: ['conv'], attributes: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] } },
  { opType: 'Relu', inputs: ['conv'], outputs: ['act'] },
];
const head: NodeSpec[] = [
  { opType: 'LRN', inputs: ['act'], outputs: ['lrn'], attributes: { size: 3, alpha: float(0.1), beta: float(0.75), bias: float(1) } },
  { opType: 'Upsample', inputs: ['lrn'], outputs: ['up'], attributes: { mode: 'nearest', scales: float([1, 1, 2, 2]) } },
  { opType: 'Pad', inputs: ['up'], outputs: ['padded'], attributes: { pads: [0, 0, 2, 2, 0, 0, 0, 0], value: float(0.25) } },
  { opType: 'Slice', inputs: ['padded'], outputs: ['cropped'], attributes: { starts: [1, 2], ends: [-1, 2147483647], axes: [2, 3] } },
  { opType: 'BatchNormalization', inputs: ['cropped', 'bn.scale', 'bn.bias', 'bn.mean', 'bn.var'], outputs: ['bn'], attributes: { spatial: 1, epsilon: float(1e-5) } },
  { opType: 'Clip', inputs: ['bn'], outputs: ['clipped'], attributes: { min: float(0), max: float(1.5) } },
  { opType: 'Sum', inputs: ['clipped', 'lrn_up'], outputs: ['summed'] },
  { opType: 'GlobalAveragePool', inputs: ['summed'], outputs: ['gap'] },
  { opType: 'Flatten', inputs: ['gap'], outputs: ['flat'] },
  { opType: 'Dropout', inputs: ['flat'], outputs: ['dropped'], attributes: { ratio: float(0.5) } },
  { opType: 'Gemm', inputs: ['dropped', 'fc.w', 'fc.b'], outputs: ['fc'], attributes: { transB: 1 } },
  { opType: 'Softmax', inputs: ['fc'], outputs: ['prob'] },
];
// A second path into Sum: the upsampled LRN output cropped the same way (fan-out through the Upsample).
head.splice(4, 0, { opType: 'Slice', inputs: ['up'], outputs: ['lrn_up'], attributes: { starts: [0, 0], ends: [12, 12], axes: [2, 3] } });

function ir3(nodes: NodeSpec[], input: { name: string; dims: (number | string)[] }): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: 'caffe2-era',
    node: nodes.map(toNodeProto),
    initializer: weights,
    // IR 3: the initializers are graph inputs too.
    input: [makeValueInfo(input.name, DataType.FLOAT, input.dims), ...weights.map((w) => makeValueInfo(w.name, DataType.FLOAT, w.dims.map(Number)))],
    output: [makeValueInfo('prob', DataType.FLOAT, ['N', K])],
  });
  return encodeModel(onnx.ModelProto.create({ irVersion: 3, producerName: 'heatgate-test', opsetImport: [{ domain: '', version: 7 }], graph }));
}

describe('an IR 3 / opset 7 model with attribute-form ops', () => {
  const N = 2;
  const image = values(N * 3 * S * S, 2);
  const imageTensor = () => new ort.Tensor('float32', image, [N, 3, S, S]);

  it('is read: the initializers listed as inputs are not image inputs; the graph is upgraded to opset 11', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'heatgate-ir3-'));
    const file = path.join(dir, 'm.onnx');
    await writeFile(file, ir3([...body, ...head], { name: 'data', dims: ['N', 3, S, S] }));
    const model = await inspectModel(file);
    expect(model.input.name).toBe('data');
    expect([model.loaded.exportedOpset, model.loaded.opset]).toEqual([7, 11]);
    expect(model.outputIsProbability).toBe(true);
    expect(model.candidates.map((c) => c.tensor)).toContain('act');
    const opTypes = model.loaded.model.graph!.node!.map((n) => n.opType);
    expect(opTypes).toContain('Resize');
    expect(opTypes).not.toContain('Upsample');
  });

  it('the augmented model returns the file\'s own outputs, and dS/dA matches finite differences of the opset-7 head', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'heatgate-ir3-'));
    const file = path.join(dir, 'm.onnx');
    const bytes = ir3([...body, ...head], { name: 'data', dims: ['N', 3, S, S] });
    await writeFile(file, bytes);
    const original = (await runModel(bytes, { data: imageTensor() })).prob;

    const model = await inspectModel(file);
    const layer = model.candidates.find((c) => c.tensor === 'act')!;
    const augmented = augmentModel(model, [layer], true);
    const out = await runModel(augmented.bytes, { data: imageTensor(), [TARGET_INPUT]: new ort.Tensor('int64', new BigInt64Array(N).fill(-1n), [N]) });
    const probs = out.prob.data as Float32Array;
    (original.data as Float32Array).forEach((v, i) => expect(Math.abs(probs[i] - v)).toBeLessThanOrEqual(1e-6));
    const activation = out.act.data as Float32Array;
    const gradient = out[augmented.layers[0].gradient!].data as Float32Array;

    // Finite differences on the unmodified opset-7 head: S = sum_n prob[n, predicted_n], one perturbation per batch row.
    const headOnly = ir3(head, { name: 'act', dims: ['N', C, S, S] });
    const per = C * S * S;
    const h = 1e-2;
    for (let n = 0; n < N; n++) {
      const row = probs.slice(n * K, (n + 1) * K);
      const target = row.indexOf(Math.max(...row));
      const batch = centralDifferenceRows(activation.subarray(n * per, (n + 1) * per), h);
      const scores = (await runModel(headOnly, { act: new ort.Tensor('float32', batch, [2 * per, C, S, S]) })).prob.data as Float32Array;
      const fd = Float64Array.from({ length: per }, (_, j) => (scores[2 * j * K + target] - scores[(2 * j + 1) * K + target]) / (2 * h));
      const mine = gradient.subarray(n * per, (n + 1) * per);
      expect(pearson(mine, fd), `image ${n}`).toBeGreaterThanOrEqual(0.999);
      fd.forEach((v, j) => expect(Math.abs(mine[j] - v), `image ${n} element ${j}`).toBeLessThanOrEqual(3e-4 + 3e-3 * Math.abs(v)));
    }
  });
});

/**
 * Exports with a fixed batch of 1 (older torch and Caffe2 exporters): Reshape targets [1, -1] and [1, C] are read
 * as [0, ...] so the model runs batched; a model whose samples mix at batch 2 falls back to one image per run with
 * a note. Either way each image's logits equal ONNX Runtime's on the unmodified model, one image at a time.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Explainer } from '../../src/cam/explainer.ts';
import { makeTensor, makeValueInfo, toNodeProto, type NodeSpec } from '../../src/onnx/builder.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { encodeModel } from '../../src/onnx/model.ts';
import { DataType, onnx } from '../../src/onnx/proto.ts';
import { rng } from '../helpers/tiny-models.ts';

const C = 4, K = 3, S = 6;
const r = rng(5);
const vals = (n: number, scale = 1) => Float32Array.from({ length: n }, () => r() * scale);
const weights = [
  makeTensor('conv.w', 'float32', [C, 3, 3, 3], vals(C * 27)),
  makeTensor('fc.w', 'float32', [K, C], vals(K * C, 3)),
  makeTensor('fc.b', 'float32', [K], vals(K)),
];
const body: NodeSpec[] = [
  { opType: 'Conv', inputs: ['input', 'conv.w'], outputs: ['conv'], attributes: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] } },
  { opType: 'Relu', inputs: ['conv'], outputs: ['act'] },
  { opType: 'GlobalAveragePool', inputs: ['act'], outputs: ['gap'] },
];

function fixedBatchModel(head: NodeSpec[], extra: onnx.TensorProto[]): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: 'fixed',
    node: [...body, ...head].map(toNodeProto),
    initializer: [...weights, ...extra],
    input: [makeValueInfo('input', DataType.FLOAT, [1, 3, S, S])],
    output: [makeValueInfo('logits', DataType.FLOAT, [1, K])],
  });
  return encodeModel(onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 11 }], graph }));
}

const heads: [string, NodeSpec[], onnx.TensorProto[], number, string | undefined][] = [
  ['Reshape to [1, -1]', [
    { opType: 'Reshape', inputs: ['gap', 'target'], outputs: ['flat'] },
    { opType: 'Gemm', inputs: ['flat', 'fc.w', 'fc.b'], outputs: ['logits'], attributes: { transB: 1 } },
  ], [makeTensor('target', 'int64', [2], [1, -1])], 2, undefined],
  ['Reshape to [1, C] (a Constant node, as torch 1.x wrote it)', [
    { opType: 'Constant', inputs: [], outputs: ['target'], attributes: { value: makeTensor('', 'int64', [2], [1, C]) } },
    { opType: 'Reshape', inputs: ['gap', 'target'], outputs: ['flat'] },
    { opType: 'Gemm', inputs: ['flat', 'fc.w', 'fc.b'], outputs: ['logits'], attributes: { transB: 1 } },
  ], [], 2, undefined],
  ['samples that mix across the batch (a sum over axis 0)', [
    { opType: 'Reshape', inputs: ['gap', 'target'], outputs: ['flat'] },
    { opType: 'ReduceSum', inputs: ['flat'], outputs: ['total'], attributes: { axes: [0], keepdims: 1 } },
    { opType: 'Mul', inputs: ['flat', 'total'], outputs: ['mixed'] },
    { opType: 'Gemm', inputs: ['mixed', 'fc.w', 'fc.b'], outputs: ['logits'], attributes: { transB: 1 } },
  ], [makeTensor('target', 'int64', [2], [1, -1])], 1,
  'batch: "input" was exported with a fixed batch of 1 and does not run batched (output "logits" of sample 0 differs between batch 2 and batch 1); one image per run'],
];

describe.each(heads)('fixed batch 1, %s', (_, head, extra, batch, note) => {
  it(`runs at batch ${batch === 2 ? 'N' : '1 with a note'}; logits equal the unmodified model's, image by image`, async () => {
    const bytes = fixedBatchModel(head, extra);
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'heatgate-fixed-')), 'm.onnx');
    await writeFile(file, bytes);
    // Shapes come from the graph (made symbolic, followed at batch 2): no probe session. Whether a batch mixes the
    // images is left to the explainer's own session.
    const model = await inspectModel(file);
    expect(model.shapeSource).toEqual({ from: 'graph' });
    expect(model.batchUnchecked).toBe(true);

    const images = Array.from({ length: 3 }, () => vals(3 * S * S, 2));
    const plain = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    const expected: Float32Array[] = [];
    for (const img of images) expected.push((await plain.run({ input: new ort.Tensor('float32', img, [1, 3, S, S]) })).logits.data as Float32Array);
    await plain.release();

    const explainer = await Explainer.create(file);
    expect(explainer.maxBatch).toBe(batch === 2 ? Number.POSITIVE_INFINITY : 1);
    expect(explainer.model.notes.filter((n) => n.startsWith('batch:'))).toEqual(note ? [note] : []);
    expect(explainer.model.batchUnchecked).toBeUndefined();
    // The pipeline splits batches at maxBatch; here all three go in one call when the model allows it.
    const results = batch === 2 ? await explainer.explain(images, [-1, -1, -1]) : (await Promise.all(images.map((img) => explainer.explain([img], [-1])))).flat();
    await explainer.release();
    results.forEach((res, i) => {
      expected[i].forEach((v, k) => expect(Math.abs(res.logits[k] - v), `image ${i} class ${k}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
    });
  });
});

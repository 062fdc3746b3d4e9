import { makeTensor, makeValueInfo, toNodeProto, type NodeSpec } from '../../src/onnx/builder.ts';
import { mulberry32 } from '../../src/numeric.ts';
import { DataType, onnx } from '../../src/onnx/proto.ts';

/** A seeded PRNG so test models are the same on every run: uniform in [-0.5, 0.5). */
export function rng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() - 0.5;
}

export interface TinyCnn {
  model: onnx.ModelProto;
  convW: Float32Array;
  fcW: Float32Array;
  fcB: Float32Array;
  channels: number;
  classes: number;
}

/**
 * input [N,3,H,W] → Conv(3→C, 3x3, pad 1) → Relu → GlobalAveragePool → Flatten → Gemm(C→K): the CAM-equivalent head,
 * whose Grad-CAM weights are W_fc[k,:]/(h·w) exactly. `channelsLast` inserts a Transpose to NHWC and pools with
 * ReduceMean over axes 1,2 instead.
 */
export function tinyCnn(opts: { channels?: number; classes?: number; size?: number; opset?: number; channelsLast?: boolean; batch?: number | 'N'; seed?: number } = {}): TinyCnn {
  const C = opts.channels ?? 4;
  const K = opts.classes ?? 3;
  const S = opts.size ?? 8;
  const r = rng(opts.seed ?? 1);
  const convW = Float32Array.from({ length: C * 3 * 9 }, () => r());
  const convB = Float32Array.from({ length: C }, () => r() * 0.1);
  const fcW = Float32Array.from({ length: K * C }, () => r() * 2);
  const fcB = Float32Array.from({ length: K }, () => r());
  const nodes: NodeSpec[] = [
    { opType: 'Conv', inputs: ['input', 'conv.w', 'conv.b'], outputs: ['conv'], attributes: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] } },
    { opType: 'Relu', inputs: ['conv'], outputs: ['act'] },
  ];
  if (opts.channelsLast) {
    nodes.push(
      { opType: 'Transpose', inputs: ['act'], outputs: ['act_nhwc'], attributes: { perm: [0, 2, 3, 1] } },
      { opType: 'ReduceMean', inputs: ['act_nhwc'], outputs: ['pooled'], attributes: { axes: [1, 2], keepdims: 0 } },
    );
  } else {
    nodes.push(
      { opType: 'GlobalAveragePool', inputs: ['act'], outputs: ['gap'] },
      { opType: 'Flatten', inputs: ['gap'], outputs: ['pooled'] },
    );
  }
  nodes.push({ opType: 'Gemm', inputs: ['pooled', 'fc.w', 'fc.b'], outputs: ['logits'], attributes: { transB: 1 } });
  const batch = opts.batch ?? 'N';
  const graph = onnx.GraphProto.create({
    name: 'tiny',
    node: nodes.map(toNodeProto),
    initializer: [
      makeTensor('conv.w', 'float32', [C, 3, 3, 3], convW),
      makeTensor('conv.b', 'float32', [C], convB),
      makeTensor('fc.w', 'float32', [K, C], fcW),
      makeTensor('fc.b', 'float32', [K], fcB),
    ],
    input: [makeValueInfo('input', DataType.FLOAT, [batch, 3, S, S])],
    output: [makeValueInfo('logits', DataType.FLOAT, [batch, K])],
  });
  const model = onnx.ModelProto.create({ irVersion: 7, producerName: 'heatgate-test', opsetImport: [{ domain: '', version: opts.opset ?? 13 }], graph });
  return { model, convW, fcW, fcB, channels: C, classes: K };
}

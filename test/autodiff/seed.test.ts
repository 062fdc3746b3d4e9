// One-hot seeds given as class indices, and gradients left broadcastable (broadcastGradient): each must give the
// gradient the dense one-hot seed gives, with the nodes the shortcut promises (a Gather instead of OneHot + Gemm, no
// Expand of dA after a global pool).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildBackward, type BackwardResult } from '../../src/autodiff/index.ts';
import { float, makeValueInfo, toNodeProto, type NodeSpec } from '../../src/onnx/builder.ts';
import { GraphIndex } from '../../src/onnx/graph.ts';
import type { TensorInfo } from '../../src/onnx/probe.ts';
import { DataType, type onnx } from '../../src/onnx/proto.ts';
import { floatTensor, gradCheck, intTensor, model, random } from './grad-check.ts';

interface SeedCase {
  nodes: NodeSpec[];
  initializers?: onnx.TensorProto[];
  /** Static dims of x (the batch is 2 images: `to` is [2, classes]). */
  x: number[];
  classes: [number, number];
  broadcastGradient?: boolean;
  opset?: number;
}

interface Seeded {
  result: BackwardResult;
  gradient: ort.Tensor;
  ops: string[];
}

const size = (dims: readonly number[]) => dims.reduce((p, q) => p * q, 1);

async function probe(c: SeedCase, x: Float32Array): Promise<Map<string, TensorInfo>> {
  const outputs = [...new Set(c.nodes.flatMap((n) => n.outputs))];
  const bytes = model(c.opset ?? 13, c.nodes, c.initializers ?? [], [makeValueInfo('x', DataType.FLOAT, c.x)], outputs);
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const out = await session.run({ x: new ort.Tensor('float32', x, c.x) });
    return new Map<string, TensorInfo>([['x', { dims: c.x, dtype: 'float32' }], ...outputs.map((o) => [o, { dims: [...out[o].dims], dtype: out[o].type }] as [string, TensorInfo])]);
  } finally {
    await session.release();
  }
}

/** The backward of `c` seeded densely (dy = one-hot rows fed as an input) or by class indices, run once. */
async function seeded(c: SeedCase, how: 'dense' | 'classes', broadcastGradient = false): Promise<Seeded> {
  const x = random(7, size(c.x));
  const shapes = await probe(c, x);
  const graph = { node: c.nodes.map(toNodeProto), initializer: c.initializers ?? [] };
  const yDims = shapes.get('y')!.dims;
  const seed = how === 'dense' ? 'dy' : { classes: 'classes' };
  const result = buildBackward({ graph, index: new GraphIndex(graph), from: 'x', to: 'y', seed, shapes, opset: c.opset ?? 13, file: 'seed.onnx', broadcastGradient });
  const inputs = [makeValueInfo('x', DataType.FLOAT, c.x), how === 'dense' ? makeValueInfo('dy', DataType.FLOAT, [...yDims]) : makeValueInfo('classes', DataType.INT64, [2])];
  const bytes = model(c.opset ?? 13, [...graph.node, ...result.nodes], [...graph.initializer, ...result.initializers], inputs, [result.gradient]);
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', x, c.x) };
    if (how === 'dense') {
      const dy = new Float32Array(size(yDims));
      c.classes.forEach((k, n) => (dy[n * yDims[1] + k] = 1));
      feeds.dy = new ort.Tensor('float32', dy, [...yDims]);
    } else {
      feeds.classes = new ort.Tensor('int64', BigInt64Array.from(c.classes, BigInt), [2]);
    }
    const out = await session.run(feeds);
    return { result, gradient: out[result.gradient], ops: result.nodes.map((n) => n.opType) };
  } finally {
    await session.release();
  }
}

/** `g` (dims `from`) broadcast to `to`, numpy style (same rank). */
function broadcast(g: Float32Array, from: readonly number[], to: readonly number[]): Float32Array {
  const out = new Float32Array(size(to));
  for (let i = 0; i < out.length; i++) {
    let rest = i, src = 0, stride = 1;
    const index = to.map(() => 0);
    for (let a = to.length - 1; a >= 0; a--) [index[a], rest] = [rest % to[a], Math.floor(rest / to[a])];
    for (let a = to.length - 1; a >= 0; a--) {
      src += (from[a] === 1 ? 0 : index[a]) * stride;
      stride *= from[a];
    }
    out[i] = g[src];
  }
  return out;
}

const W = (dims: number[], seed: number) => floatTensor('w', dims, random(seed, size(dims)));

describe('one-hot seed as class indices', () => {
  it.each([
    [0, 1, 1],
    [0, 0, 1],
    [1, 0, 1.5],
    [1, 1, 0.5],
  ])('Gemm transA %i transB %i alpha %f: dA is alpha times the gathered weight rows, exactly the dense seed\'s', async (transA, transB, alpha) => {
    const c: SeedCase = {
      x: transA ? [5, 2] : [2, 5],
      classes: [2, 0],
      nodes: [{ opType: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], attributes: { transA, transB, alpha: float(alpha) } }],
      initializers: [W(transB ? [3, 5] : [5, 3], 1), floatTensor('b', [3], [0.1, -0.2, 0.3])],
    };
    const dense = await seeded(c, 'dense');
    const gathered = await seeded(c, 'classes');
    expect([...gathered.gradient.dims]).toEqual(c.x);
    expect(Array.from(gathered.gradient.data as Float32Array)).toEqual(Array.from(dense.gradient.data as Float32Array));
    expect(gathered.ops).toContain('Gather');
    expect(gathered.ops).not.toContain('OneHot');
    expect(gathered.ops).not.toContain('Gemm');
  });

  it('MatMul [N, K] x [K, C]: dA gathers columns of the weight', async () => {
    const c: SeedCase = { x: [2, 5], classes: [1, 3], nodes: [{ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }], initializers: [W([5, 4], 2)] };
    const dense = await seeded(c, 'dense');
    const gathered = await seeded(c, 'classes');
    expect(Array.from(gathered.gradient.data as Float32Array)).toEqual(Array.from(dense.gradient.data as Float32Array));
    expect(gathered.ops).toContain('Gather');
    expect(gathered.ops).not.toContain('OneHot');
    expect(gathered.ops).not.toContain('MatMul');
  });

  it.each([
    ['Softmax after the classifier', [
      { opType: 'Gemm', inputs: ['x', 'w'], outputs: ['z'], attributes: { transB: 1 } },
      { opType: 'Softmax', inputs: ['z'], outputs: ['y'], attributes: { axis: 1 } },
    ]],
    ['a bias Add after MatMul', [
      { opType: 'MatMul', inputs: ['x', 'w_t'], outputs: ['z'] },
      { opType: 'Add', inputs: ['z', 'b'], outputs: ['y'] },
    ]],
  ] as [string, NodeSpec[]][])('%s: the seed is emitted as one OneHot and gives the dense seed\'s gradient', async (_, nodes) => {
    const c: SeedCase = { x: [2, 5], classes: [0, 2], nodes, initializers: [W([3, 5], 3), floatTensor('w_t', [5, 3], random(4, 15)), floatTensor('b', [3], [1, 2, 3])] };
    const dense = await seeded(c, 'dense');
    const oneHot = await seeded(c, 'classes');
    expect(Array.from(oneHot.gradient.data as Float32Array)).toEqual(Array.from(dense.gradient.data as Float32Array));
    expect(oneHot.ops.filter((o) => o === 'OneHot')).toHaveLength(1);
  });

  it('from = to: the gradient is the one-hot matrix itself', async () => {
    const c: SeedCase = { x: [2, 4], classes: [3, 1], nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }] };
    const graph = { node: [] as onnx.NodeProto[] };
    const shapes = new Map<string, TensorInfo>([['x', { dims: c.x, dtype: 'float32' }]]);
    const result = buildBackward({ graph, index: new GraphIndex(graph), from: 'x', to: 'x', seed: { classes: 'classes' }, shapes, opset: 13, file: 'seed.onnx' });
    const bytes = model(13, result.nodes, result.initializers, [makeValueInfo('classes', DataType.INT64, [2])], [result.gradient]);
    const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    const out = await session.run({ classes: new ort.Tensor('int64', BigInt64Array.from(c.classes, BigInt), [2]) });
    await session.release();
    expect(Array.from(out[result.gradient].data as Float32Array)).toEqual([0, 0, 0, 1, 0, 1, 0, 0]);
  });
});

describe('broadcastGradient: dA left constant along pooled axes', () => {
  const pooledHead = (pool: NodeSpec[], x: number[], features: number): SeedCase => ({
    x, classes: [3, 0],
    nodes: [...pool, { opType: 'Gemm', inputs: ['pooled', 'w'], outputs: ['y'], attributes: { transB: 1 } }],
    initializers: [W([4, features], 5), intTensor('axes', [2], [2, 3])],
  });
  const cases: [string, SeedCase, number[]][] = [
    ['GlobalAveragePool -> Flatten (NCHW)', pooledHead([
      { opType: 'GlobalAveragePool', inputs: ['x'], outputs: ['gap'] },
      { opType: 'Flatten', inputs: ['gap'], outputs: ['pooled'] },
    ], [2, 3, 4, 5], 3), [2, 3, 1, 1]],
    ['ReduceMean over H, W, keepdims 0 (NHWC)', pooledHead([
      { opType: 'ReduceMean', inputs: ['x'], outputs: ['pooled'], attributes: { axes: [1, 2], keepdims: 0 } },
    ], [2, 4, 5, 3], 3), [2, 1, 1, 3]],
    ['two pools of x added (fan-out of two broadcast gradients)', pooledHead([
      { opType: 'GlobalAveragePool', inputs: ['x'], outputs: ['gap'] },
      { opType: 'ReduceSum', inputs: ['x', 'axes'], outputs: ['sum'], attributes: { keepdims: 1 } },
      { opType: 'Add', inputs: ['gap', 'sum'], outputs: ['both'] },
      { opType: 'Flatten', inputs: ['both'], outputs: ['pooled'] },
    ], [2, 3, 4, 5], 3), [2, 3, 1, 1]],
  ];

  it.each(cases)('%s: dA is given once per pooled plane, no Expand; broadcast it equals the full gradient', async (_, c, compactDims) => {
    const full = await seeded(c, 'dense');
    const compact = await seeded(c, 'classes', true);
    expect(compact.result.gradientDims).toEqual(compactDims);
    expect([...compact.gradient.dims]).toEqual(compactDims);
    expect(compact.ops).not.toContain('Expand');
    expect(full.result.gradientDims).toEqual(c.x);
    expect([...full.gradient.dims]).toEqual(c.x);
    expect(Array.from(broadcast(compact.gradient.data as Float32Array, compactDims, c.x))).toEqual(Array.from(full.gradient.data as Float32Array));
  });

  it('a pooled gradient summed with a full one is full, even with broadcastGradient, and matches finite differences', async () => {
    const nodes: NodeSpec[] = [
      { opType: 'GlobalAveragePool', inputs: ['x'], outputs: ['gap'] },
      { opType: 'Mul', inputs: ['x', 'x'], outputs: ['sq'] },
      { opType: 'Add', inputs: ['sq', 'gap'], outputs: ['y'] },
    ];
    const report = await gradCheck({ opset: 13, input: [2, 2, 3, 3], nodes });
    expect(report.worst).toBeLessThanOrEqual(1);
    const graph = { node: nodes.map(toNodeProto) };
    const shapes = new Map<string, TensorInfo>(['x', 'sq', 'y'].map((t) => [t, { dims: [2, 2, 3, 3], dtype: 'float32' }] as [string, TensorInfo]));
    shapes.set('gap', { dims: [2, 2, 1, 1], dtype: 'float32' });
    const result = buildBackward({ graph, index: new GraphIndex(graph), from: 'x', to: 'y', seed: 'dy', shapes, opset: 13, file: 'mixed.onnx', broadcastGradient: true });
    expect(result.gradientDims).toEqual([2, 2, 3, 3]);
  });
});

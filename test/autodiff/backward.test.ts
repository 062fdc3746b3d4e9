// The driver: errors, plumbing, naming and opset validity. Gradient values use the checker in grad-check.ts
// (central differences in float32, h = 1e-2, |grad - fd| <= 3e-4 + 3e-3 |fd|).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildBackward, GRAD_RULES, supportedOps, type BackwardRequest } from '../../src/autodiff/index.ts';
import { InputError, UnsupportedOpError } from '../../src/errors.ts';
import { makeValueInfo, toNodeProto, type NodeSpec } from '../../src/onnx/builder.ts';
import { GraphIndex } from '../../src/onnx/graph.ts';
import type { TensorInfo } from '../../src/onnx/probe.ts';
import { DataType, type onnx } from '../../src/onnx/proto.ts';
import { distinct, floatTensor, gradCheck, intTensor, model, random } from './grad-check.ts';

/** A request over hand-written shapes (every tensor [2, 4] float32 unless listed). */
function request(nodes: NodeSpec[], extra: Partial<BackwardRequest> = {}, initializers: onnx.TensorProto[] = [], shapes: Record<string, number[]> = {}): BackwardRequest {
  const graph = { node: nodes.map(toNodeProto), initializer: initializers };
  const infos = new Map<string, TensorInfo>();
  for (const name of ['x', ...nodes.flatMap((s) => s.outputs)]) infos.set(name, { dims: shapes[name] ?? [2, 4], dtype: 'float32' });
  return { graph, index: new GraphIndex(graph), from: 'x', to: 'y', seed: 'dy', shapes: infos, opset: 13, file: 'model.onnx', ...extra };
}

describe('errors', () => {
  it('an op without a rule is an UnsupportedOpError naming the op and the node and listing supported ops', () => {
    const req = request([{ opType: 'Relu', inputs: ['x'], outputs: ['r'] }, { opType: 'Sin', inputs: ['r'], outputs: ['y'], name: 'head/sin' }]);
    let error: unknown;
    try {
      buildBackward(req);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnsupportedOpError);
    expect(error).toBeInstanceOf(InputError);
    const e = error as UnsupportedOpError;
    expect(e.opType).toBe('Sin');
    expect(e.nodeName).toBe('head/sin');
    expect(e.exitCode).toBe(3);
    expect(e.supported).toEqual(supportedOps());
    expect(e.message).toMatch(/^model\.onnx: no gradient rule for op Sin \(node "head\/sin"\).*supported ops: .*Conv.*Relu/);
  });

  it('an op of another domain is reported with its domain', () => {
    const req = request([{ opType: 'QuickGelu', domain: 'com.microsoft', inputs: ['x'], outputs: ['y'], name: 'fused' }]);
    expect(() => buildBackward(req)).toThrow(/op com\.microsoft\.QuickGelu \(node "fused"\)/);
    const relu = request([{ opType: 'Relu', domain: 'custom.domain', inputs: ['x'], outputs: ['y'], name: 'not_onnx' }]);
    expect(() => buildBackward(relu)).toThrow(/op custom\.domain\.Relu \(node "not_onnx"\)/);
  });

  it('an unnamed node is named by its position and output', () => {
    const req = request([{ opType: 'Relu', inputs: ['x'], outputs: ['r'], name: '' }, { opType: 'Cos', inputs: ['r'], outputs: ['y'], name: '' }]);
    const graph = { ...req.graph, node: req.graph.node!.map((nd) => ({ ...nd, name: '' })) };
    expect(() => buildBackward({ ...req, graph, index: new GraphIndex(graph) })).toThrow(/node "#1 \(y\)"/);
  });

  it('a score that does not depend on the activation is an InputError', () => {
    const req = request([{ opType: 'Relu', inputs: ['other'], outputs: ['y'] }]);
    expect(() => buildBackward(req)).toThrow(InputError);
    expect(() => buildBackward(req)).toThrow(/"y" does not depend on the target activation "x"/);
  });

  it('an input a rule cannot differentiate, though it depends on A, is named', () => {
    const req = request([{ opType: 'Pow', inputs: ['x', 'x'], outputs: ['y'], name: 'p' }]);
    expect(() => buildBackward(req)).toThrow(/Pow node "p": no gradient for input 1 \("x"\)/);
  });

  it('a tensor the caller did not probe is named', () => {
    const req = request([{ opType: 'Conv', inputs: ['x', 'w'], outputs: ['y'], name: 'c' }]);
    expect(() => buildBackward(req)).toThrow(/no probed shape for tensor "w" \(used by node "c"\)/);
  });

  it('rules refuse what they cannot do, with the reason', () => {
    const train = request([{ opType: 'Dropout', inputs: ['x', 'r', 't'], outputs: ['y'], name: 'd' }], {}, [floatTensor('r', [], [0.5]), { ...intTensor('t', [], [1]), dataType: DataType.BOOL, rawData: new Uint8Array([1]) } as onnx.TensorProto]);
    expect(() => buildBackward(train)).toThrow(/Dropout node "d": training_mode is true/);
    const batchGather = request([{ opType: 'Gather', inputs: ['x', 'i'], outputs: ['y'], name: 'g' }], {}, [intTensor('i', [1], [0])]);
    expect(() => buildBackward(batchGather)).toThrow(/Gather node "g": it gathers along the batch axis/);
    const wrap = request([{ opType: 'Pad', inputs: ['x', 'p'], outputs: ['y'], name: 'w', attributes: { mode: 'wrap' } }], { opset: 19 }, [intTensor('p', [4], [0, 1, 0, 1])], { y: [2, 6] });
    expect(() => buildBackward(wrap)).toThrow(/pad mode "wrap" is not supported/);
  });
});

describe('plumbing', () => {
  it('from = to: the gradient is the seed', () => {
    const result = buildBackward({ ...request([]), to: 'x' });
    expect(result.nodes.map((nd) => [nd.opType, nd.input])).toEqual([['Identity', ['dy']]]);
  });

  it('fan-out is summed once, with one Sum node', async () => {
    const report = await gradCheck({
      opset: 13, input: [2, 5],
      nodes: [
        { opType: 'Tanh', inputs: ['x'], outputs: ['a'] }, { opType: 'Sigmoid', inputs: ['x'], outputs: ['b'] },
        { opType: 'Mul', inputs: ['x', 'a'], outputs: ['c'] }, { opType: 'Add', inputs: ['b', 'c'], outputs: ['y'] },
      ],
    });
    expect(report.worst).toBeLessThanOrEqual(1);
    expect(report.ops.filter((o) => o === 'Sum')).toHaveLength(1);
  });

  it('Shape, ConstantOfShape, ArgMax and integer Casts on the path carry nothing (and need no rule)', async () => {
    const report = await gradCheck({
      opset: 13, input: [2, 6], values: distinct(12, 4),
      nodes: [
        { opType: 'Shape', inputs: ['x'], outputs: ['shape'] },
        { opType: 'ConstantOfShape', inputs: ['shape'], outputs: ['zeros'] },
        { opType: 'ArgMax', inputs: ['x'], outputs: ['arg'], attributes: { axis: 1, keepdims: 1 } },
        { opType: 'Cast', inputs: ['arg'], outputs: ['argf'], attributes: { to: DataType.FLOAT } },
        { opType: 'Mul', inputs: ['x', 'x'], outputs: ['sq'] },
        { opType: 'Add', inputs: ['sq', 'zeros'], outputs: ['s1'] },
        { opType: 'Mul', inputs: ['s1', 'argf'], outputs: ['y'] },
        { opType: 'Reshape', inputs: ['y', 'shape'], outputs: ['unused'] },
      ],
    });
    expect(report.worst).toBeLessThanOrEqual(1);
  });

  it('a score reached only through non-differentiable ops gets a zero gradient', async () => {
    const report = await gradCheck({
      opset: 13, input: [2, 3], values: distinct(6, 2),
      nodes: [
        { opType: 'ArgMax', inputs: ['x'], outputs: ['arg'], attributes: { axis: 1, keepdims: 1 } },
        { opType: 'Cast', inputs: ['arg'], outputs: ['y'], attributes: { to: DataType.FLOAT } },
      ],
    });
    expect(Array.from(report.grad)).toEqual(new Array(6).fill(0));
  });
});

describe('float64 graphs', () => {
  it('constants take the graph\'s float type: Relu -> Sigmoid in double matches the hand derivative', async () => {
    const nodes: NodeSpec[] = [{ opType: 'Relu', inputs: ['x'], outputs: ['r'] }, { opType: 'Sigmoid', inputs: ['r'], outputs: ['y'] }];
    const graph = { node: nodes.map(toNodeProto) };
    const shapes = new Map<string, TensorInfo>(['x', 'r', 'y'].map((t) => [t, { dims: [2, 3], dtype: 'float64' }]));
    const result = buildBackward({ graph, index: new GraphIndex(graph), from: 'x', to: 'y', seed: 'dy', shapes, opset: 13, file: 'f64.onnx' });
    const bytes = model(13, [...graph.node, ...result.nodes], result.initializers,
      [makeValueInfo('x', DataType.DOUBLE, ['N', 3]), makeValueInfo('dy', DataType.DOUBLE, ['N', 3])], ['y', result.gradient]);
    const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    try {
      const x = Float64Array.from([-0.5, 0.25, 1.5, 2, -1, 0.75]), dy = Float64Array.from(random(9, 6));
      const out = await session.run({ x: new ort.Tensor('float64', x, [2, 3]), dy: new ort.Tensor('float64', dy, [2, 3]) });
      const g = out[result.gradient];
      expect(g.type).toBe('float64');
      x.forEach((v, i) => {
        const s = 1 / (1 + Math.exp(-Math.max(v, 0)));
        expect((g.data as Float64Array)[i]).toBeCloseTo(v > 0 ? dy[i] * s * (1 - s) : 0, 12);
      });
    } finally {
      await session.release();
    }
  });
});

describe('what is emitted', () => {
  it('only default-domain ops, no training or scatter ops, all names under the prefix', async () => {
    const nodes: NodeSpec[] = [
      { opType: 'MaxPool', inputs: ['x'], outputs: ['p'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { opType: 'Mul', inputs: ['p', 'k'], outputs: ['m'] },
      { opType: 'ReduceMean', inputs: ['m'], outputs: ['y'], attributes: { axes: [2, 3], keepdims: 0 } },
    ];
    const req = request(nodes, { opset: 11, prefix: 'hg/' }, [floatTensor('k', [3, 1, 1], [1, 2, 3])], { x: [2, 3, 4, 4], p: [2, 3, 4, 4], m: [2, 3, 4, 4], y: [2, 3] });
    const result = buildBackward(req);
    for (const node of result.nodes) {
      expect(node.domain).toBe('');
      expect(node.opType).not.toMatch(/Grad|Scatter|Gradient/);
      for (const out of node.output) expect(out.startsWith('hg/')).toBe(true);
    }
    for (const t of result.initializers) expect(t.name.startsWith('hg/')).toBe(true);
    expect(result.gradient).toBe('hg/d_x');
    // ReduceMean/ReduceSum emitted at opset 11 take axes as attributes: ORT loads the graph at that opset.
    const bytes = model(11, [...nodes.map(toNodeProto), ...result.nodes], [floatTensor('k', [3, 1, 1], [1, 2, 3]), ...result.initializers],
      [makeValueInfo('x', DataType.FLOAT, ['N', 3, 4, 4]), makeValueInfo('dy', DataType.FLOAT, ['N', 3])], ['y', result.gradient]);
    const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    await session.release();
  });

  it('two backward passes with different prefixes live in one graph (one per target layer)', async () => {
    const nodes: NodeSpec[] = [
      { opType: 'Tanh', inputs: ['x'], outputs: ['a'] },
      { opType: 'Mul', inputs: ['a', 'a'], outputs: ['b'] },
      { opType: 'Sigmoid', inputs: ['b'], outputs: ['y'] },
    ];
    const r0 = buildBackward({ ...request(nodes), prefix: 'g0/' });
    const r1 = buildBackward({ ...request(nodes), from: 'a', prefix: 'g1/' });
    const bytes = model(13, [...nodes.map(toNodeProto), ...r0.nodes, ...r1.nodes], [...r0.initializers, ...r1.initializers],
      [makeValueInfo('x', DataType.FLOAT, ['N', 4]), makeValueInfo('dy', DataType.FLOAT, ['N', 4])], [r0.gradient, r1.gradient, 'a']);
    const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    try {
      const x = random(1, 8), dy = random(2, 8);
      const out = await session.run({ x: new ort.Tensor('float32', x, [2, 4]), dy: new ort.Tensor('float32', dy, [2, 4]) });
      const ga = out[r1.gradient].data as Float32Array, gx = out[r0.gradient].data as Float32Array;
      // Hand chain rule: y = sigmoid(tanh(x)^2); dy/da = sig' * 2a; dy/dx = dy/da * (1 - a^2).
      for (let i = 0; i < 8; i++) {
        const a = Math.tanh(x[i]), s = 1 / (1 + Math.exp(-a * a));
        const da = dy[i] * s * (1 - s) * 2 * a;
        expect(ga[i]).toBeCloseTo(da, 5);
        expect(gx[i]).toBeCloseTo(da * (1 - a * a), 5);
      }
    } finally {
      await session.release();
    }
  });

  it('the registry is the single list of supported ops', () => {
    const required = ['Conv', 'Gemm', 'MatMul', 'Add', 'Sub', 'Mul', 'Div', 'Relu', 'LeakyRelu', 'PRelu', 'Clip', 'Sigmoid', 'HardSigmoid',
      'HardSwish', 'Tanh', 'Erf', 'Softmax', 'LogSoftmax', 'BatchNormalization', 'GlobalAveragePool', 'AveragePool', 'MaxPool',
      'GlobalMaxPool', 'Flatten', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Concat', 'Split', 'Slice', 'Pad', 'Identity',
      'Dropout', 'ReduceMean', 'ReduceSum', 'Pow', 'Sqrt', 'LayerNormalization', 'Gather', 'Cast'];
    for (const op of required) expect(GRAD_RULES.has(op), op).toBe(true);
    expect(supportedOps()).toEqual(expect.arrayContaining([...required, 'Shape', 'Size', 'Constant', 'ConstantOfShape', 'ArgMax']));
  });
});

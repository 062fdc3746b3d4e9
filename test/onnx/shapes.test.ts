/**
 * Shapes from the graph (src/onnx/shapes.ts) are the ones ONNX Runtime produces: every case runs the same graph with
 * every node output fetched (the probe) and compares dims and types. Where the graph cannot be followed, inspectModel
 * probes as before; and start-up opens no session but the augmented one.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Explainer } from '../../src/cam/explainer.ts';
import { BugError, InputError } from '../../src/errors.ts';
import { makeTensor, makeValueInfo, toNodeProto, type NodeSpec } from '../../src/onnx/builder.ts';
import { GraphIndex } from '../../src/onnx/graph.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { loadModel, saveModel } from '../../src/onnx/model.ts';
import { imageInput, probeTensors } from '../../src/onnx/probe.ts';
import { DataType, onnx } from '../../src/onnx/proto.ts';
import { ort } from '../../src/onnx/session.ts';
import { inferShapes } from '../../src/onnx/shapes.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';

function model(nodes: NodeSpec[], initializers: onnx.TensorProto[], input: (number | string)[], output: string, opset = 13): onnx.ModelProto {
  const graph = onnx.GraphProto.create({
    name: 'shapes',
    node: nodes.map(toNodeProto),
    initializer: initializers,
    input: [makeValueInfo('x', DataType.FLOAT, input)],
    output: [{ name: output }],
  });
  return onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: opset }], graph });
}

/** Inferred shapes of every node output equal ONNX Runtime's at batch 2 (the probe's batch). */
async function expectOrtShapes(m: onnx.ModelProto, height: number, width: number): Promise<void> {
  const input = imageInput(m, 'test.onnx');
  const opset = Number(m.opsetImport![0].version);
  const inferred = inferShapes(new GraphIndex(m.graph!), input, opset, { batch: 2, height, width });
  if (!('shapes' in inferred)) throw new Error(inferred.unknown);
  const outputs = (m.graph!.node ?? []).flatMap((n) => n.output ?? []).filter(Boolean);
  const probed = await probeTensors(m, 'test.onnx', input, { batch: 2, height, width }, outputs);
  expect(probed.size).toBe(outputs.length);
  for (const name of outputs) {
    expect({ name, ...inferred.shapes.get(name) }).toEqual({ name, dims: probed.get(name)!.dims, dtype: probed.get(name)!.dtype });
  }
}

const ones = (n: number) => Array<number>(n).fill(0.1);

afterEach(() => vi.restoreAllMocks());

describe('shapes from the graph agree with ONNX Runtime', () => {
  it('windows: ceil_mode (with the last window dropped when it starts in the tail pad), pads, strides, dilations, auto_pad, groups', async () => {
    const m = model(
      [
        // 5 wide, kernel 2, stride 2, pads 1, ceil: the formula gives 4, the 4th window would start in the tail pad: 3.
        { opType: 'MaxPool', inputs: ['x'], outputs: ['p1'], attributes: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
        { opType: 'MaxPool', inputs: ['x'], outputs: ['p2'], attributes: { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 } },
        { opType: 'AveragePool', inputs: ['x'], outputs: ['p3'], attributes: { kernel_shape: [3, 2], strides: [2, 1], pads: [1, 0, 1, 0], ceil_mode: 1 } },
        { opType: 'Conv', inputs: ['x', 'w'], outputs: ['c1'], attributes: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' } },
        { opType: 'Conv', inputs: ['x', 'w'], outputs: ['c2'], attributes: { kernel_shape: [3, 3], dilations: [2, 2], pads: [1, 2, 1, 2] } },
        { opType: 'Conv', inputs: ['x', 'dw'], outputs: ['c3'], attributes: { kernel_shape: [3, 3], group: 3, auto_pad: 'VALID' } },
        { opType: 'GlobalMaxPool', inputs: ['c3'], outputs: ['g'] },
        { opType: 'Flatten', inputs: ['g'], outputs: ['logits'] },
      ],
      [makeTensor('w', 'float32', [4, 3, 3, 3], ones(108)), makeTensor('dw', 'float32', [6, 1, 3, 3], ones(54))],
      ['N', 3, 5, 7],
      'logits',
    );
    await expectOrtShapes(m, 5, 7);
    const p1 = (inferShapes(new GraphIndex(m.graph!), imageInput(m, 't'), 13, { batch: 2, height: 5, width: 7 }) as { shapes: Map<string, { dims: number[] }> }).shapes.get('p1');
    expect(p1?.dims).toEqual([2, 3, 3, 4]);
  });

  it('shape plumbing: Shape → Gather → Unsqueeze → Concat → Reshape, Slice, Div, Cast, and the Equal/Where/ConstantOfShape → Expand of a class token', async () => {
    const m = model(
      [
        { opType: 'Shape', inputs: ['x'], outputs: ['s'] },
        { opType: 'Gather', inputs: ['s', 'zero'], outputs: ['n'], attributes: { axis: 0 } },
        { opType: 'Unsqueeze', inputs: ['n', 'axes0'], outputs: ['n1'] },
        { opType: 'Slice', inputs: ['s', 'one', 'two'], outputs: ['c'] },
        { opType: 'Div', inputs: ['c', 'three'], outputs: ['c3'] },
        { opType: 'Cast', inputs: ['c3'], outputs: ['c3i'], attributes: { to: DataType.INT64 } },
        { opType: 'Concat', inputs: ['n1', 'c3i', 'minus1'], outputs: ['target'], attributes: { axis: 0 } },
        { opType: 'Reshape', inputs: ['x', 'target'], outputs: ['r'] },
        { opType: 'Concat', inputs: ['n1', 'one', 'one'], outputs: ['want'], attributes: { axis: 0 } },
        { opType: 'Shape', inputs: ['want'], outputs: ['want_shape'] },
        { opType: 'ConstantOfShape', inputs: ['want_shape'], outputs: ['ones_i'], attributes: { value: makeTensor('v', 'int64', [1], [1]) } },
        { opType: 'Mul', inputs: ['ones_i', 'minus1'], outputs: ['neg'] },
        { opType: 'Equal', inputs: ['want', 'neg'], outputs: ['eq'] },
        { opType: 'Where', inputs: ['eq', 'ones_i', 'want'], outputs: ['expand_to'] },
        { opType: 'Expand', inputs: ['token', 'expand_to'], outputs: ['tokens'] },
        { opType: 'ReduceMean', inputs: ['r'], outputs: ['m'], attributes: { axes: [2], keepdims: 0 } },
        { opType: 'Flatten', inputs: ['tokens'], outputs: ['t'] },
        { opType: 'Concat', inputs: ['m', 't'], outputs: ['logits'], attributes: { axis: 1 } },
      ],
      [
        makeTensor('zero', 'int64', [], [0]), makeTensor('axes0', 'int64', [1], [0]), makeTensor('one', 'int64', [1], [1]),
        makeTensor('two', 'int64', [1], [2]), makeTensor('three', 'int64', [1], [3]), makeTensor('minus1', 'int64', [1], [-1]),
        makeTensor('token', 'float32', [1, 1, 5], ones(5)),
      ],
      ['N', 3, 4, 4],
      'logits',
    );
    await expectOrtShapes(m, 4, 4);
  });

  it('matrix and tensor ops: Gemm with transA, MatMul with broadcast batch, Transpose, Split, Squeeze/Unsqueeze, Pad, Resize, ReduceSum', async () => {
    const m = model(
      [
        { opType: 'Transpose', inputs: ['x'], outputs: ['nhwc'], attributes: { perm: [0, 2, 3, 1] } },
        { opType: 'MatMul', inputs: ['nhwc', 'proj'], outputs: ['mm'] },
        { opType: 'Split', inputs: ['mm', 'parts'], outputs: ['a', 'b'], attributes: { axis: 3 } },
        { opType: 'Pad', inputs: ['x', 'pads'], outputs: ['padded'] },
        { opType: 'Resize', inputs: ['padded', '', 'scales'], outputs: ['big'], attributes: { mode: 'nearest' } },
        { opType: 'ReduceSum', inputs: ['big', 'axes23'], outputs: ['summed'], attributes: { keepdims: 1 } },
        { opType: 'Squeeze', inputs: ['summed', 'axes23'], outputs: ['sq'] },
        { opType: 'Unsqueeze', inputs: ['sq', 'axes1'], outputs: ['unsq'] },
        { opType: 'Flatten', inputs: ['unsq'], outputs: ['flat'] },
        { opType: 'Gemm', inputs: ['fcT', 'flat'], outputs: ['gt'], attributes: { transA: 1, transB: 1 } },
        { opType: 'Transpose', inputs: ['gt'], outputs: ['logits'] },
      ],
      [
        makeTensor('proj', 'float32', [3, 5], ones(15)), makeTensor('parts', 'int64', [2], [2, 3]),
        makeTensor('pads', 'int64', [8], [0, 0, 1, 2, 0, 0, 1, 0]), makeTensor('scales', 'float32', [4], [1, 1, 2, 1.5]),
        makeTensor('axes23', 'int64', [2], [2, 3]), makeTensor('axes1', 'int64', [1], [1]), makeTensor('fcT', 'float32', [3, 4], ones(12)),
      ],
      ['N', 3, 6, 6],
      'logits',
    );
    await expectOrtShapes(m, 6, 6);
  });

  it('the committed models: the underpass demo models and the ViT/Swin fixtures', async () => {
    const files = ['examples/underpass/models/clean.onnx', 'test/fixtures/vit/vit_cls/model.onnx', 'test/fixtures/vit/swin_grid/model.onnx'];
    for (const file of files) {
      const { model: m } = await loadModel(file);
      const input = imageInput(m, file);
      await expectOrtShapes(m, input.height ?? 224, input.width ?? 224);
    }
  });

  it('names the node when a shape depends on values (NonZero) or an op has no rule', () => {
    const m = model(
      [
        { opType: 'NonZero', inputs: ['x'], outputs: ['nz'] },
        { opType: 'GlobalAveragePool', inputs: ['x'], outputs: ['logits'] },
      ],
      [],
      ['N', 3, 4, 4],
      'logits',
    );
    expect(inferShapes(new GraphIndex(m.graph!), imageInput(m, 't'), 13, { batch: 2, height: 4, width: 4 })).toEqual({ unknown: 'no shape rule for NonZero node "nz"' });
  });
});

describe('start-up', () => {
  async function saved(m: onnx.ModelProto, name: string): Promise<string> {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-shapes-')), name);
    await saveModel(m, file);
    return file;
  }

  it('a model with a dynamic batch opens one session, the augmented one: no probe session', async () => {
    const file = await saved(tinyCnn({ size: 8, channels: 4, classes: 3 }).model, 'tiny.onnx');
    const create = vi.spyOn(ort.InferenceSession, 'create');
    const explainer = await Explainer.create(file);
    try {
      expect(explainer.model.shapeSource).toEqual({ from: 'graph' });
      expect(create).toHaveBeenCalledTimes(1);
      const [result] = await explainer.explain([new Float32Array(3 * 8 * 8).fill(0.3)], [-1]);
      expect(result.cam.length).toBe(8 * 8);
    } finally {
      await explainer.release();
    }
  });

  it('a graph it cannot follow is probed, and says why; the layer list is the same', async () => {
    const { model: plain } = tinyCnn({ size: 8, channels: 4, classes: 3 });
    const { model: m } = tinyCnn({ size: 8, channels: 4, classes: 3 });
    // A side branch with a data-dependent shape that no output reads.
    m.graph!.node!.push(toNodeProto({ opType: 'NonZero', inputs: ['act'], outputs: ['nz'] }));
    const probed = await inspectModel(await saved(m, 'nonzero.onnx'));
    const inferred = await inspectModel(await saved(plain, 'plain.onnx'));
    expect(probed.shapeSource).toEqual({ from: 'probe', reason: 'no shape rule for NonZero node "nz"' });
    expect(inferred.shapeSource).toEqual({ from: 'graph' });
    expect(probed.candidates).toEqual(inferred.candidates);
    expect(probed.shapes.get('act')).toEqual({ dims: [2, 4, 8, 8], dtype: 'float32' });
  });

  it('a model ONNX Runtime refuses is still input data (3), not a heatgate bug, when its shapes came from the graph', async () => {
    // The Conv's weights expect 5 input channels; shape inference does not check that, ONNX Runtime does.
    const { model: m } = tinyCnn({ size: 8, channels: 4, classes: 3 });
    const w = m.graph!.initializer!.find((t) => t.name === 'conv.w')!;
    m.graph!.initializer![m.graph!.initializer!.indexOf(w)] = makeTensor('conv.w', 'float32', [4, 5, 3, 3], ones(180));
    const error = await Explainer.create(await saved(m, 'channels.onnx')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect(error).not.toBeInstanceOf(BugError);
    // The message the probe gave before shapes came from the graph.
    expect((error as Error).message).toMatch(/channels\.onnx: the model failed on a 8x8 probe batch of 2: .*Input channels/);
  });
});

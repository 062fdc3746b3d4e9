import { InputError, singleLine } from '../errors.ts';
import type { LoadedModel } from './model.ts';
import { encodeModel } from './model.ts';
import { DataType, onnx } from './proto.ts';
import { openSession, type ort } from './session.ts';

/** Ops whose value is not a function of their inputs: never folded. */
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

/**
 * Folds the constant plumbing exporters leave in a graph (torch's Pad at opset >= 11 computes its pads through
 * ConstantOfShape/Concat/Reshape/Slice/Transpose/Cast; tf2onnx and Paddle2ONNX write similar chains): nodes whose
 * inputs are all initializers or other such nodes are run once by ONNX Runtime, and the tensors they hand to the
 * rest of the graph become initializers. Values do not change, so neither do the model's outputs; the gradient
 * rules then see the pads, axes and scales as constants. The user's model object is not modified.
 */
export async function foldConstants(loaded: LoadedModel): Promise<LoadedModel> {
  const graph = loaded.model.graph!;
  const known = new Set<string>((graph.initializer ?? []).map((t) => t.name ?? ''));
  const runtime = new Set<string>((graph.input ?? []).map((i) => i.name ?? '').filter((n) => !known.has(n)));
  const folded = new Set<onnx.INodeProto>();
  for (const node of graph.node ?? []) {
    const subgraph = (node.attribute ?? []).some((a) => a.g || (a.graphs ?? []).length > 0);
    const constantInputs = (node.input ?? []).every((i) => !i || (known.has(i) && !runtime.has(i)));
    const foreign = node.domain && node.domain !== 'ai.onnx';
    if (subgraph || foreign || NONDETERMINISTIC.has(node.opType ?? '') || !constantInputs || (node.opType !== 'Constant' && (node.input ?? []).length === 0)) {
      for (const o of node.output ?? []) runtime.add(o);
      continue;
    }
    folded.add(node);
    for (const o of node.output ?? []) known.add(o);
  }
  // Only the tensors a kept node (or a graph output) reads need a value; Constant nodes alone are left as they are.
  const kept = (graph.node ?? []).filter((n) => !folded.has(n));
  const read = new Set<string>([...kept.flatMap((n) => n.input ?? []), ...(graph.output ?? []).map((o) => o.name ?? '')]);
  const frontier = [...folded].filter((n) => n.opType !== 'Constant').flatMap((n) => n.output ?? []).filter((o) => o && read.has(o));
  if (frontier.length === 0) return loaded;

  // Only the initializers the folded nodes read: the fold session holds no copy of the weights.
  const foldNodes = (graph.node ?? []).filter((n) => folded.has(n));
  const readByFold = new Set(foldNodes.flatMap((n) => n.input ?? []));
  const foldModel = onnx.ModelProto.create({
    ...loaded.model,
    graph: onnx.GraphProto.create({
      name: 'heatgate_fold',
      node: foldNodes,
      initializer: (graph.initializer ?? []).filter((t) => readByFold.has(t.name ?? '')),
      input: (graph.input ?? []).filter((i) => readByFold.has(i.name ?? '')),
      output: frontier.map((name) => ({ name })),
    }),
  });
  let values: Record<string, ort.Tensor>;
  const { session } = await openSession(encodeModel(foldModel), loaded.file, { origin: 'model' });
  try {
    values = await session.run({});
  } catch (error) {
    throw new InputError(`the model's constant subgraphs failed in ONNX Runtime: ${singleLine((error as Error).message)}`, loaded.file);
  } finally {
    await session.release();
  }
  const replacements: onnx.ITensorProto[] = [];
  for (const name of frontier) {
    const tensor = toTensorProto(name, values[name]);
    if (!tensor) return loaded; // a type an initializer cannot hold here: leave the graph as it is
    replacements.push(tensor);
  }
  // Constant nodes stay (cheap, and other folded nodes may have been their only readers); the rest is replaced.
  const model = onnx.ModelProto.create({
    ...loaded.model,
    graph: onnx.GraphProto.create({
      ...graph,
      node: (graph.node ?? []).filter((n) => !folded.has(n) || n.opType === 'Constant'),
      initializer: [...(graph.initializer ?? []), ...replacements],
    }),
  });
  return { ...loaded, model };
}

const ELEM_TYPES: Partial<Record<string, number>> = { float32: DataType.FLOAT, int64: DataType.INT64, int32: DataType.INT32, float64: DataType.DOUBLE, bool: DataType.BOOL, uint8: DataType.UINT8, int8: DataType.INT8 };

function toTensorProto(name: string, t: ort.Tensor | undefined): onnx.TensorProto | undefined {
  const dataType = t && ELEM_TYPES[t.type];
  if (!t || dataType === undefined) return undefined;
  const data = t.data as ArrayBufferView;
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return onnx.TensorProto.create({ name, dims: [...t.dims], dataType, rawData: raw });
}

import { ConfigError, InputError } from '../errors.ts';
import { makeTensor, toNodeProto, type NodeSpec } from './builder.ts';
import type { onnx } from './proto.ts';
import type { TensorInfo } from './probe.ts';

/** What the chosen output holds, and so how heatgate reads predictions and confidences from it. */
export type ScoreKind = 'logits' | 'probabilities' | 'binary-logit' | 'binary-probability';

/** The classifier output heatgate explains, and the `[N, classes]` score tensor derived from it. */
export interface ScoreOutput {
  /** The model's own output. */
  output: string;
  /** Its per-sample shape as declared by the probe, e.g. "[N, 1000, 1, 1]". */
  form: string;
  kind: ScoreKind;
  /** The `[N, classes]` tensor ArgMax and the gradient seed read: the output itself or one heatgate appends. */
  scores: string;
  classes: number;
  /** Nodes appended to the graph to make `scores` (empty when the output already is [N, classes]). */
  nodes: onnx.NodeProto[];
  initializers: onnx.TensorProto[];
  /** Probe dims of the appended tensors. */
  shapes: Map<string, TensorInfo>;
  /** One line saying which output was taken, when the model has several float outputs. */
  note?: string;
}

export const SCORES = 'heatgate_scores';
const PASS_THROUGH = new Set(['Flatten', 'Reshape', 'Squeeze', 'Identity', 'Transpose', 'Unsqueeze', 'Cast']);

/** Per-sample class count when `dims` is a class vector: [N, C], [N, C, 1, 1] or [N, 1, 1, C]; else undefined. */
function classCount(dims: readonly number[]): number | undefined {
  if (dims.length === 2) return dims[1];
  if (dims.length === 4 && dims[2] === 1 && dims[3] === 1) return dims[1];
  if (dims.length === 4 && dims[1] === 1 && dims[2] === 1) return dims[3];
  return undefined;
}

const formOf = (dims: readonly number[]) => `[N, ${dims.slice(1).join(', ')}]`;

/**
 * Picks the classifier output (`--output NAME`, else the first float output shaped like a class vector) and
 * derives `[N, classes]` scores from it: 4-D outputs are flattened; a single-logit binary classifier `[N, 1]`
 * becomes two classes, scores [-z, z] (class 1 when z > 0; dScore/dz = -1 for class 0, as pytorch-grad-cam's
 * BinaryClassifierOutputTarget), and a single sigmoid probability p becomes [1 - p, p].
 */
export function chooseScores(
  graph: onnx.IGraphProto,
  producers: ReadonlyMap<string, onnx.INodeProto>,
  shapes: ReadonlyMap<string, TensorInfo>,
  requested: string | undefined,
  file: string,
): ScoreOutput {
  const outputs = (graph.output ?? []).map((o) => o.name ?? '');
  if (outputs.length === 0) throw new InputError('the model has no outputs', file);
  const describe = (name: string) => {
    const info = shapes.get(name);
    return `${name} (${info ? `${info.dtype} ${formOf(info.dims)}` : 'not produced'})`;
  };
  const usable = (name: string) => {
    const info = shapes.get(name);
    return info?.dtype === 'float32' && classCount(info.dims) !== undefined && classCount(info.dims)! >= 1;
  };
  let output: string;
  let note: string | undefined;
  if (requested !== undefined) {
    if (!outputs.includes(requested)) throw new ConfigError(`--output "${requested}" is not an output of ${file}; its outputs are: ${outputs.map(describe).join(', ')}`);
    if (!usable(requested)) {
      throw new InputError(`output ${describe(requested)} is not a class vector; heatgate needs float32 [N, C], [N, C, 1, 1] or [N, 1, 1, C]`, file);
    }
    output = requested;
  } else {
    const candidates = outputs.filter(usable);
    if (candidates.length === 0) {
      throw new InputError(
        `no output is a class vector (float32 [N, C], [N, C, 1, 1] or [N, 1, 1, C]); the outputs are: ${outputs.map(describe).join(', ')}`,
        file,
      );
    }
    output = candidates[0];
    if (outputs.length > 1) note = `output: using "${output}" ${formOf(shapes.get(output)!.dims)}, the first float class-vector output of ${outputs.length} (${outputs.join(', ')}); --output picks another`;
  }
  const info = shapes.get(output)!;
  const batch = info.dims[0];
  const count = classCount(info.dims)!;
  const probability = producedBy(output, producers, ['Softmax', 'Sigmoid']);
  const nodes: NodeSpec[] = [];
  const added = new Map<string, TensorInfo>();
  const initializers: onnx.TensorProto[] = [];
  let flat = output;
  if (info.dims.length === 4) {
    flat = `${SCORES}/flat`;
    nodes.push({ opType: 'Flatten', inputs: [output], outputs: [flat], attributes: { axis: 1 } });
    added.set(flat, { dims: [batch, count], dtype: 'float32' });
  }
  let kind: ScoreKind = probability ? 'probabilities' : 'logits';
  let scores = flat;
  if (count === 1) {
    kind = probability ? 'binary-probability' : 'binary-logit';
    const other = `${SCORES}/other`;
    if (probability) {
      initializers.push(makeTensor(`${SCORES}/one`, 'float32', [], [1]));
      nodes.push({ opType: 'Sub', inputs: [`${SCORES}/one`, flat], outputs: [other] });
    } else {
      nodes.push({ opType: 'Neg', inputs: [flat], outputs: [other] });
    }
    nodes.push({ opType: 'Concat', inputs: [other, flat], outputs: [SCORES], attributes: { axis: 1 } });
    added.set(other, { dims: [batch, 1], dtype: 'float32' });
    added.set(SCORES, { dims: [batch, 2], dtype: 'float32' });
    scores = SCORES;
  }
  return {
    output,
    form: formOf(info.dims),
    kind,
    scores,
    classes: count === 1 ? 2 : count,
    nodes: nodes.map(toNodeProto),
    initializers,
    shapes: added,
    ...(note && { note }),
  };
}

/** Whether `tensor` comes from one of `ops` through shape-only nodes (a Softmax then Reshape is still a probability). */
function producedBy(tensor: string, producers: ReadonlyMap<string, onnx.INodeProto>, ops: readonly string[]): boolean {
  let node = producers.get(tensor);
  while (node && PASS_THROUGH.has(node.opType ?? '')) node = producers.get(node.input?.[0] ?? '');
  return ops.includes(node?.opType ?? '');
}

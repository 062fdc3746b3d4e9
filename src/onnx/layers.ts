import { ConfigError, InputError } from '../errors.ts';
import type { GraphIndex} from './graph.ts';
import { attr } from './graph.ts';
import type { ImageInput, InputLayout, TensorInfo } from './probe.ts';
import type { onnx } from './proto.ts';

/** A tensor that Grad-CAM can explain: a 4-D float activation with spatial extent > 1 on the way to the logits. */
export interface LayerCandidate {
  tensor: string;
  opType: string;
  nodeName: string;
  layout: InputLayout;
  /** Per-sample shape in the tensor's own layout order (C,H,W or H,W,C). */
  channels: number;
  height: number;
  width: number;
  /** The elementwise activation that consumes this tensor alone (a Relu the source framework may run in place). */
  followedBy?: { opType: string; tensor: string };
}

const ACTIVATIONS = new Set(['Relu', 'Clip', 'LeakyRelu', 'HardSwish', 'Sigmoid', 'Tanh', 'PRelu', 'Elu', 'Selu']);

/**
 * Candidate target layers, in graph order. A tensor qualifies when it is a float 4-D output of a node that depends
 * on the image input, lies on a path to the logits, and has height*width > 1 in its layout. Each tensor's layout
 * is the input's layout carried through the graph, permuted by Transposes (so a channels-last head is read as
 * NHWC after a [0,2,3,1] Transpose).
 */
export function layerCandidates(
  index: GraphIndex,
  input: ImageInput,
  logits: string,
  shapes: ReadonlyMap<string, TensorInfo>,
): LayerCandidate[] {
  const layouts = carryLayouts(index, input);
  const ancestors = ancestorsOf(index, logits);
  const out: LayerCandidate[] = [];
  for (const node of index.graph.node ?? []) {
    for (const tensor of node.output ?? []) {
      const info = shapes.get(tensor);
      const layout = layouts.get(tensor);
      if (!info || !layout || info.dtype !== 'float32' || info.dims.length !== 4 || !ancestors.has(tensor)) continue;
      const [, a, b, c] = info.dims;
      const [channels, height, width] = layout === 'NCHW' ? [a, b, c] : [c, a, b];
      if (height * width <= 1) continue;
      const consumers = index.consumers.get(tensor) ?? [];
      const next = consumers.length === 1 && ACTIVATIONS.has(consumers[0].opType ?? '') ? consumers[0] : undefined;
      out.push({
        tensor,
        opType: node.opType ?? '',
        nodeName: node.name ?? '',
        layout,
        channels,
        height,
        width,
        followedBy: next ? { opType: next.opType ?? '', tensor: next.output?.[0] ?? '' } : undefined,
      });
    }
  }
  return out;
}

/** Ops that only move or copy values: their output is an earlier activation, renamed or permuted. */
const DATA_MOVEMENT = new Set(['Identity', 'Transpose', 'Dropout', 'Cast']);

/**
 * The default target layer: the last candidate in graph order, i.e. the one nearest the classifier head, skipping
 * copies and permutations of an earlier one (tf2onnx's Identity chains and Transpose pairs) in favour of the
 * activation they copy (the same map, under the name the source framework gave it).
 */
export function defaultLayer(candidates: readonly LayerCandidate[], file: string): LayerCandidate {
  const last = candidates.findLast((c) => !DATA_MOVEMENT.has(c.opType)) ?? candidates.at(-1);
  if (!last) {
    throw new InputError('found no 4-D activation with spatial extent > 1 on the path to the logits; is this a CNN classifier?', file);
  }
  return last;
}

/** Looks up user-named layers, with a helpful error listing the nearest candidates. */
export function chooseLayers(candidates: readonly LayerCandidate[], names: readonly string[] | undefined, file: string): LayerCandidate[] {
  if (!names || names.length === 0) return [defaultLayer(candidates, file)];
  return names.map((name) => {
    const found = candidates.find((c) => c.tensor === name);
    if (found) return found;
    const tail = candidates.slice(-5).map((c) => c.tensor).join(', ');
    throw new ConfigError(
      `--layer "${name}" is not a 4-D activation with spatial extent > 1 on the path to the logits of ${file}; ` +
        `run "heatgate layers ${file}" to list them (the last ones are: ${tail})`,
    );
  });
}

function carryLayouts(index: GraphIndex, input: ImageInput): Map<string, InputLayout> {
  const layouts = new Map<string, InputLayout>([[input.name, input.layout]]);
  for (const node of index.graph.node ?? []) {
    const inherited = (node.input ?? []).map((i) => layouts.get(i)).find((l) => l !== undefined);
    if (!inherited) continue;
    let layout: InputLayout = inherited;
    if (node.opType === 'Transpose') layout = permuted(node, inherited) ?? inherited;
    for (const out of node.output ?? []) if (out) layouts.set(out, layout);
  }
  return layouts;
}

function permuted(node: onnx.INodeProto, layout: InputLayout): InputLayout | undefined {
  const perm = attr(node, 'perm', 'ints')?.join(',');
  if (perm === '0,2,3,1') return layout === 'NCHW' ? 'NHWC' : undefined;
  if (perm === '0,3,1,2') return layout === 'NHWC' ? 'NCHW' : undefined;
  return undefined;
}

function ancestorsOf(index: GraphIndex, tensor: string): Set<string> {
  const seen = new Set<string>([tensor]);
  const stack = [tensor];
  while (stack.length > 0) {
    const node = index.producers.get(stack.pop()!);
    for (const input of node?.input ?? []) {
      if (input && !seen.has(input)) {
        seen.add(input);
        stack.push(input);
      }
    }
  }
  return seen;
}

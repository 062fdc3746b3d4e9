import { ConfigError, InputError } from '../errors.ts';
import type { GraphIndex} from './graph.ts';
import { attr } from './graph.ts';
import type { ImageInput, InputLayout, TensorInfo } from './probe.ts';
import type { onnx } from './proto.ts';
import { patchGrid, patchTokensReachLogits, tokenGrid, type TokenOptions } from './tokens.ts';

/**
 * How a target activation holds its positions: NCHW/NHWC 4-D maps, or transformer tokens [N, T, C] whose first
 * `tokens.skip` tokens (class token, ...) are dropped and the rest read as an H x W grid (row-major).
 */
export type LayerLayout = InputLayout | 'tokens';

/**
 * A tensor that Grad-CAM can explain, on the way to the logits: a 4-D float activation with spatial extent > 1
 * (NCHW, or NHWC such as Swin's [N, H, W, C]), or transformer tokens [N, T, C] that fill a grid.
 */
export interface LayerCandidate {
  tensor: string;
  opType: string;
  nodeName: string;
  layout: LayerLayout;
  /** Per-sample shape in the tensor's own layout order (C,H,W or H,W,C); for tokens, C and the grid. */
  channels: number;
  height: number;
  width: number;
  /** Token layers: the token count T and the leading tokens that are not patches. */
  tokens?: { count: number; skip: number };
  /**
   * Token layers after the last token mixing whose head reads only the class token: their patch tokens get no
   * gradient (an all-zero Grad-CAM map). The automatic choice passes over them.
   */
  classTokenOnly?: boolean;
  /** The elementwise activation that consumes this tensor alone (a Relu the source framework may run in place). */
  followedBy?: { opType: string; tensor: string };
}

const ACTIVATIONS = new Set(['Relu', 'Clip', 'LeakyRelu', 'HardSwish', 'Sigmoid', 'Tanh', 'PRelu', 'Elu', 'Selu']);

export interface CandidateOptions {
  /** Batch of the probe run: an activation whose axis 0 is not the batch (attention windows) is no candidate. */
  batch?: number;
  /** Model input size, for the patch grid of token layers. */
  height?: number;
  width?: number;
  tokens?: TokenOptions;
}

/**
 * Candidate target layers, in graph order. A tensor qualifies when it is a float output of a node that depends on
 * the image input, lies on a path to the logits, has the batch on axis 0, and is either 4-D with height*width > 1
 * in its layout or a token tensor [N, T, C] whose tokens fill a grid (`tokenGrid`). Each tensor's layout is the
 * input's layout carried through the graph: permuted by Transposes (so a channels-last head is read as NHWC after a
 * [0,2,3,1] Transpose), and through the reshapes of a patch embedding ([N,C,H,W] -> [N,C,HW] -> Transpose ->
 * tokens [N,HW,C]) and of Swin's token grid ([N,HW,C] -> [N,H,W,C], NHWC).
 */
export function layerCandidates(
  index: GraphIndex,
  input: ImageInput,
  logits: string,
  shapes: ReadonlyMap<string, TensorInfo>,
  options: CandidateOptions = {},
): LayerCandidate[] {
  const layouts = carryLayouts(index, input, shapes);
  const ancestors = ancestorsOf(index, logits);
  const tokenTensors = new Set([...layouts].filter(([t, l]) => l === 'NTC' && shapes.get(t)?.dims.length === 3).map(([t]) => t));
  const patch = options.height && options.width ? patchGrid(index, new Set(layouts.keys()), options.height, options.width) : undefined;
  const out: LayerCandidate[] = [];
  for (const node of index.graph.node ?? []) {
    for (const tensor of node.output ?? []) {
      const info = shapes.get(tensor);
      const carried = layouts.get(tensor);
      if (!info || !carried || info.dtype !== 'float32' || !ancestors.has(tensor)) continue;
      if (options.batch !== undefined && info.dims[0] !== options.batch) continue;
      let layout: LayerLayout, channels: number, height: number, width: number;
      let tokens: LayerCandidate['tokens'];
      if (info.dims.length === 4 && (carried === 'NCHW' || carried === 'NHWC')) {
        const [, a, b, c] = info.dims;
        layout = carried;
        [channels, height, width] = carried === 'NCHW' ? [a, b, c] : [c, a, b];
      } else if (info.dims.length === 3 && carried === 'NTC') {
        const grid = tokenGrid(info.dims[1], options.tokens ?? {}, patch);
        if (!grid) continue;
        layout = 'tokens';
        [channels, height, width] = [info.dims[2], grid.height, grid.width];
        tokens = { count: info.dims[1], skip: grid.skip };
      } else {
        continue;
      }
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
        ...(tokens && { tokens }),
        ...(tokens && !patchTokensReachLogits(index, tensor, logits, shapes, tokenTensors) && { classTokenOnly: true }),
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
 * activation they copy (the same map, under the name the source framework gave it), and passing over token layers
 * whose patch tokens get no gradient.
 */
export function defaultLayer(candidates: readonly LayerCandidate[], file: string): LayerCandidate {
  // Token layers whose patch tokens get no gradient (after a ViT's last attention) would give an all-zero map.
  const usable = candidates.filter((c) => !c.classTokenOnly);
  const last = usable.findLast((c) => !DATA_MOVEMENT.has(c.opType)) ?? usable.at(-1);
  if (!last) {
    throw new InputError(
      'found no 4-D activation with spatial extent > 1 and no transformer tokens that fill a grid on the path to the logits; ' +
        'is this an image classifier? (for tokens, --tokens-grid HxW and --skip-tokens n say how they map to the image)',
      file,
    );
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
      `--layer "${name}" is not a 4-D activation with spatial extent > 1 or a token tensor that fills a grid on the path to the logits of ${file}; ` +
        `run "heatgate layers ${file}" to list them (the last ones are: ${tail})`,
    );
  });
}

/** A carried layout: the image's 4-D layouts, and 3-D tokens [N, T, C] or their transpose [N, C, T]. */
type Carried = InputLayout | 'NTC' | 'NCT';

const RESHAPES = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);

function carryLayouts(index: GraphIndex, input: ImageInput, shapes: ReadonlyMap<string, TensorInfo>): Map<string, Carried> {
  const layouts = new Map<string, Carried>([[input.name, input.layout]]);
  for (const node of index.graph.node ?? []) {
    const source = RESHAPES.has(node.opType ?? '') ? node.input?.[0] : (node.input ?? []).find((i) => layouts.has(i));
    const inherited = source ? layouts.get(source) : undefined;
    if (!source || !inherited) continue;
    const from = shapes.get(source)?.dims;
    for (const out of node.output ?? []) {
      if (!out) continue;
      let layout: Carried = inherited;
      if (node.opType === 'Transpose') layout = permuted(node, inherited) ?? inherited;
      else if (RESHAPES.has(node.opType ?? '')) layout = reshaped(inherited, from, shapes.get(out)?.dims) ?? inherited;
      layouts.set(out, layout);
    }
  }
  return layouts;
}

function permuted(node: onnx.INodeProto, layout: Carried): Carried | undefined {
  const perm = attr(node, 'perm', 'ints')?.join(',');
  if (perm === '0,2,3,1') return layout === 'NCHW' ? 'NHWC' : undefined;
  if (perm === '0,3,1,2') return layout === 'NHWC' ? 'NCHW' : undefined;
  if (perm === '0,2,1') return layout === 'NCT' ? 'NTC' : layout === 'NTC' ? 'NCT' : undefined;
  return undefined;
}

/** Layout across a reshape that flattens a map's positions into tokens, or folds tokens back into a grid. */
function reshaped(layout: Carried, from: readonly number[] | undefined, to: readonly number[] | undefined): Carried | undefined {
  if (!from || !to || from[0] !== to[0]) return undefined;
  if (from.length === 4 && to.length === 3) {
    if (layout === 'NCHW' && to[1] === from[1] && to[2] === from[2] * from[3]) return 'NCT';
    if (layout === 'NHWC' && to[1] === from[1] * from[2] && to[2] === from[3]) return 'NTC';
  }
  if (from.length === 3 && to.length === 4) {
    if (layout === 'NTC' && to[1] * to[2] === from[1] && to[3] === from[2]) return 'NHWC';
    if (layout === 'NCT' && to[2] * to[3] === from[2] && to[1] === from[1]) return 'NCHW';
  }
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

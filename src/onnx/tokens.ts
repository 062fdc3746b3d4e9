import { ConfigError } from '../errors.ts';
import type { GraphIndex } from './graph.ts';
import { attr, tensorData } from './graph.ts';
import type { TensorInfo } from './probe.ts';
import type { onnx } from './proto.ts';

/**
 * Transformer token activations [N, tokens, C] as a Grad-CAM target: pytorch-grad-cam's `reshape_transform` drops
 * the leading (class, distillation, register) tokens and reshapes the rest to a [h, w] grid.
 */
export interface TokenOptions {
  /** `--tokens-grid HxW`: the patch grid; default inferred from the patch embedding (or a square token count). */
  grid?: { height: number; width: number };
  /** `--skip-tokens n`: leading tokens that are not patches; default: tokens - h*w. */
  skip?: number;
}

/** Parses `--tokens-grid 14x14`. */
export function parseTokensGrid(text: string): { height: number; width: number } {
  const m = /^\s*(\d+)\s*[xX]\s*(\d+)\s*$/.exec(text);
  const height = m ? Number(m[1]) : NaN, width = m ? Number(m[2]) : NaN;
  if (!m || height < 1 || width < 1 || height * width < 2) {
    throw new ConfigError(`--tokens-grid "${text}": expected HxW with positive integers (e.g. 14x14)`);
  }
  return { height, width };
}

/** Most leading non-patch tokens inferred without --skip-tokens (class + distillation token + up to 4 registers). */
const MAX_INFERRED_SKIP = 6;

/**
 * The patch grid of a transformer: the first Conv fed by the image whose strides equal its kernel (a patch
 * embedding), applied to the input size. Undefined for models without one.
 */
export function patchGrid(index: GraphIndex, imageDependent: ReadonlySet<string>, height: number, width: number): { height: number; width: number } | undefined {
  for (const node of index.graph.node ?? []) {
    if (node.opType !== 'Conv' || !imageDependent.has(node.input?.[0] ?? '')) continue;
    const kernel = attr(node, 'kernel_shape', 'ints') ?? kernelFromWeight(index, node);
    const strides = attr(node, 'strides', 'ints');
    if (!kernel || kernel.length !== 2 || !strides || strides.join() !== kernel.join() || kernel[0] < 2) continue;
    return { height: Math.floor(height / kernel[0]), width: Math.floor(width / kernel[1]) };
  }
  return undefined;
}

function kernelFromWeight(index: GraphIndex, node: onnx.INodeProto): number[] | undefined {
  const w = index.initializers.get(node.input?.[1] ?? '');
  return w?.dims && w.dims.length === 4 ? w.dims.slice(2).map(Number) : undefined;
}

/**
 * How `tokens` tokens map to a grid: the user's grid/skip, else the patch grid, else a square count after 0..6
 * leading tokens. Undefined when nothing fits.
 */
export function tokenGrid(
  tokens: number,
  options: TokenOptions,
  patch: { height: number; width: number } | undefined,
): { height: number; width: number; skip: number } | undefined {
  const fits = (height: number, width: number, skip: number) =>
    skip >= 0 && height * width === tokens - skip && height * width > 1 ? { height, width, skip } : undefined;
  if (options.grid) {
    const skip = options.skip ?? tokens - options.grid.height * options.grid.width;
    return options.skip !== undefined || skip <= MAX_INFERRED_SKIP ? fits(options.grid.height, options.grid.width, skip) : undefined;
  }
  if (patch) {
    const skip = options.skip ?? tokens - patch.height * patch.width;
    if (skip <= MAX_INFERRED_SKIP) return fits(patch.height, patch.width, skip);
  }
  for (const skip of options.skip !== undefined ? [options.skip] : Array.from({ length: MAX_INFERRED_SKIP + 1 }, (_, i) => i)) {
    const side = Math.round(Math.sqrt(tokens - skip));
    const grid = fits(side, side, skip);
    if (grid) return grid;
  }
  return undefined;
}

/**
 * Whether the logits depend on the patch tokens of `from` [N, T, C], or only on the tokens the head picks out
 * (the class token) after the last token mixing. After a ViT's last attention, every op is per token and the head
 * reads x[:, 0]: the patch tokens of those tensors get no gradient, so their Grad-CAM map is all zero. This is why
 * pytorch-grad-cam's ViT example targets the LayerNorm before the last attention.
 *
 * Forward from `from` through float tensors: a MatMul/Einsum of two tensors that both depend on it (attention) or a
 * reduction over the token axis mixes tokens; a Gather/Slice that keeps one token of a still per-token tensor ends
 * that path. The patch tokens matter when some path reaches the logits.
 */
export function patchTokensReachLogits(
  index: GraphIndex,
  from: string,
  logits: string,
  shapes: ReadonlyMap<string, TensorInfo>,
  tokenTensors: ReadonlySet<string>,
): boolean {
  const state = new Map<string, 'tokenwise' | 'mixed'>([[from, 'tokenwise']]);
  const isFloat = (t: string) => {
    const dtype = shapes.get(t)?.dtype;
    return dtype === 'float32' || dtype === 'float64';
  };
  for (const node of index.graph.node ?? []) {
    const deps = (node.input ?? []).filter((i) => i && state.has(i));
    if (deps.length === 0) continue;
    const mixedIn = deps.some((d) => state.get(d) === 'mixed');
    let out: 'tokenwise' | 'mixed' | undefined = mixedIn ? 'mixed' : 'tokenwise';
    const op = node.opType ?? '';
    if (!mixedIn) {
      if ((op === 'MatMul' || op === 'Einsum') && new Set(deps).size >= 2) out = 'mixed';
      else if (op.startsWith('Reduce') && reducesTokenAxis(index, node, shapes, tokenTensors)) out = 'mixed';
      else if ((op === 'Gather' || op === 'Slice') && picksOneToken(index, node, shapes, tokenTensors)) out = undefined;
    }
    if (!out) continue;
    for (const o of node.output ?? []) if (o && isFloat(o)) state.set(o, out);
  }
  return state.has(logits);
}

function axesOf(index: GraphIndex, node: onnx.INodeProto, inputSlot: number): number[] | undefined {
  const fromAttr = attr(node, 'axes', 'ints');
  if (fromAttr) return fromAttr;
  const init = index.initializers.get(node.input?.[inputSlot] ?? '');
  return init ? Array.from(tensorData(init), Number) : undefined;
}

function reducesTokenAxis(index: GraphIndex, node: onnx.INodeProto, shapes: ReadonlyMap<string, TensorInfo>, tokens: ReadonlySet<string>): boolean {
  const x = node.input?.[0] ?? '';
  const rank = shapes.get(x)?.dims.length ?? 0;
  const axes = axesOf(index, node, 1);
  if (!axes || axes.length === 0) return true;
  const norm = axes.map((a) => (a < 0 ? a + rank : a));
  // A per-token normalisation (LayerNorm written out before opset 17) reduces the last axis only.
  if (norm.length === 1 && norm[0] === rank - 1) return false;
  return tokens.has(x) ? norm.includes(1) : true;
}

function picksOneToken(index: GraphIndex, node: onnx.INodeProto, shapes: ReadonlyMap<string, TensorInfo>, tokens: ReadonlySet<string>): boolean {
  const x = node.input?.[0] ?? '';
  if (!tokens.has(x)) return false;
  const inDims = shapes.get(x)?.dims, outDims = shapes.get(node.output?.[0] ?? '')?.dims;
  if (!inDims || !outDims) return false;
  if (node.opType === 'Gather') {
    const axis = attr(node, 'axis', 'int') ?? 0;
    return (axis === 1 || axis === -2) && outDims.length === 2;
  }
  const axes = axesOf(index, node, 3) ?? [0, 1, 2].slice(0, (index.initializers.get(node.input?.[1] ?? '')?.dims?.map(Number)[0]) ?? 3);
  return axes.some((a) => a === 1 || a === -2) && outDims[1] === 1 && inDims[1] > 1;
}

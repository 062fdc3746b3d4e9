import { attr } from '../../onnx/graph.ts';
import { reshapeLike, slice } from '../emit.ts';
import type { GradRule } from '../types.ts';
import { endPadding, tapKernels, transposeAttributes, windowOf } from './window.ts';

/** Stands in for -inf in MaxPool's padding (finite, so no inf - inf anywhere). */
const VERY_NEGATIVE = -3.4e38;

/**
 * y = max over each window  =>  dy goes to each window's arg max; where windows overlap the parts add.
 * Built without ScatterElements (reduction="add" needs opset 16), so it is valid from opset 11: one strided Slice
 * per window tap lays the taps out as channels (exact data movement, so the arg max is exact on every execution
 * provider, TF32 or not), ArgMax picks the tap, and ConvTranspose with one-hot kernels adds the routed gradients
 * back onto the input (col2im).
 * Ties: the first maximal tap of the window in row-major order (ONNX Runtime's MaxPool keeps that one too).
 */
export const maxPool: GradRule = (ctx) => {
  const x = ctx.input(0), dims = ctx.dims(x);
  const kernel = attr(ctx.node, 'kernel_shape', 'ints') ?? ctx.fail('kernel_shape is missing');
  const w = windowOf(ctx, kernel), taps = kernel.reduce((p, q) => p * q, 1), r = kernel.length;
  const kernels = ctx.constant(tapKernels(kernel), 'float', [taps, 1, ...kernel]);
  const planes = ctx.op('Reshape', [x, ctx.constant([-1, 1, ...dims.slice(2)], 'int64')], {}, 'planes');
  const padded = ctx.op('Pad', [planes, ctx.constant([0, 0, ...w.begin, 0, 0, ...endPadding(w)], 'int64'), ctx.constant(VERY_NEGATIVE)], { mode: 'constant' }, 'padded');
  const spatial = kernel.map((_, a) => a + 2);
  const tapSlices = tapOffsets(kernel).map((tap) => {
    const starts = tap.map((j, a) => j * w.dilations[a]);
    return slice(ctx, padded, starts, starts.map((s, a) => s + (w.outSize[a] - 1) * w.strides[a] + 1), spatial, w.strides);
  });
  const windows = tapSlices.length === 1 ? tapSlices[0] : ctx.op('Concat', tapSlices, { axis: 1 }, 'windows');
  const argmax = ctx.op('ArgMax', [windows], { axis: 1, keepdims: 1 }, 'argmax');
  const tapIds = ctx.constant(Array.from({ length: taps }, (_, k) => k), 'int64', [1, taps, ...new Array<number>(r).fill(1)]);
  const chosen = ctx.op('Equal', [argmax, tapIds], {}, 'chosen');
  const dy = ctx.op('Reshape', [ctx.gradOutput(0), ctx.constant([-1, 1, ...w.outSize], 'int64')], {}, 'dy_planes');
  const routed = ctx.op('Where', [chosen, dy, ctx.constant(0)], {}, 'routed');
  const back = ctx.op('ConvTranspose', [routed, kernels], { kernel_shape: kernel, ...transposeAttributes(w) }, 'back');
  return { grads: [reshapeLike(ctx, back, x)] };
};

/** Kernel positions in row-major order (the channel order of tapKernels). */
function tapOffsets(kernel: readonly number[]): number[][] {
  let taps: number[][] = [[]];
  for (const k of kernel) taps = taps.flatMap((t) => Array.from({ length: k }, (_, j) => [...t, j]));
  return taps;
}

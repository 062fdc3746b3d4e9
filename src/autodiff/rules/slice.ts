import { filled, normAxis, padZeros, reshapeLike, reverse, slice, unsqueeze, zerosLike } from '../emit.ts';
import type { GradContext, GradRule } from '../types.ts';

/** Above this an end means "to the end of the axis" (exporters write INT64_MAX or INT32_MAX). */
const OPEN_END = 2 ** 31 - 1;

/**
 * y = x[start:end:step] per axis (opset 10+ inputs; negative and out-of-range values clamped as ONNX specifies)
 *   =>  dx = dy placed back at the selected positions, zeros elsewhere.
 * With constant starts/ends/axes/steps that leave the batch axis whole, from static facts: reversed for negative
 * steps, zero-stuffed (step - 1 zeros after each element) for |step| > 1, then padded. Otherwise (run-time values,
 * as exporters emit for chunk/split by shape, or a slice of the batch axis) ONNX Runtime's own Slice picks the flat
 * positions out of an index grid and dy is scattered there; a slice never repeats a position, so ScatterElements
 * needs no reduction and is valid from opset 11.
 */
export const sliceRule: GradRule = (ctx) => {
  const x = ctx.input(0), dims = ctx.dims(x), rank = dims.length;
  const value = (i: number, fallback: number[]) => (ctx.input(i) ? ctx.constantValues(ctx.input(i)) : fallback);
  const starts = value(1, []), ends = value(2, []);
  const axes = starts ? value(3, starts.map((_, i) => i)) : undefined;
  const steps = starts ? value(4, starts.map(() => 1)) : undefined;
  if (!starts || !ends || !axes || !steps) return { grads: [sliceByIndex(ctx), null, null, null, null] };
  const cur = [...ctx.dims(ctx.output(0))];
  const padBegin = new Array<number>(rank).fill(0), padEnd = new Array<number>(rank).fill(0);
  let g = ctx.gradOutput(0);
  for (let i = 0; i < axes.length; i++) {
    const a = normAxis(axes[i], rank), step = steps[i];
    if (step === 0) return ctx.fail('a step is 0');
    if (a === 0) {
      if (step === 1 && (starts[i] === 0 || starts[i] <= -OPEN_END) && ends[i] >= OPEN_END) continue;
      return { grads: [sliceByIndex(ctx), null, null, null, null] };
    }
    const { first, count } = selection(starts[i], ends[i], step, dims[a]);
    if (count === 0) return { grads: [zerosLike(ctx, x, ctx.elemType(x))] };
    let low = first, k = step;
    if (step < 0) {
      g = reverse(ctx, g, a);
      low = first + (count - 1) * step;
      k = -step;
    }
    const length = (count - 1) * k + 1;
    if (k > 1) {
      // Zero-stuff: [.., count, ..] -> [.., count, k, ..] -> [.., count*k, ..] -> first `length` elements.
      const stuffed = ctx.op('Pad', [unsqueeze(ctx, g, [a + 1]), ctx.constant(stuffPads(rank + 1, a + 1, k - 1), 'int64')], { mode: 'constant' }, 'stuffed');
      const shape = cur.map((d, j) => (j === 0 ? 0 : j === a ? count * k : d));
      g = slice(ctx, ctx.op('Reshape', [stuffed, ctx.constant(shape, 'int64')], {}, 'merged'), [0], [length], [a]);
    }
    cur[a] = length;
    padBegin[a] = low;
    padEnd[a] = dims[a] - low - length;
  }
  return { grads: [padZeros(ctx, g, [...padBegin, ...padEnd]), null, null, null, null] };
};

/** The first selected index and the count, with ONNX's normalisation and clamping of start/end. */
export function selection(start: number, end: number, step: number, size: number): { first: number; count: number } {
  let s = start < 0 ? start + size : start;
  let e = end < 0 ? end + size : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), size);
    e = Math.min(Math.max(e, 0), size);
    return { first: s, count: Math.max(0, Math.ceil((e - s) / step)) };
  }
  s = Math.min(Math.max(s, 0), size - 1);
  e = Math.min(Math.max(e, -1), size - 1);
  return { first: s, count: Math.max(0, Math.ceil((s - e) / -step)) };
}

/** dx = ScatterElements(zeros, Slice(flat positions of x), dy): exact for any slice ONNX Runtime can run. */
function sliceByIndex(ctx: GradContext): string {
  const x = ctx.input(0);
  const size = ctx.op('Size', [x], {}, 'size');
  const positions = ctx.op('Range', [ctx.constant(0, 'int64'), size, ctx.constant(1, 'int64')], {}, 'positions');
  const grid = ctx.op('Reshape', [positions, ctx.op('Shape', [x], {}, 'shape')], {}, 'grid');
  const picked = ctx.op('Slice', [grid, ...(ctx.node.input ?? []).slice(1)], {}, 'picked');
  const flat = ctx.constant([-1], 'int64');
  const zeros = filled(ctx, ctx.op('Reshape', [size, flat], {}, 'size_1d'), 0, ctx.elemType(x), 'zeros');
  const scattered = ctx.op('ScatterElements', [
    zeros, ctx.op('Reshape', [picked, flat], {}, 'picked_flat'), ctx.op('Reshape', [ctx.gradOutput(0), flat], {}, 'dy_flat'),
  ], { axis: 0 }, 'scattered');
  return reshapeLike(ctx, scattered, x);
}

/** Pads of a rank-`rank` tensor that append `n` zeros after axis `axis`. */
function stuffPads(rank: number, axis: number, n: number): number[] {
  const pads = new Array<number>(2 * rank).fill(0);
  pads[rank + axis] = n;
  return pads;
}

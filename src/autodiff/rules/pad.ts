import { attr } from '../../onnx/graph.ts';
import { TO_END, normAxis, padZeros, reduceSum, reverse, slice } from '../emit.ts';
import type { GradContext, GradRule } from '../types.ts';

/**
 * y = pad(x, pads[, constant_value][, axes from opset 18]; mode)
 *   constant:  dx = dy with the padding cut off (Slice); negative pads cropped x, so those parts get zeros (Pad).
 *   reflect:   the padded borders are mirror copies of x[1..p]: their gradients fold back onto those positions.
 *   edge:      the padded borders are copies of the edge element: their gradients sum onto it.
 * pads must be constant; reflect/edge must not pad the batch axis. wrap (opset 19) is not supported.
 */
export const pad: GradRule = (ctx) => {
  const x = ctx.input(0), dims = ctx.dims(x), rank = dims.length;
  const [begin, end] = fullPads(ctx, rank);
  const mode = attr(ctx.node, 'mode', 'string') ?? 'constant';
  const dy = ctx.gradOutput(0);
  if (mode === 'constant') {
    const axes = [...Array(rank).keys()].filter((a) => begin[a] > 0 || end[a] > 0);
    const kept = axes.length === 0 ? dy : slice(ctx, dy, axes.map((a) => Math.max(0, begin[a])), axes.map((a) => (end[a] > 0 ? -end[a] : TO_END)), axes);
    const regrow = [...begin.map((p) => Math.max(0, -p)), ...end.map((p) => Math.max(0, -p))];
    return { grads: [padZeros(ctx, kept, regrow), null, null, null] };
  }
  if (mode !== 'reflect' && mode !== 'edge') ctx.fail(`pad mode "${mode}" is not supported (constant, reflect and edge are)`);
  let g = dy;
  for (let a = 0; a < rank; a++) {
    const pb = begin[a], pe = end[a], size = dims[a];
    if (pb === 0 && pe === 0) continue;
    if (a === 0 || pb < 0 || pe < 0) ctx.fail(`${mode} padding of the batch axis or negative ${mode} pads are not supported`);
    const parts = [slice(ctx, g, [pb], [pb + size], [a])];
    const place = (t: string, before: number, after: number) => padZeros(ctx, t, axisPads(rank, a, before, after));
    if (mode === 'reflect') {
      // Output j < pb copies x[pb - j]; output pb + size + j copies x[size - 2 - j].
      if (pb > 0) parts.push(place(reverse(ctx, slice(ctx, g, [0], [pb], [a]), a), 1, size - 1 - pb));
      if (pe > 0) parts.push(place(reverse(ctx, slice(ctx, g, [pb + size], [pb + size + pe], [a]), a), size - 1 - pe, 1));
    } else {
      if (pb > 0) parts.push(place(reduceSum(ctx, slice(ctx, g, [0], [pb], [a]), [a], true), 0, size - 1));
      if (pe > 0) parts.push(place(reduceSum(ctx, slice(ctx, g, [pb + size], [pb + size + pe], [a]), [a], true), size - 1, 0));
    }
    g = parts.length === 1 ? parts[0] : ctx.op('Sum', parts, {}, 'folded');
  }
  return { grads: [g, null, null, null] };
};

/** Begin and end pads for every axis (the optional axes input, opset 18, lists which axes `pads` covers). */
function fullPads(ctx: GradContext, rank: number): [number[], number[]] {
  const pads = ctx.input(1)
    ? ctx.constantValues(ctx.input(1)) ?? ctx.fail('its pads input is computed at run time; heatgate needs constant pads')
    : attr(ctx.node, 'pads', 'ints') ?? ctx.fail('pads are missing');
  const axes = ctx.input(3)
    ? (ctx.constantValues(ctx.input(3)) ?? ctx.fail('its axes input is computed at run time; heatgate needs constant axes')).map((a) => normAxis(a, rank))
    : [...Array(rank).keys()];
  const begin = new Array<number>(rank).fill(0), end = new Array<number>(rank).fill(0);
  axes.forEach((a, i) => {
    begin[a] = pads[i];
    end[a] = pads[i + axes.length];
  });
  return [begin, end];
}

function axisPads(rank: number, axis: number, before: number, after: number): number[] {
  const pads = new Array<number>(2 * rank).fill(0);
  pads[axis] = before;
  pads[rank + axis] = after;
  return pads;
}

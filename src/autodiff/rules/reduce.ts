import { attr } from '../../onnx/graph.ts';
import { DataType } from '../../onnx/proto.ts';
import { normAxis, unsqueeze } from '../emit.ts';
import type { GradContext, GradRule } from '../types.ts';

/**
 * The reduced axes, sorted; null when the node is the identity (empty axes with noop_with_empty_axes = 1).
 * `axes` is an attribute before the op's input version (ReduceSum 13, ReduceMean 18) and an input from it.
 */
function reducedAxes(ctx: GradContext): number[] | null {
  const rank = ctx.dims(ctx.input(0)).length;
  let axes = attr(ctx.node, 'axes', 'ints');
  if (ctx.input(1)) axes = ctx.constantValues(ctx.input(1)) ?? ctx.fail('its axes input is computed at run time; heatgate needs constant axes');
  if (!axes || axes.length === 0) {
    if (attr(ctx.node, 'noop_with_empty_axes', 'int')) return null;
    return Array.from({ length: rank }, (_, i) => i);
  }
  return axes.map((a) => normAxis(a, rank)).sort((a, b) => a - b);
}

/** dy with the reduced axes put back (keepdims = 0), and its dims: x's with 1 on the reduced axes (expandFrom). */
function spread(ctx: GradContext, axes: number[]): { dy: string; dims: number[] } {
  const keep = attr(ctx.node, 'keepdims', 'int') ?? 1;
  const dy = keep ? ctx.gradOutput(0) : unsqueeze(ctx, ctx.gradOutput(0), axes);
  return { dy, dims: ctx.dims(ctx.input(0)).map((d, a) => (axes.includes(a) ? 1 : d)) };
}

/** y = sum(x, axes)  =>  dx = dy broadcast over the reduced axes (the driver expands it where needed). */
export const reduceSumRule: GradRule = (ctx) => {
  const axes = reducedAxes(ctx);
  if (!axes) return { grads: [ctx.gradOutput(0), null] };
  const { dy, dims } = spread(ctx, axes);
  return { grads: [dy, null], expandFrom: [dims, null] };
};

/** y = mean(x, axes)  =>  dx = dy / count broadcast over the reduced axes; count comes from Size when the batch axis is reduced. */
export const reduceMeanRule: GradRule = (ctx) => {
  const axes = reducedAxes(ctx);
  if (!axes) return { grads: [ctx.gradOutput(0), null] };
  const x = ctx.input(0), dims = ctx.dims(x);
  let count: string;
  if (axes.includes(0)) {
    const type = ctx.elemType(x) === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
    const size = (t: string, label: string) => ctx.op('Cast', [ctx.op('Size', [t], {}, `${label}_size`)], { to: type }, label);
    count = ctx.op('Div', [size(x, 'x_count'), size(ctx.output(0), 'y_count')], {}, 'count');
  } else {
    count = ctx.constant(axes.reduce((p, a) => p * dims[a], 1));
  }
  const spreadDy = spread(ctx, axes);
  return { grads: [ctx.op('Div', [spreadDy.dy, count], {}, 'dx'), null], expandFrom: [spreadDy.dims, null] };
};

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

/** dy with the reduced axes put back (keepdims = 0) and expanded to x's shape. */
function spread(ctx: GradContext, axes: number[]): string {
  const keep = attr(ctx.node, 'keepdims', 'int') ?? 1;
  const dy = keep ? ctx.gradOutput(0) : unsqueeze(ctx, ctx.gradOutput(0), axes);
  return ctx.op('Expand', [dy, ctx.op('Shape', [ctx.input(0)], {}, 'shape')], {}, 'spread');
}

/** y = sum(x, axes)  =>  dx = Expand(dy, Shape(x)). */
export const reduceSumRule: GradRule = (ctx) => {
  const axes = reducedAxes(ctx);
  return { grads: [axes ? spread(ctx, axes) : ctx.gradOutput(0), null] };
};

/** y = mean(x, axes)  =>  dx = Expand(dy, Shape(x)) / count; count comes from Size when the batch axis is reduced. */
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
  return { grads: [ctx.op('Div', [spread(ctx, axes), count], {}, 'dx'), null] };
};

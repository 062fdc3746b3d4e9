import { attr } from '../../onnx/graph.ts';
import { normAxis, reduceSum } from '../emit.ts';
import type { GradContext, GradRule } from '../types.ts';

/**
 * The axes one softmax normalises over. Before opset 13 the input is coerced to 2-D at `axis` (default 1), so the
 * softmax runs over all axes from `axis` on; from 13 it runs over the single `axis` (default -1).
 */
function softmaxAxes(ctx: GradContext): number[] {
  const rank = ctx.dims(ctx.input(0)).length;
  const axis = normAxis(attr(ctx.node, 'axis', 'int') ?? (ctx.opset < 13 ? 1 : -1), rank);
  return ctx.opset < 13 ? Array.from({ length: rank - axis }, (_, i) => axis + i) : [axis];
}

/** y = softmax(x)  =>  dx = y * (dy - sum(dy * y)) over the softmax axes. */
export const softmax: GradRule = (ctx) => {
  const y = ctx.output(0), dy = ctx.gradOutput(0);
  const dot = reduceSum(ctx, ctx.op('Mul', [dy, y], {}, 'dy_y'), softmaxAxes(ctx), true);
  return { grads: [ctx.op('Mul', [y, ctx.op('Sub', [dy, dot], {}, 'centered')], {}, 'dx')] };
};

/** y = x - log(sum(exp(x)))  =>  dx = dy - exp(y) * sum(dy) over the softmax axes. */
export const logSoftmax: GradRule = (ctx) => {
  const dy = ctx.gradOutput(0);
  const total = reduceSum(ctx, dy, softmaxAxes(ctx), true);
  const share = ctx.op('Mul', [ctx.op('Exp', [ctx.output(0)], {}, 'probs'), total], {}, 'share');
  return { grads: [ctx.op('Sub', [dy, share], {}, 'dx')] };
};

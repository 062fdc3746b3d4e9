import { reshapeLike } from '../emit.ts';
import type { GradRule } from '../types.ts';

/**
 * y[n,c] = mean(x[n,c,...])  =>  dx = dy / (H*W...) at every position; the spatial size is static. dx is returned as
 * [N, C, 1, ...] (expandFrom): the driver expands it only where the full tensor is needed.
 */
export const globalAveragePool: GradRule = (ctx) => {
  const x = ctx.input(0);
  const count = ctx.dims(x).slice(2).reduce((p, q) => p * q, 1);
  return { grads: [ctx.op('Div', [ctx.gradOutput(0), ctx.constant(count)], {}, 'dx')], expandFrom: [ctx.dims(ctx.output(0))] };
};

/**
 * y[n,c] = max(x[n,c,...])  =>  dy goes to the arg max of each plane.
 * Ties: the first maximal element in row-major order (ArgMax's default), so exactly one input receives dy.
 */
export const globalMaxPool: GradRule = (ctx) => {
  const x = ctx.input(0);
  const size = ctx.dims(x).slice(2).reduce((p, q) => p * q, 1);
  const flat = ctx.op('Reshape', [x, ctx.constant([0, 0, -1], 'int64')], {}, 'flat');
  const argmax = ctx.op('ArgMax', [flat], { axis: 2, keepdims: 1 }, 'argmax');
  const chosen = ctx.op('Equal', [argmax, ctx.constant(Array.from({ length: size }, (_, i) => i), 'int64')], {}, 'chosen');
  const dy = ctx.op('Reshape', [ctx.gradOutput(0), ctx.constant([0, 0, 1], 'int64')], {}, 'dy_flat');
  const routed = ctx.op('Where', [chosen, dy, ctx.constant(0)], {}, 'routed');
  return { grads: [reshapeLike(ctx, routed, x)] };
};

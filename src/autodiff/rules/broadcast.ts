import type { GradRule } from '../types.ts';

/** y = expand(x, shape) (numpy broadcast)  =>  dx = dy summed over the broadcast axes (by the driver). */
export const expand: GradRule = (ctx) => ({ grads: [ctx.gradOutput(0), null], broadcastFrom: [ctx.dims(ctx.output(0)), null] });

/** y = cond ? a : b (broadcasting)  =>  da = cond ? dy : 0, db = cond ? 0 : dy; cond carries none. */
export const where: GradRule = (ctx) => {
  const cond = ctx.input(0), dy = ctx.gradOutput(0), zero = ctx.constant(0), dims = ctx.dims(ctx.output(0));
  return {
    grads: [
      null,
      ctx.needsGrad(1) ? ctx.op('Where', [cond, dy, zero], {}, 'da') : null,
      ctx.needsGrad(2) ? ctx.op('Where', [cond, zero, dy], {}, 'db') : null,
    ],
    broadcastFrom: [null, dims, dims],
  };
};

import type { GradRule } from '../types.ts';

/**
 * Reshape, Flatten, Squeeze, Unsqueeze only regroup elements  =>  dx = Reshape(dy, x's shape). Only the batch axis
 * varies, so the shape is the constant [-1, dims...] and x's Shape need not be read at run time.
 */
export const reshapeBack: GradRule = (ctx) => {
  const x = ctx.input(0), dims = ctx.dims(x);
  const shape = dims.length > 0 && dims.slice(1).every((d) => d > 0) ? ctx.constant([-1, ...dims.slice(1)], 'int64') : ctx.op('Shape', [x], {}, 'shape');
  return { grads: [ctx.op('Reshape', [ctx.gradOutput(0), shape], {}, 'reshaped'), null] };
};

import { reshapeLike } from '../emit.ts';
import type { GradRule } from '../types.ts';

/** Reshape, Flatten, Squeeze, Unsqueeze only regroup elements  =>  dx = Reshape(dy, Shape(x)). */
export const reshapeBack: GradRule = (ctx) => ({ grads: [reshapeLike(ctx, ctx.gradOutput(0), ctx.input(0)), null] });

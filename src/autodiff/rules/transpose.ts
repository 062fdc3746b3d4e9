import { attr } from '../../onnx/graph.ts';
import type { GradRule } from '../types.ts';

/** y = transpose(x, perm)  =>  dx = transpose(dy, inverse(perm)); perm defaults to reversing the axes. */
export const transpose: GradRule = (ctx) => {
  const rank = ctx.dims(ctx.input(0)).length;
  const perm = attr(ctx.node, 'perm', 'ints') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  const inverse = new Array<number>(rank);
  perm.forEach((p, i) => (inverse[p] = i));
  return { grads: [ctx.op('Transpose', [ctx.gradOutput(0)], { perm: inverse }, 'dx')] };
};

import { attr } from '../../onnx/graph.ts';
import type { GradRule } from '../types.ts';

/**
 * (y_0, ..., y_k) = split(x, axis)  =>  dx = concat(dy_0, ..., dy_k, axis); outputs that receive no gradient
 * contribute zeros. The split sizes (attribute, input from opset 13, or num_outputs from 18) need not be known.
 */
export const split: GradRule = (ctx) => {
  const parts = (ctx.node.output ?? []).map((_, i) => ctx.gradOutput(i));
  return { grads: [ctx.op('Concat', parts, { axis: attr(ctx.node, 'axis', 'int') ?? 0 }, 'dx'), null] };
};

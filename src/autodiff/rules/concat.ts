import { attr } from '../../onnx/graph.ts';
import { normAxis, slice } from '../emit.ts';
import type { GradRule } from '../types.ts';

/**
 * y = concat(x_0, x_1, ..., axis)  =>  dx_i = dy[offset_i : offset_i + size_i] along axis.
 * Static offsets, except along the batch axis (0), where they come from Shape.
 */
export const concat: GradRule = (ctx) => {
  const inputs = (ctx.node.input ?? []).map((_, i) => ctx.input(i));
  const rank = ctx.dims(inputs[0]).length;
  const axis = normAxis(attr(ctx.node, 'axis', 'int') ?? ctx.fail('axis is missing'), rank);
  const dy = ctx.gradOutput(0);
  if (axis !== 0) {
    let offset = 0;
    return {
      grads: inputs.map((x, i) => {
        const start = offset;
        offset += ctx.dims(x)[axis];
        return ctx.needsGrad(i) ? slice(ctx, dy, [start], [offset], [axis]) : null;
      }),
    };
  }
  const axes = ctx.constant([0], 'int64');
  let start = ctx.constant([0], 'int64');
  return {
    grads: inputs.map((x, i) => {
      const size = ctx.op('Slice', [ctx.op('Shape', [x], {}, 'shape'), ctx.constant([0], 'int64'), ctx.constant([1], 'int64')], {}, 'size');
      const end = ctx.op('Add', [start, size], {}, 'end');
      const grad = ctx.needsGrad(i) ? ctx.op('Slice', [dy, start, end, axes], {}, 'dx') : null;
      start = end;
      return grad;
    }),
  };
};

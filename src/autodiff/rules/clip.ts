import type { GradRule } from '../types.ts';

/**
 * y = min(max(x, lo), hi) (lo, hi optional inputs from opset 11)  =>  dx = dy * [lo < y < hi] (= [lo < x < hi]).
 * Kink: 0 at x == lo and x == hi (as Relu'(0) = 0 and PyTorch's hardtanh). lo and hi are treated as constants.
 * Reading y rather than x keeps Conv+Clip fusable.
 */
export const clip: GradRule = (ctx) => {
  const x = ctx.output(0), lo = ctx.input(1), hi = ctx.input(2), dy = ctx.gradOutput(0);
  const masks: string[] = [];
  if (lo) masks.push(ctx.op('Greater', [x, lo], {}, 'above_min'));
  if (hi) masks.push(ctx.op('Less', [x, hi], {}, 'below_max'));
  if (masks.length === 0) return { grads: [dy] };
  const inside = masks.length === 2 ? ctx.op('And', masks, {}, 'inside') : masks[0];
  return { grads: [ctx.op('Where', [inside, dy, ctx.constant(0)], {}, 'dx'), null, null] };
};

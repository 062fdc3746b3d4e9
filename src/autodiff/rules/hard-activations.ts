import { attr } from '../../onnx/graph.ts';
import type { GradRule } from '../types.ts';

/** y = max(0, min(1, alpha*x + beta))  =>  dx = dy * alpha * [0 < alpha*x + beta < 1].  Kink: 0 at both breakpoints. */
export const hardSigmoid: GradRule = (ctx) => {
  const alpha = attr(ctx.node, 'alpha', 'float') ?? 0.2;
  const zero = ctx.constant(0);
  // Test the forward output itself, so the breakpoints land exactly where the kernel clipped.
  const t = ctx.output(0);
  const inside = ctx.op('And', [ctx.op('Greater', [t, zero], {}, 'above'), ctx.op('Less', [t, ctx.constant(1)], {}, 'below')], {}, 'inside');
  return { grads: [ctx.op('Where', [inside, ctx.op('Mul', [ctx.gradOutput(0), ctx.constant(alpha)], {}, 'scaled'), zero], {}, 'dx')] };
};

/**
 * y = x * max(0, min(1, x/6 + 1/2))  =>  dy/dx = 0 for x < -3, x/3 + 1/2 for -3 <= x <= 3, 1 for x > 3.
 * Kinks as PyTorch's hardswish_backward: -1/2 at x = -3 and 3/2 at x = 3.
 */
export const hardSwish: GradRule = (ctx) => {
  const x = ctx.input(0);
  const ramp = ctx.op('Add', [ctx.op('Div', [x, ctx.constant(3)], {}, 'third'), ctx.constant(0.5)], {}, 'ramp');
  const upper = ctx.op('Where', [ctx.op('Greater', [x, ctx.constant(3)], {}, 'above'), ctx.constant(1), ramp], {}, 'upper');
  const slope = ctx.op('Where', [ctx.op('Less', [x, ctx.constant(-3)], {}, 'below'), ctx.constant(0), upper], {}, 'slope');
  return { grads: [ctx.op('Mul', [ctx.gradOutput(0), slope], {}, 'dx')] };
};

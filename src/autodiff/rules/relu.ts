import { attr } from '../../onnx/graph.ts';
import type { GradRule } from '../types.ts';

/**
 * y = max(x, 0)  =>  dx = dy * [y > 0] (= [x > 0]).  Kink: Relu'(0) = 0. Reading y rather than x lets ONNX Runtime
 * keep fusing the producer of x with the Relu.
 */
export const relu: GradRule = (ctx) => {
  const zero = ctx.constant(0);
  const positive = ctx.op('Greater', [ctx.output(0), zero], {}, 'positive');
  return { grads: [ctx.op('Where', [positive, ctx.gradOutput(0), zero], {}, 'dx')] };
};

/** y = x > 0 ? x : alpha*x  =>  dx = dy * (x > 0 ? 1 : alpha).  Kink: slope alpha at 0. */
export const leakyRelu: GradRule = (ctx) => {
  const alpha = attr(ctx.node, 'alpha', 'float') ?? 0.01;
  const dy = ctx.gradOutput(0);
  const positive = ctx.op('Greater', [ctx.input(0), ctx.constant(0)], {}, 'positive');
  return { grads: [ctx.op('Where', [positive, dy, ctx.op('Mul', [dy, ctx.constant(alpha)], {}, 'scaled')], {}, 'dx')] };
};

/**
 * y = x > 0 ? x : slope*x (slope broadcasts to x)  =>  dx = dy * (x > 0 ? 1 : slope), dslope = dy * (x > 0 ? 0 : x).
 * Kink: slope at 0.
 */
export const prelu: GradRule = (ctx) => {
  const x = ctx.input(0), slope = ctx.input(1), dy = ctx.gradOutput(0), zero = ctx.constant(0);
  const positive = ctx.op('Greater', [x, zero], {}, 'positive');
  const dx = ctx.needsGrad(0) ? ctx.op('Where', [positive, dy, ctx.op('Mul', [dy, slope], {}, 'scaled')], {}, 'dx') : null;
  const dslope = ctx.needsGrad(1) ? ctx.op('Where', [positive, zero, ctx.op('Mul', [dy, x], {}, 'dy_x')], {}, 'dslope') : null;
  return { grads: [dx, dslope], broadcastFrom: [null, ctx.dims(ctx.output(0))] };
};

import type { GradContext, GradRule } from '../types.ts';

/** Binary ops broadcast (numpy rules): both gradients come in the output's shape and the driver sums them down. */
const inOutputShape = (ctx: GradContext) => {
  const dims = ctx.dims(ctx.output(0));
  return [dims, dims];
};

/** y = a + b  =>  da = dy, db = dy. */
export const add: GradRule = (ctx) => {
  const dy = ctx.gradOutput(0);
  return { grads: [dy, dy], broadcastFrom: inOutputShape(ctx) };
};

/** y = a - b  =>  da = dy, db = -dy. */
export const sub: GradRule = (ctx) => {
  const dy = ctx.gradOutput(0);
  return { grads: [dy, ctx.needsGrad(1) ? ctx.op('Neg', [dy], {}, 'db') : null], broadcastFrom: inOutputShape(ctx) };
};

/** y = a * b  =>  da = dy * b, db = dy * a. */
export const mul: GradRule = (ctx) => {
  const a = ctx.input(0), b = ctx.input(1), dy = ctx.gradOutput(0);
  return {
    grads: [ctx.needsGrad(0) ? ctx.op('Mul', [dy, b], {}, 'da') : null, ctx.needsGrad(1) ? ctx.op('Mul', [dy, a], {}, 'db') : null],
    broadcastFrom: inOutputShape(ctx),
  };
};

/** y = a / b  =>  da = dy / b, db = -dy * a / b^2 = -dy * y / b. */
export const div: GradRule = (ctx) => {
  const b = ctx.input(1), dy = ctx.gradOutput(0);
  const db = ctx.needsGrad(1) ? ctx.op('Neg', [ctx.op('Div', [ctx.op('Mul', [dy, ctx.output(0)], {}, 'dy_y'), b], {}, 'dy_y_b')], {}, 'db') : null;
  return { grads: [ctx.needsGrad(0) ? ctx.op('Div', [dy, b], {}, 'da') : null, db], broadcastFrom: inOutputShape(ctx) };
};

/**
 * y = x^p with p not depending on the target activation  =>  dx = dy * p * x^(p-1).
 * p may be an integer tensor (opset 12+), so it is cast to x's type first. A gradient for p is not provided.
 */
export const pow: GradRule = (ctx) => {
  const x = ctx.input(0), p = ctx.input(1), type = ctx.elemType(x);
  const pf = ctx.elemType(p) === type ? p : ctx.op('Cast', [p], { to: type }, 'p');
  const slope = ctx.op('Mul', [pf, ctx.op('Pow', [x, ctx.op('Sub', [pf, ctx.constant(1)], {}, 'p_minus_1')], {}, 'x_pow')], {}, 'slope');
  return { grads: [ctx.op('Mul', [ctx.gradOutput(0), slope], {}, 'dx'), null], broadcastFrom: inOutputShape(ctx) };
};

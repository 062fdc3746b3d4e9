import { attr } from '../../onnx/graph.ts';
import type { GradRule } from '../types.ts';

/** y = 1/(1 + e^-x)  =>  dx = dy * y * (1 - y). */
export const sigmoid: GradRule = (ctx) => {
  const y = ctx.output(0);
  const slope = ctx.op('Mul', [y, ctx.op('Sub', [ctx.constant(1), y], {}, 'one_minus_y')], {}, 'slope');
  return { grads: [ctx.op('Mul', [ctx.gradOutput(0), slope], {}, 'dx')] };
};

/** y = tanh(x)  =>  dx = dy * (1 - y^2). */
export const tanh: GradRule = (ctx) => {
  const y = ctx.output(0);
  const slope = ctx.op('Sub', [ctx.constant(1), ctx.op('Mul', [y, y], {}, 'y2')], {}, 'slope');
  return { grads: [ctx.op('Mul', [ctx.gradOutput(0), slope], {}, 'dx')] };
};

/** y = erf(x)  =>  dx = dy * 2/sqrt(pi) * exp(-x^2). */
export const erf: GradRule = (ctx) => {
  const x = ctx.input(0);
  const gauss = ctx.op('Exp', [ctx.op('Neg', [ctx.op('Mul', [x, x], {}, 'x2')], {}, 'neg_x2')], {}, 'gauss');
  const slope = ctx.op('Mul', [gauss, ctx.constant(2 / Math.sqrt(Math.PI))], {}, 'slope');
  return { grads: [ctx.op('Mul', [ctx.gradOutput(0), slope], {}, 'dx')] };
};

/** y = sqrt(x)  =>  dx = dy / (2y).  At x = 0 the gradient is +inf (no convention makes it finite). */
export const sqrt: GradRule = (ctx) => {
  const half = ctx.op('Mul', [ctx.gradOutput(0), ctx.constant(0.5)], {}, 'half');
  return { grads: [ctx.op('Div', [half, ctx.output(0)], {}, 'dx')] };
};

/** y = e^x  =>  dx = dy * y. */
export const exp: GradRule = (ctx) => ({ grads: [ctx.op('Mul', [ctx.gradOutput(0), ctx.output(0)], {}, 'dx')] });

/** y = ln(x)  =>  dx = dy / x. */
export const log: GradRule = (ctx) => ({ grads: [ctx.op('Div', [ctx.gradOutput(0), ctx.input(0)], {}, 'dx')] });

/** y = 1/x  =>  dx = -dy * y^2. */
export const reciprocal: GradRule = (ctx) => {
  const y = ctx.output(0);
  return { grads: [ctx.op('Neg', [ctx.op('Mul', [ctx.gradOutput(0), ctx.op('Mul', [y, y], {}, 'y2')], {}, 'dy_y2')], {}, 'dx')] };
};

/** y = -x  =>  dx = -dy. */
export const neg: GradRule = (ctx) => ({ grads: [ctx.op('Neg', [ctx.gradOutput(0)], {}, 'dx')] });

/**
 * Gelu (opset 20). approximate = "none": y = x * Phi(x)  =>  dx = dy * (Phi(x) + x * phi(x)).
 * approximate = "tanh": y = x/2 * (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
 *   =>  dx = dy * ((1 + tanh(u))/2 + x/2 * (1 - tanh(u)^2) * sqrt(2/pi) (1 + 3 * 0.044715 x^2)).
 */
export const gelu: GradRule = (ctx) => {
  const x = ctx.input(0), c = (v: number) => ctx.constant(v);
  const x2 = ctx.op('Mul', [x, x], {}, 'x2');
  let slope: string;
  if ((attr(ctx.node, 'approximate', 'string') ?? 'none') === 'tanh') {
    const k = Math.sqrt(2 / Math.PI);
    const u = ctx.op('Mul', [ctx.op('Add', [x, ctx.op('Mul', [x, ctx.op('Mul', [x2, c(0.044715)], {}, 'a_x2')], {}, 'a_x3')], {}, 'inner'), c(k)], {}, 'u');
    const t = ctx.op('Tanh', [u], {}, 't');
    const half = ctx.op('Mul', [ctx.op('Add', [t, c(1)], {}, 'one_plus_t'), c(0.5)], {}, 'half');
    const du = ctx.op('Mul', [ctx.op('Add', [ctx.op('Mul', [x2, c(3 * 0.044715)], {}, 'b_x2'), c(1)], {}, 'du_raw'), c(k)], {}, 'du');
    const sech2 = ctx.op('Sub', [c(1), ctx.op('Mul', [t, t], {}, 't2')], {}, 'sech2');
    slope = ctx.op('Add', [half, ctx.op('Mul', [ctx.op('Mul', [x, c(0.5)], {}, 'half_x'), ctx.op('Mul', [sech2, du], {}, 'sech2_du')], {}, 'second')], {}, 'slope');
  } else {
    const cdf = ctx.op('Mul', [ctx.op('Add', [ctx.op('Erf', [ctx.op('Mul', [x, c(Math.SQRT1_2)], {}, 'scaled')], {}, 'erf'), c(1)], {}, 'erf1'), c(0.5)], {}, 'cdf');
    const pdf = ctx.op('Mul', [ctx.op('Exp', [ctx.op('Mul', [x2, c(-0.5)], {}, 'neg_half_x2')], {}, 'gauss'), c(1 / Math.sqrt(2 * Math.PI))], {}, 'pdf');
    slope = ctx.op('Add', [cdf, ctx.op('Mul', [x, pdf], {}, 'x_pdf')], {}, 'slope');
  }
  return { grads: [ctx.op('Mul', [ctx.gradOutput(0), slope], {}, 'dx')] };
};

import { attr } from '../../onnx/graph.ts';
import type { GradContext, GradRule } from '../types.ts';
import { convInputGradient } from './conv.ts';
import { gemm } from './gemm.ts';

/**
 * ONNX Runtime's com.microsoft fused ops, as found in models saved after ORT's graph optimisations:
 * y = act(op(...) [+ Z]). The activation's slope is read from y (every supported activation is monotone, so
 * y determines which piece it is on), with the same kink conventions as the standalone rules.
 */
function activationSlope(ctx: GradContext): string | null {
  const y = ctx.output(0), activation = attr(ctx.node, 'activation', 'string') ?? '';
  // FusedConv carries the activation's parameters as activation_params; FusedGemm as activation_<name> attributes.
  const params = attr(ctx.node, 'activation_params', 'floats') ??
    [attr(ctx.node, 'activation_alpha', 'float'), attr(ctx.node, 'activation_beta', 'float')].filter((v) => v !== undefined);
  const zero = ctx.constant(0), one = ctx.constant(1);
  const between = (lo: string, hi: string) =>
    ctx.op('And', [ctx.op('Greater', [y, lo], {}, 'above'), ctx.op('Less', [y, hi], {}, 'below')], {}, 'inside');
  switch (activation) {
    case '':
      return null;
    case 'Relu':
      return ctx.op('Where', [ctx.op('Greater', [y, zero], {}, 'positive'), one, zero], {}, 'slope');
    case 'LeakyRelu':
      return ctx.op('Where', [ctx.op('Greater', [y, zero], {}, 'positive'), one, ctx.constant(params[0] ?? 0.01)], {}, 'slope');
    case 'Sigmoid':
      return ctx.op('Mul', [y, ctx.op('Sub', [one, y], {}, 'one_minus_y')], {}, 'slope');
    case 'Tanh':
      return ctx.op('Sub', [one, ctx.op('Mul', [y, y], {}, 'y2')], {}, 'slope');
    case 'Clip':
      return ctx.op('Where', [between(ctx.constant(params[0] ?? -3.4e38), ctx.constant(params[1] ?? 3.4e38)), one, zero], {}, 'slope');
    case 'HardSigmoid':
      return ctx.op('Where', [between(zero, one), ctx.constant(params[0] ?? 0.2), zero], {}, 'slope');
    default:
      return ctx.fail(`fused activation "${activation}" is not supported (Relu, LeakyRelu, Sigmoid, Tanh, Clip, HardSigmoid are)`);
  }
}

/** dy through the fused activation: dt = dy * act'(t). */
function preActivation(ctx: GradContext): string {
  const slope = activationSlope(ctx);
  return slope ? ctx.op('Mul', [ctx.gradOutput(0), slope], {}, 'dt') : ctx.gradOutput(0);
}

/** com.microsoft FusedConv: y = act(conv(x, W) + B [+ Z])  =>  dt = dy * act'; dx = conv_transpose(dt, W), dZ = dt. */
export const fusedConv: GradRule = (ctx) => {
  const dt = preActivation(ctx);
  return { grads: [convInputGradient(ctx, dt), null, null, ctx.needsGrad(3) ? dt : null] };
};

/** com.microsoft FusedGemm: y = act(alpha A'B' + beta C)  =>  dt = dy * act', then Gemm's rule on dt. */
export const fusedGemm: GradRule = (ctx) => {
  const slope = activationSlope(ctx);
  if (!slope) return gemm(ctx); // no activation: dy as it comes, one-hot seed included
  const dt = ctx.op('Mul', [ctx.gradOutput(0), slope], {}, 'dt');
  return gemm({ ...ctx, gradOutput: () => dt, gradOutputClasses: () => undefined });
};

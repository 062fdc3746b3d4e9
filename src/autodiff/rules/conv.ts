import { attr } from '../../onnx/graph.ts';
import type { GradContext, GradRule } from '../types.ts';
import { transposeAttributes, windowOf } from './window.ts';

/**
 * y = conv(x, W) (groups, strides, dilations, pads/auto_pad)  =>  dx = conv_transpose(dy, W) with the same groups,
 * strides and dilations: W's layout [M, C/group, k...] is already ConvTranspose's [C_in, C_out/group, k...]. Pads and
 * output_padding are chosen so dx has exactly x's spatial size. Gradients for W and the bias are not provided.
 */
export const conv: GradRule = (ctx) => ({ grads: [convInputGradient(ctx, ctx.gradOutput(0)), null, null] });

/** dx of a Conv-like node (x, W inputs and Conv attributes) for the gradient `dy` of its pre-activation output. */
export function convInputGradient(ctx: GradContext, dy: string): string {
  const w = ctx.input(1);
  const kernel = attr(ctx.node, 'kernel_shape', 'ints') ?? ctx.dims(w).slice(2);
  const group = attr(ctx.node, 'group', 'int') ?? 1;
  const attrs = transposeAttributes(windowOf(ctx, kernel));
  return ctx.op('ConvTranspose', [dy, w], { ...attrs, group }, 'dx');
}

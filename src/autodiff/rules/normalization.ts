import { attr } from '../../onnx/graph.ts';
import { normAxis, reduceMean } from '../emit.ts';
import type { GradRule } from '../types.ts';

/**
 * Inference BatchNormalization: y = scale * (x - mean) / sqrt(var + eps) + B per channel (axis 1)
 *   =>  dx = dy * scale / sqrt(var + eps). Training mode (batch statistics) is refused.
 */
export const batchNormalization: GradRule = (ctx) => {
  if (attr(ctx.node, 'training_mode', 'int')) ctx.fail('training_mode = 1 normalises with batch statistics; export the model in eval mode');
  const [, scale, , , variance] = [0, 1, 2, 3, 4].map((i) => ctx.input(i));
  const eps = attr(ctx.node, 'epsilon', 'float') ?? 1e-5;
  const rank = ctx.dims(ctx.input(0)).length;
  const std = ctx.op('Sqrt', [ctx.op('Add', [variance, ctx.constant(eps)], {}, 'var_eps')], {}, 'std');
  const factor = ctx.op('Div', [scale, std], {}, 'factor');
  // [C] -> [C, 1, ...] so it broadcasts over the spatial axes of [N, C, ...].
  const perChannel = ctx.op('Reshape', [factor, ctx.constant([-1, ...new Array<number>(Math.max(0, rank - 2)).fill(1)], 'int64')], {}, 'per_channel');
  return { grads: [ctx.op('Mul', [ctx.gradOutput(0), perChannel], {}, 'dx'), null, null, null, null] };
};

/**
 * LayerNormalization (opset 17): y = xh * scale + B, xh = (x - mu) * r, r = 1/sqrt(var + eps), over axes [axis, rank)
 *   =>  with g = dy * scale: dx = r * (g - mean(g) - xh * mean(g * xh)). mu and r are recomputed (the optional
 * Mean/InvStdDev outputs may be absent).
 */
export const layerNormalization: GradRule = (ctx) => {
  const x = ctx.input(0), rank = ctx.dims(x).length;
  const axis = normAxis(attr(ctx.node, 'axis', 'int') ?? -1, rank);
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const eps = attr(ctx.node, 'epsilon', 'float') ?? 1e-5;
  const centered = ctx.op('Sub', [x, reduceMean(ctx, x, axes, true)], {}, 'centered');
  const variance = reduceMean(ctx, ctx.op('Mul', [centered, centered], {}, 'squared'), axes, true);
  const r = ctx.op('Reciprocal', [ctx.op('Sqrt', [ctx.op('Add', [variance, ctx.constant(eps)], {}, 'var_eps')], {}, 'std')], {}, 'inv_std');
  const xh = ctx.op('Mul', [centered, r], {}, 'xhat');
  const g = ctx.op('Mul', [ctx.gradOutput(0), ctx.input(1)], {}, 'g');
  const gMean = reduceMean(ctx, g, axes, true);
  const gxMean = reduceMean(ctx, ctx.op('Mul', [g, xh], {}, 'g_xhat'), axes, true);
  const inner = ctx.op('Sub', [ctx.op('Sub', [g, gMean], {}, 'g_centered'), ctx.op('Mul', [xh, gxMean], {}, 'xhat_term')], {}, 'inner');
  return { grads: [ctx.op('Mul', [r, inner], {}, 'dx'), null, null] };
};

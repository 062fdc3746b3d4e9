import { attr } from '../../onnx/graph.ts';
import type { GradContext, GradRule } from '../types.ts';

/**
 * LRN across channels: y = x / d^β, d = bias + α/size · Σ_{c' ∈ W(c)} x[c']², W(c) = [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉]
 *   =>  dx = dy · d^−β − (2αβ/size) · x · Σ_{c : c' ∈ W(c)} (dy · y / d)[c]
 * The channel window is a constant 0/1 matrix M [C, C] (M[c][c'] = 1 when c' ∈ W(c)), applied channels-last by MatMul.
 */
export const lrn: GradRule = (ctx) => {
  const x = ctx.input(0), y = ctx.output(0), dy = ctx.gradOutput(0);
  const rank = ctx.dims(x).length;
  const channels = ctx.dims(x)[1];
  const size = attr(ctx.node, 'size', 'int') ?? ctx.fail('size is missing');
  const alpha = attr(ctx.node, 'alpha', 'float') ?? 1e-4;
  const beta = attr(ctx.node, 'beta', 'float') ?? 0.75;
  const bias = attr(ctx.node, 'bias', 'float') ?? 1;
  const below = Math.floor((size - 1) / 2), above = Math.ceil((size - 1) / 2);
  const window = Array.from({ length: channels * channels }, (_, k) => {
    const c = Math.floor(k / channels), other = k % channels;
    return other >= c - below && other <= c + above ? 1 : 0;
  });
  const toLast = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
  const toFirst = [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, i) => i + 1)];
  /** Σ over the channel window (matrix M applied as z · Mᵀ channels-last) or its adjoint (z · M). */
  const acrossChannels = (z: string, adjoint: boolean, label: string) => {
    const matrix = adjoint ? window : Array.from({ length: channels * channels }, (_, k) => window[(k % channels) * channels + Math.floor(k / channels)]);
    const last = ctx.op('Transpose', [z], { perm: toLast }, `${label}_last`);
    const mixed = ctx.op('MatMul', [last, ctx.constant(matrix, 'float', [channels, channels])], {}, label);
    return ctx.op('Transpose', [mixed], { perm: toFirst }, `${label}_first`);
  };
  const squares = ctx.op('Mul', [x, x], {}, 'squares');
  const d = ctx.op('Add', [ctx.constant(bias), ctx.op('Mul', [acrossChannels(squares, false, 'window'), ctx.constant(alpha / size)], {}, 'scaled')], {}, 'd');
  const direct = ctx.op('Mul', [dy, ctx.op('Pow', [d, ctx.constant(-beta)], {}, 'd_pow')], {}, 'direct');
  const shares = ctx.op('Div', [ctx.op('Mul', [dy, y], {}, 'dy_y'), d], {}, 'shares');
  const spread = acrossChannels(shares, true, 'spread');
  const cross = ctx.op('Mul', [ctx.op('Mul', [x, spread], {}, 'x_spread'), ctx.constant((2 * alpha * beta) / size)], {}, 'cross');
  return { grads: [ctx.op('Sub', [direct, cross], {}, 'dx')] };
};

/** y = Σ inputs (numpy broadcasting)  =>  each input's gradient is dy, summed down to its shape by the driver. */
export const sum: GradRule = (ctx) => variadic(ctx, ctx.gradOutput(0));

/** y = mean of the inputs  =>  dy / n to each. */
export const mean: GradRule = (ctx) => {
  const count = (ctx.node.input ?? []).length;
  return variadic(ctx, ctx.op('Div', [ctx.gradOutput(0), ctx.constant(count)], {}, 'share'));
};

function variadic(ctx: GradContext, grad: string) {
  const inputs = ctx.node.input ?? [];
  const dims = ctx.dims(ctx.output(0));
  return { grads: inputs.map((_, i) => (ctx.needsGrad(i) ? grad : null)), broadcastFrom: inputs.map(() => dims) };
}

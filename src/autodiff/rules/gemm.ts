import { float } from '../../onnx/builder.ts';
import { attr } from '../../onnx/graph.ts';
import type { GradRule } from '../types.ts';

/**
 * Y = alpha * A' B' + beta * C with A' = transA ? A^T : A, B' = transB ? B^T : B
 *   =>  dA' = alpha dY B'^T, dB' = alpha A'^T dY, dC = beta dY (summed down to C's broadcast shape).
 * Each is one Gemm: transposing the product swaps the operands, e.g. transA: dA = alpha B' dY^T.
 * With a one-hot dY (the seed of one class per image), row n of dA' is alpha times column classes[n] of B': one
 * Gather of B, no one-hot matrix and no product.
 */
export const gemm: GradRule = (ctx) => {
  const a = ctx.input(0), b = ctx.input(1);
  const alphaValue = attr(ctx.node, 'alpha', 'float') ?? 1, alpha = float(alphaValue), beta = attr(ctx.node, 'beta', 'float') ?? 1;
  const transA = attr(ctx.node, 'transA', 'int') ?? 0, transB = attr(ctx.node, 'transB', 'int') ?? 0;
  const classes = ctx.gradOutputClasses(0);
  let da: string | null = null;
  if (ctx.needsGrad(0) && classes) {
    // B' columns are B's rows when transB, else B's columns: Gather gives [N, K] or [K, N]; dA wants [N, K] (or [K, N] with transA).
    const picked = ctx.op('Gather', [b, classes], { axis: transB ? 0 : 1 }, 'rows');
    const oriented = Boolean(transB) !== Boolean(transA) ? picked : ctx.op('Transpose', [picked], { perm: [1, 0] }, 'da_t');
    da = alphaValue === 1 ? oriented : ctx.op('Mul', [oriented, ctx.constant(alphaValue)], {}, 'da');
  } else if (ctx.needsGrad(0)) {
    const dy = ctx.gradOutput(0);
    da = transA
      ? ctx.op('Gemm', [b, dy], { alpha, transA: transB, transB: 1 }, 'da')
      : ctx.op('Gemm', [dy, b], { alpha, transB: 1 - transB }, 'da');
  }
  const db = !ctx.needsGrad(1) ? null : transB
    ? ctx.op('Gemm', [ctx.gradOutput(0), a], { alpha, transA: 1, transB: transA }, 'db')
    : ctx.op('Gemm', [a, ctx.gradOutput(0)], { alpha, transA: 1 - transA }, 'db');
  const dc = !ctx.needsGrad(2) ? null : beta === 1 ? ctx.gradOutput(0) : ctx.op('Mul', [ctx.gradOutput(0), ctx.constant(beta)], {}, 'dc');
  return { grads: [da, db, dc], broadcastFrom: [null, null, ctx.dims(ctx.output(0))] };
};

import { float } from '../../onnx/builder.ts';
import { attr } from '../../onnx/graph.ts';
import type { GradRule } from '../types.ts';

/**
 * Y = alpha * A' B' + beta * C with A' = transA ? A^T : A, B' = transB ? B^T : B
 *   =>  dA' = alpha dY B'^T, dB' = alpha A'^T dY, dC = beta dY (summed down to C's broadcast shape).
 * Each is one Gemm: transposing the product swaps the operands, e.g. transA: dA = alpha B' dY^T.
 */
export const gemm: GradRule = (ctx) => {
  const a = ctx.input(0), b = ctx.input(1), dy = ctx.gradOutput(0);
  const alpha = float(attr(ctx.node, 'alpha', 'float') ?? 1), beta = attr(ctx.node, 'beta', 'float') ?? 1;
  const transA = attr(ctx.node, 'transA', 'int') ?? 0, transB = attr(ctx.node, 'transB', 'int') ?? 0;
  const da = !ctx.needsGrad(0) ? null : transA
    ? ctx.op('Gemm', [b, dy], { alpha, transA: transB, transB: 1 }, 'da')
    : ctx.op('Gemm', [dy, b], { alpha, transB: 1 - transB }, 'da');
  const db = !ctx.needsGrad(1) ? null : transB
    ? ctx.op('Gemm', [dy, a], { alpha, transA: 1, transB: transA }, 'db')
    : ctx.op('Gemm', [a, dy], { alpha, transA: 1 - transA }, 'db');
  const dc = !ctx.needsGrad(2) ? null : beta === 1 ? dy : ctx.op('Mul', [dy, ctx.constant(beta)], {}, 'dc');
  return { grads: [da, db, dc], broadcastFrom: [null, null, ctx.dims(ctx.output(0))] };
};

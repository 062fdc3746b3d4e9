import { unsqueeze } from '../emit.ts';
import type { GradContext, GradRule } from '../types.ts';

/**
 * Y = A @ B (numpy matmul: batch dims broadcast, 1-D operands promoted)  =>  dA = dY @ B^T, dB = A^T @ dY,
 * each in the broadcast batch shape; the driver sums the batch dims down to the operand's own.
 * A 1-D operand is promoted as numpy does (A: [1, K], B: [K, 1]) and dY gets the dropped axis back.
 */
export const matMul: GradRule = (ctx) => {
  const a = ctx.input(0), b = ctx.input(1);
  const aDims = ctx.dims(a), bDims = ctx.dims(b), yDims = ctx.dims(ctx.output(0));
  const classes = ctx.gradOutputClasses(0);
  if (classes && aDims.length === 2 && bDims.length === 2 && !ctx.needsGrad(1)) {
    // One-hot dY [N, M] (one class per image): row n of dA = dY B^T is column classes[n] of B.
    return { grads: [ctx.op('Transpose', [ctx.op('Gather', [b, classes], { axis: 1 }, 'columns')], { perm: [1, 0] }, 'da'), null] };
  }
  let dy = ctx.gradOutput(0), a2 = a, b2 = b;
  if (aDims.length === 1) {
    a2 = unsqueeze(ctx, a, [0]);
    dy = unsqueeze(ctx, dy, [bDims.length === 1 ? 0 : yDims.length - 1]);
  }
  if (bDims.length === 1) {
    b2 = unsqueeze(ctx, b, [1]);
    dy = unsqueeze(ctx, dy, [-1]);
  }
  const a2Dims = aDims.length === 1 ? [1, aDims[0]] : aDims, b2Dims = bDims.length === 1 ? [bDims[0], 1] : bDims;
  const batch = yDims.slice(0, Math.max(0, Math.max(a2Dims.length, b2Dims.length) - 2));
  let da: string | null = null, db: string | null = null;
  if (ctx.needsGrad(0)) {
    da = ctx.op('MatMul', [dy, swapLast(ctx, b2, b2Dims.length)], {}, 'da');
    if (aDims.length === 1) da = ctx.op('Reshape', [da, ctx.constant([-1, aDims[0]], 'int64')], {}, 'da_1d');
  }
  if (ctx.needsGrad(1)) {
    db = ctx.op('MatMul', [swapLast(ctx, a2, a2Dims.length), dy], {}, 'db');
    if (bDims.length === 1) db = ctx.op('Reshape', [db, ctx.constant([-1, bDims[0]], 'int64')], {}, 'db_1d');
  }
  // Probe dims of da/db before summing the broadcast batch dims away (1-D operands: [batch..., K]).
  const daDims = aDims.length === 1 ? [...(batch.length ? [batch.reduce((p, q) => p * q, 1)] : [1]), aDims[0]] : [...batch, ...aDims.slice(-2)];
  const dbDims = bDims.length === 1 ? [...(batch.length ? [batch.reduce((p, q) => p * q, 1)] : [1]), bDims[0]] : [...batch, ...bDims.slice(-2)];
  return { grads: [da, db], broadcastFrom: [daDims, dbDims] };
};

/** Swaps the last two axes of a rank-`rank` tensor. */
function swapLast(ctx: GradContext, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return ctx.op('Transpose', [x], { perm }, 'transposed');
}

import { attr } from '../../onnx/graph.ts';
import { DataType } from '../../onnx/proto.ts';
import { normAxis } from '../emit.ts';
import type { GradRule } from '../types.ts';

/**
 * y = take(x, idx, axis)  =>  dx[.., j, ..] = sum over positions q with idx[q] = j of dy[.., q, ..]: dy contracted
 * with onehot(idx, D) ([Q, D]) by a MatMul, so repeated indices add without ScatterElements. The one-hot is built
 * in-graph (folded at load time for constant indices); negative indices wrap. Gathering along the batch axis is
 * not supported.
 */
export const gather: GradRule = (ctx) => {
  const x = ctx.input(0), dims = ctx.dims(x), rank = dims.length;
  const axis = normAxis(attr(ctx.node, 'axis', 'int') ?? 0, rank);
  if (axis === 0) ctx.fail('it gathers along the batch axis (0)');
  const size = dims[axis], indexCount = ctx.dims(ctx.input(1)).reduce((p, q) => p * q, 1);
  let idx = ctx.input(1);
  if (ctx.elemType(idx) !== DataType.INT64) idx = ctx.op('Cast', [idx], { to: DataType.INT64 }, 'idx64');
  const column = ctx.op('Reshape', [idx, ctx.constant([-1, 1], 'int64')], {}, 'idx_column');
  const negative = ctx.op('Less', [column, ctx.constant(0, 'int64')], {}, 'negative');
  const wrapped = ctx.op('Where', [negative, ctx.op('Add', [column, ctx.constant(size, 'int64')], {}, 'plus_size'), column], {}, 'wrapped');
  const hits = ctx.op('Equal', [wrapped, ctx.constant(Array.from({ length: size }, (_, i) => i), 'int64')], {}, 'hits');
  const oneHot = ctx.op('Cast', [hits], { to: ctx.elemType(x) }, 'one_hot');
  // dy: dims[:axis] + idx.shape + dims[axis+1:]  ->  [.., Q, ..]  ->  Q last  ->  @ onehot  ->  D back in place.
  const flatShape = dims.map((d, i) => (i < axis ? 0 : i === axis ? indexCount : d));
  const flat = ctx.op('Reshape', [ctx.gradOutput(0), ctx.constant(flatShape, 'int64')], {}, 'dy_flat');
  const toLast = [...Array(rank).keys()].filter((i) => i !== axis).concat(axis);
  const back = toLast.map((_, i) => toLast.indexOf(i));
  const last = axis === rank - 1;
  const moved = last ? flat : ctx.op('Transpose', [flat], { perm: toLast }, 'moved');
  const summed = ctx.op('MatMul', [moved, oneHot], {}, 'summed');
  return { grads: [last ? summed : ctx.op('Transpose', [summed], { perm: back }, 'dx'), null] };
};

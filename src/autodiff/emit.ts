import { DataType } from '../onnx/proto.ts';
import type { GradContext } from './types.ts';

/** The part of a context that emits nodes: shared by rules and by the driver's own plumbing. */
export type Ops = Pick<GradContext, 'op' | 'constant' | 'opset'>;

/** "To the end" for Slice ends; INT64_MAX itself does not survive a JS number. */
export const TO_END = Number.MAX_SAFE_INTEGER;

export const isFloatType = (t: number) => t === DataType.FLOAT || t === DataType.DOUBLE || t === DataType.FLOAT16 || t === DataType.BFLOAT16;

/** ReduceSum: `axes` is an attribute before opset 13 and an input from 13. */
export function reduceSum(ctx: Ops, x: string, axes: readonly number[], keepdims: boolean): string {
  const keep = keepdims ? 1 : 0;
  if (ctx.opset < 13) return ctx.op('ReduceSum', [x], { axes: [...axes], keepdims: keep }, 'sum');
  return ctx.op('ReduceSum', [x, ctx.constant(axes, 'int64')], { keepdims: keep }, 'sum');
}

/** ReduceMean: `axes` is an attribute before opset 18 and an input from 18. */
export function reduceMean(ctx: Ops, x: string, axes: readonly number[], keepdims: boolean): string {
  const keep = keepdims ? 1 : 0;
  if (ctx.opset < 18) return ctx.op('ReduceMean', [x], { axes: [...axes], keepdims: keep }, 'mean');
  return ctx.op('ReduceMean', [x, ctx.constant(axes, 'int64')], { keepdims: keep }, 'mean');
}

/** Unsqueeze: `axes` is an attribute before opset 13 and an input from 13. */
export function unsqueeze(ctx: Ops, x: string, axes: readonly number[]): string {
  if (axes.length === 0) return x;
  if (ctx.opset < 13) return ctx.op('Unsqueeze', [x], { axes: [...axes] }, 'unsqueeze');
  return ctx.op('Unsqueeze', [x, ctx.constant(axes, 'int64')], {}, 'unsqueeze');
}

/** Reshape `g` to `like`'s runtime shape (keeps the batch dynamic). */
export function reshapeLike(ctx: Ops, g: string, like: string): string {
  return ctx.op('Reshape', [g, ctx.op('Shape', [like], {}, 'shape')], {}, 'reshaped');
}

/** ConstantOfShape(shape) filled with `value` of element type `elemType` (float32 or float64). */
export function filled(ctx: Ops, shape: string, value: number, elemType: number, label = 'filled'): string {
  // ConstantOfShape takes its fill value as an attribute tensor of the output's type.
  const tensor = elemType === DataType.DOUBLE
    ? { name: 'value', dims: [1], dataType: DataType.DOUBLE, rawData: new Uint8Array(new Float64Array([value]).buffer) }
    : { name: 'value', dims: [1], dataType: DataType.FLOAT, rawData: new Uint8Array(new Float32Array([value]).buffer) };
  return ctx.op('ConstantOfShape', [shape], { value: tensor }, label);
}

/** Zeros with `like`'s runtime shape and element type `elemType`. */
export function zerosLike(ctx: Ops, like: string, elemType: number): string {
  return filled(ctx, ctx.op('Shape', [like], {}, 'shape'), 0, elemType, 'zeros');
}

/** Slice with constant starts/ends/axes (and steps). */
export function slice(ctx: Ops, x: string, starts: readonly number[], ends: readonly number[], axes: readonly number[], steps?: readonly number[]): string {
  const inputs = [x, ctx.constant(starts, 'int64'), ctx.constant(ends, 'int64'), ctx.constant(axes, 'int64')];
  if (steps) inputs.push(ctx.constant(steps, 'int64'));
  return ctx.op('Slice', inputs, {}, 'slice');
}

/** Zero padding with constant pads [begin..., end...] over all `rank` axes (inputs since opset 11). */
export function padZeros(ctx: Ops, x: string, pads: readonly number[]): string {
  if (pads.every((p) => p === 0)) return x;
  return ctx.op('Pad', [x, ctx.constant(pads, 'int64')], { mode: 'constant' }, 'pad');
}

/** Reverses `x` along `axis` (Slice with step -1). */
export function reverse(ctx: Ops, x: string, axis: number): string {
  return slice(ctx, x, [-1], [-TO_END], [axis], [-1]);
}

/** Normalises a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

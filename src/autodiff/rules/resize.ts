import { attr } from '../../onnx/graph.ts';
import type { GradContext, GradRule } from '../types.ts';

/**
 * Resize (and Upsample, which heatgate upgrades to Resize-11) over the two spatial axes of a 4-D tensor, nearest or
 * linear: each axis is a fixed linear map, y = R_h · x · R_wᵀ per plane, so dx = R_hᵀ · dy · R_w. R holds the
 * sampling weights of ONNX's definition (the coordinate transformation, then nearest rounding or the two linear
 * taps, clamped to the input as ONNX Runtime does), computed here from the probe sizes and the scales.
 */
export const resize: GradRule = (ctx) => {
  const x = ctx.input(0), inDims = ctx.dims(x), outDims = ctx.dims(ctx.output(0));
  if (inDims.length !== 4) ctx.fail(`only 4-D inputs are supported, found rank ${inDims.length}`);
  if (inDims[1] !== outDims[1]) ctx.fail('resizing the channel axis is not supported');
  const mode = attr(ctx.node, 'mode', 'string') ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'linear') ctx.fail(`mode "${mode}" is not supported (nearest and linear are); cubic resampling has no rule yet`);
  if ((attr(ctx.node, 'antialias', 'int') ?? 0) !== 0) ctx.fail('antialias=1 is not supported');
  if (attr(ctx.node, 'axes', 'ints')) ctx.fail('the axes attribute is not supported');
  const transform = attr(ctx.node, 'coordinate_transformation_mode', 'string') ?? 'half_pixel';
  const rounding = attr(ctx.node, 'nearest_mode', 'string') ?? 'round_prefer_floor';
  const scales = scalesOf(ctx);
  const matrix = (axis: 2 | 3) => samplingMatrix(ctx, mode, transform, rounding, inDims[axis], outDims[axis], scales?.[axis] ?? outDims[axis] / inDims[axis]);
  const rh = matrix(2), rw = matrix(3);
  // dy [N,C,Ho,Wo] · R_w [Wo,Wi] → [N,C,Ho,Wi]; R_hᵀ [Hi,Ho] · that → [N,C,Hi,Wi] (MatMul broadcasts the leading axes).
  const alongW = ctx.op('MatMul', [ctx.gradOutput(0), ctx.constant(rw, 'float', [outDims[3], inDims[3]])], {}, 'back_w');
  const dx = ctx.op('MatMul', [ctx.constant(transposed(rh, outDims[2], inDims[2]), 'float', [inDims[2], outDims[2]]), alongW], {}, 'dx');
  return { grads: [dx, null, null, null] };
};

/** The scales input when it is a constant (Resize-11+: X, roi, scales, sizes); undefined when sizes are given. */
function scalesOf(ctx: GradContext): number[] | undefined {
  const name = ctx.input(2);
  if (!name) return undefined;
  const values = ctx.constantValues(name);
  if (values === undefined) ctx.fail('its scales are computed at run time; heatgate needs them constant');
  return values.length === 4 ? values : undefined;
}

/** R [outLen, inLen], row-major: R[i][j] = the weight of input j in output i. */
function samplingMatrix(ctx: GradContext, mode: string, transform: string, rounding: string, inLen: number, outLen: number, scale: number): number[] {
  const r = new Array<number>(outLen * inLen).fill(0);
  for (let i = 0; i < outLen; i++) {
    const source = sourceCoordinate(ctx, transform, i, scale, inLen, outLen);
    if (mode === 'nearest') {
      r[i * inLen + clamp(nearest(ctx, rounding, source), 0, inLen - 1)] = 1;
      continue;
    }
    const at = clamp(source, 0, inLen - 1);
    const low = Math.min(Math.floor(at), inLen - 1);
    const high = Math.min(low + 1, inLen - 1);
    const frac = at - low;
    r[i * inLen + low] += 1 - frac;
    r[i * inLen + high] += frac;
  }
  return r;
}

function sourceCoordinate(ctx: GradContext, transform: string, i: number, scale: number, inLen: number, outLen: number): number {
  switch (transform) {
    case 'half_pixel':
      return (i + 0.5) / scale - 0.5;
    case 'pytorch_half_pixel':
      return outLen > 1 ? (i + 0.5) / scale - 0.5 : 0;
    case 'align_corners':
      return outLen === 1 ? 0 : (i * (inLen - 1)) / (outLen - 1);
    case 'asymmetric':
      return i / scale;
    case 'tf_half_pixel_for_nn':
      return (i + 0.5) / scale;
    default:
      return ctx.fail(`coordinate_transformation_mode "${transform}" is not supported`);
  }
}

function nearest(ctx: GradContext, rounding: string, x: number): number {
  switch (rounding) {
    case 'round_prefer_floor':
      return x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x);
    case 'round_prefer_ceil':
      return x === Math.floor(x) + 0.5 ? Math.ceil(x) : Math.round(x);
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
    default:
      return ctx.fail(`nearest_mode "${rounding}" is not supported`);
  }
}

function transposed(m: readonly number[], rows: number, cols: number): number[] {
  return Array.from({ length: rows * cols }, (_, k) => m[(k % rows) * cols + Math.floor(k / rows)]);
}

const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));

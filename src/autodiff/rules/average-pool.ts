import { attr } from '../../onnx/graph.ts';
import type { AttrValue } from '../../onnx/builder.ts';
import { filled, reshapeLike } from '../emit.ts';
import type { GradRule } from '../types.ts';
import { transposeAttributes, windowOf, type Window } from './window.ts';

/**
 * y[p] = sum of the real taps of window p / D[p]  =>  dx = col2im(dy / D): ConvTranspose with a ones kernel adds
 * each window's share back (overlaps add). D depends on count_include_pad and ceil_mode; rather than restate the
 * kernel's convention, 1/D is read from it: AveragePool(ones) = R/D, with R the number of real taps (counted here).
 * That AveragePool runs on a constant, so ONNX Runtime folds it at load time.
 */
export const averagePool: GradRule = (ctx) => {
  const x = ctx.input(0), dims = ctx.dims(x);
  const kernel = attr(ctx.node, 'kernel_shape', 'ints') ?? ctx.fail('kernel_shape is missing');
  const w = windowOf(ctx, kernel);
  const attrs: Record<string, AttrValue> = {};
  for (const name of ['kernel_shape', 'strides', 'pads', 'dilations']) {
    const v = attr(ctx.node, name, 'ints');
    if (v) attrs[name] = v;
  }
  for (const name of ['ceil_mode', 'count_include_pad']) {
    const v = attr(ctx.node, name, 'int');
    if (v !== undefined) attrs[name] = v;
  }
  const autoPad = attr(ctx.node, 'auto_pad', 'string');
  if (autoPad) attrs.auto_pad = autoPad;
  const ones = filled(ctx, ctx.constant([1, 1, ...dims.slice(2)], 'int64'), 1, ctx.elemType(x), 'ones');
  const realOverD = ctx.op('AveragePool', [ones], attrs, 'real_over_d');
  const invD = ctx.op('Div', [realOverD, ctx.constant(realTaps(w), 'float', [1, 1, ...w.outSize])], {}, 'inv_d');
  const dy = ctx.op('Reshape', [ctx.gradOutput(0), ctx.constant([-1, 1, ...w.outSize], 'int64')], {}, 'dy_planes');
  const shares = ctx.op('Mul', [dy, invD], {}, 'shares');
  const kernelOnes = ctx.constant(new Array<number>(kernel.reduce((p, q) => p * q, 1)).fill(1), 'float', [1, 1, ...kernel]);
  const back = ctx.op('ConvTranspose', [shares, kernelOnes], { kernel_shape: kernel, ...transposeAttributes(w) }, 'back');
  return { grads: [reshapeLike(ctx, back, x)] };
};

/** R[p]: how many taps of window p fall inside the unpadded input (at least 1, so 1/D stays finite). */
function realTaps(w: Window): number[] {
  const perAxis = w.kernel.map((k, a) =>
    Array.from({ length: w.outSize[a] }, (_, p) => {
      let n = 0;
      for (let j = 0; j < k; j++) {
        const i = p * w.strides[a] - w.begin[a] + j * w.dilations[a];
        if (i >= 0 && i < w.inSize[a]) n++;
      }
      return n;
    }),
  );
  let counts = [1];
  for (const axis of perAxis) counts = counts.flatMap((c) => axis.map((n) => c * n));
  return counts.map((c) => Math.max(1, c));
}

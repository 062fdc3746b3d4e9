import { attr } from '../../onnx/graph.ts';
import type { GradContext } from '../types.ts';

/** Sliding-window geometry of a Conv/pool node along its spatial axes, from its attributes and the probe dims. */
export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Padding before each spatial axis (auto_pad resolved as ONNX Runtime does). */
  begin: number[];
  inSize: number[];
  outSize: number[];
}

export function windowOf(ctx: GradContext, kernel: readonly number[]): Window {
  const inSize = ctx.dims(ctx.input(0)).slice(2), outSize = ctx.dims(ctx.output(0)).slice(2);
  const r = kernel.length;
  const strides = attr(ctx.node, 'strides', 'ints') ?? new Array<number>(r).fill(1);
  const dilations = attr(ctx.node, 'dilations', 'ints') ?? new Array<number>(r).fill(1);
  const pads = attr(ctx.node, 'pads', 'ints') ?? new Array<number>(2 * r).fill(0);
  const autoPad = attr(ctx.node, 'auto_pad', 'string') ?? 'NOTSET';
  const begin = kernel.map((k, a) => {
    if (autoPad === 'VALID') return 0;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const total = Math.max(0, (outSize[a] - 1) * strides[a] + (k - 1) * dilations[a] + 1 - inSize[a]);
      return autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
    }
    return pads[a];
  });
  return { kernel: [...kernel], strides, dilations, begin, inSize, outSize };
}

/** Extent of all windows along axis a, in padded coordinates starting at -begin[a]. */
export function span(w: Window, a: number): number {
  return (w.outSize[a] - 1) * w.strides[a] + (w.kernel[a] - 1) * w.dilations[a] + 1;
}

/**
 * ConvTranspose attributes that put window taps back onto the input: its output covers [-begin, span - begin),
 * so the pads crop to [0, inSize) and output_padding appends the tail no window reached.
 */
export function transposeAttributes(w: Window): { strides: number[]; dilations: number[]; pads: number[]; output_padding?: number[] } {
  const end: number[] = [], extra: number[] = [];
  w.kernel.forEach((_, a) => {
    const past = span(w, a) - w.begin[a] - w.inSize[a];
    end.push(Math.max(0, past));
    extra.push(Math.max(0, -past));
  });
  const attrs = { strides: w.strides, dilations: w.dilations, pads: [...w.begin, ...end] };
  return extra.some((e) => e > 0) ? { ...attrs, output_padding: extra } : attrs;
}

/** Padding after each spatial axis that makes a VALID window pass over the padded input produce outSize windows. */
export function endPadding(w: Window): number[] {
  return w.kernel.map((_, a) => Math.max(0, span(w, a) - w.begin[a] - w.inSize[a]));
}

/** A constant [K, 1, ...kernel] of one-hot kernels: channel k picks window tap k (row-major). */
export function tapKernels(kernel: readonly number[]): number[] {
  const taps = kernel.reduce((p, q) => p * q, 1);
  const values = new Array<number>(taps * taps).fill(0);
  for (let k = 0; k < taps; k++) values[k * taps + k] = 1;
  return values;
}

// Gradient checks for pooling: central differences in float32, h = 1e-2, |grad - fd| <= 3e-4 + 3e-3 |fd|
// (see ../grad-check.ts). Max-pool inputs are distinct values 0.05 apart (no ties within 2h); tie tests check the
// routing convention exactly against a plain-JS reference.
import { describe, expect, it } from 'vitest';
import type { AttrValue } from '../../../src/onnx/builder.ts';
import { augment, distinct, gradCheck, gradientAt, random, type GradCase } from '../grad-check.ts';

const size = (d: number[]) => d.reduce((p, q) => p * q, 1);
const pool = (opType: string, opset: number, x: number[], attributes: Record<string, AttrValue>, values?: Float32Array, outputs = ['y']): GradCase => ({
  opset, input: x, values: values ?? distinct(size(x), size(x) + opset), nodes: [{ opType, inputs: ['x'], outputs, attributes }],
});

const maxCases: [string, GradCase][] = [
  ['2x2 stride 2 (opset 11)', pool('MaxPool', 11, [2, 2, 4, 4], { kernel_shape: [2, 2], strides: [2, 2] })],
  ['3x3 stride 1 pads 1: overlapping windows add (opset 11)', pool('MaxPool', 11, [2, 2, 4, 5], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })],
  ['3x3 stride 1 pads 1 (opset 13)', pool('MaxPool', 13, [2, 1, 5, 5], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })],
  ['3x3 stride 2 pads 1, ceil_mode (opset 18)', pool('MaxPool', 18, [2, 2, 6, 6], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 })],
  ['3x3 stride 2, ceil_mode, no pads (opset 12)', pool('MaxPool', 12, [2, 1, 6, 7], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 })],
  ['2x2 dilations 2 (opset 12)', pool('MaxPool', 12, [2, 1, 5, 6], { kernel_shape: [2, 2], dilations: [2, 2] })],
  ['auto_pad SAME_UPPER 3x3 stride 2', pool('MaxPool', 13, [2, 2, 5, 6], { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' })],
  ['auto_pad SAME_LOWER 2x2 stride 1', pool('MaxPool', 16, [2, 1, 4, 4], { kernel_shape: [2, 2], auto_pad: 'SAME_LOWER' })],
  ['1-D kernel 3 stride 2 pads 1', pool('MaxPool', 13, [2, 3, 7], { kernel_shape: [3], strides: [2], pads: [1, 1] })],
  ['with the Indices output', pool('MaxPool', 13, [2, 1, 4, 4], { kernel_shape: [2, 2], strides: [1, 1] }, undefined, ['y', 'idx'])],
  ['all-negative input: padding never wins', pool('MaxPool', 13, [2, 1, 4, 4], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, distinct(32, 3).map((v) => v - 2))],
];

const avgCases: [string, GradCase][] = [
  ['2x2 stride 2 (opset 11)', pool('AveragePool', 11, [2, 2, 4, 4], { kernel_shape: [2, 2], strides: [2, 2] })],
  ['3x3 pads 1, count_include_pad 0', pool('AveragePool', 13, [2, 2, 4, 5], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })],
  ['3x3 pads 1, count_include_pad 1', pool('AveragePool', 13, [2, 2, 4, 5], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 })],
  ['3x3 stride 2 pads [1,0,0,1], ceil_mode, count_include_pad 1', pool('AveragePool', 13, [2, 1, 6, 7], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 0, 1], ceil_mode: 1, count_include_pad: 1 })],
  ['3x3 stride 2, ceil_mode, count_include_pad 0', pool('AveragePool', 11, [2, 1, 6, 6], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 })],
  ['auto_pad SAME_UPPER 2x2 stride 1', pool('AveragePool', 13, [2, 2, 3, 4], { kernel_shape: [2, 2], auto_pad: 'SAME_UPPER' })],
  ['dilations 2 (opset 19)', pool('AveragePool', 19, [2, 1, 6, 6], { kernel_shape: [2, 2], dilations: [2, 2], pads: [1, 1, 1, 1] })],
  ['1-D kernel 4 stride 3', pool('AveragePool', 13, [2, 2, 10], { kernel_shape: [4], strides: [3] })],
];

const globalCases: [string, GradCase][] = [
  ['GlobalAveragePool 2-D', pool('GlobalAveragePool', 13, [2, 3, 4, 5], {}, random(1, 120))],
  ['GlobalAveragePool 1-D', pool('GlobalAveragePool', 11, [2, 3, 7], {}, random(2, 42))],
  ['GlobalMaxPool 2-D', pool('GlobalMaxPool', 13, [2, 3, 3, 4], {})],
  ['GlobalMaxPool 3-D', pool('GlobalMaxPool', 11, [2, 2, 2, 3, 2], {})],
];

describe('pooling gradients match finite differences', () => {
  it.each(maxCases)('MaxPool %s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });
  it.each(avgCases)('AveragePool %s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });
  it.each(globalCases)('%s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });
});

/** Plain-JS MaxPool backward for one [H, W] plane: each window's dy goes to its first maximal tap (row-major). */
function maxPoolBackward(x: number[], h: number, w: number, k: number, s: number, pad: number, dy: number[]): number[] {
  const out = Math.floor((h + 2 * pad - k) / s) + 1, outW = Math.floor((w + 2 * pad - k) / s) + 1;
  const dx = new Array<number>(h * w).fill(0);
  for (let i = 0; i < out; i++) {
    for (let j = 0; j < outW; j++) {
      let best = -Infinity, at = -1;
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) {
          const r = i * s - pad + a, c = j * s - pad + b;
          if (r < 0 || r >= h || c < 0 || c >= w) continue;
          if (x[r * w + c] > best) [best, at] = [x[r * w + c], r * w + c];
        }
      }
      dx[at] += dy[i * outW + j];
    }
  }
  return dx;
}

describe('max-pool ties go to one input', () => {
  it('MaxPool: every window of a constant plane routes to its first tap; overlaps add', async () => {
    for (const opset of [11, 16]) {
      const aug = await augment(pool('MaxPool', opset, [1, 1, 4, 4], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, new Float32Array(16)));
      try {
        const x = [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 2, 0, 2, 2, 0, 0];
        const dy = Array.from(random(5, 16, 0.5, 1.5));
        const dx = await gradientAt(aug, [1, 1, 4, 4], Float32Array.from(x), Float32Array.from(dy));
        const expected = maxPoolBackward(x, 4, 4, 3, 1, 1, dy);
        Array.from(dx).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
        expect(dx.reduce((p, q) => p + q, 0)).toBeCloseTo(dy.reduce((p, q) => p + q, 0), 4);
      } finally {
        await aug.close();
      }
    }
  });

  it('GlobalMaxPool: a tied plane routes everything to its first element', async () => {
    const aug = await augment(pool('GlobalMaxPool', 13, [1, 2, 2, 2], {}, new Float32Array(8)));
    try {
      const dx = await gradientAt(aug, [1, 2, 2, 2], Float32Array.from([3, 3, 3, 3, 1, 5, 5, 2]), Float32Array.from([2, 7]));
      expect(Array.from(dx)).toEqual([2, 0, 0, 0, 0, 7, 0, 0]);
    } finally {
      await aug.close();
    }
  });
});

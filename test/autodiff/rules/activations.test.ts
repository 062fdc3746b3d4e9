// Gradient checks for activations: central differences in float32, h = 1e-2, |grad - fd| <= 3e-4 + 3e-3 |fd|
// (see ../grad-check.ts); test points stay >= 0.1 away from every kink. Exact-kink tests pin the conventions.
import { describe, expect, it } from 'vitest';
import { float, type NodeSpec } from '../../../src/onnx/builder.ts';
import { augment, awayFrom, floatTensor, gradCheck, gradientAt, random, type GradCase } from '../grad-check.ts';

const unary = (opType: string, attributes: NodeSpec['attributes'] = {}, extra: string[] = []): NodeSpec[] => [
  { opType, inputs: ['x', ...extra], outputs: ['y'], attributes },
];

/** Values in (lo, hi) at least `margin` from each breakpoint. */
function avoiding(points: number[], margin: number, seed: number, count: number, lo = -4, hi = 4): Float32Array {
  const out = random(seed, count, lo, hi);
  return out.map((v) => {
    for (const p of points) if (Math.abs(v - p) < margin) v = p + (v < p ? -margin : margin);
    return v;
  });
}

const cases: [string, GradCase][] = [
  ['Relu', { opset: 13, input: [2, 3, 4, 2], values: awayFrom(0, 0.1, 1, 48), nodes: unary('Relu') }],
  ['LeakyRelu (default alpha)', { opset: 11, input: [2, 5], values: awayFrom(0, 0.1, 2, 10), nodes: unary('LeakyRelu') }],
  ['LeakyRelu (alpha 0.3)', { opset: 16, input: [2, 3, 3], values: awayFrom(0, 0.1, 3, 18), nodes: unary('LeakyRelu', { alpha: float(0.3) }) }],
  ['PRelu (per-channel slope [C,1,1])', {
    opset: 13, input: [2, 3, 2, 2], values: awayFrom(0, 0.1, 4, 24),
    initializers: [floatTensor('slope', [3, 1, 1], [0.1, -0.4, 0.7])], nodes: unary('PRelu', {}, ['slope']),
  }],
  ['Clip min/max inputs (opset 11)', {
    opset: 11, input: [2, 4, 3], values: avoiding([-0.5, 0.6], 0.1, 5, 24, -1.5, 1.5),
    initializers: [floatTensor('lo', [], [-0.5]), floatTensor('hi', [], [0.6])], nodes: unary('Clip', {}, ['lo', 'hi']),
  }],
  ['Clip as Relu6 (opset 13)', {
    opset: 13, input: [2, 6], values: avoiding([0, 6], 0.2, 6, 12, -3, 9),
    initializers: [floatTensor('lo', [], [0]), floatTensor('hi', [], [6])], nodes: unary('Clip', {}, ['lo', 'hi']),
  }],
  ['Clip with max only (empty min)', {
    opset: 13, input: [2, 6], values: avoiding([0.2], 0.1, 7, 12),
    initializers: [floatTensor('hi', [], [0.2])], nodes: unary('Clip', {}, ['', 'hi']),
  }],
  ['Clip with no bounds', { opset: 12, input: [2, 4], nodes: unary('Clip') }],
  ['Sigmoid', { opset: 13, input: [2, 3, 4], values: random(8, 24, -4, 4), nodes: unary('Sigmoid') }],
  ['HardSigmoid (default alpha, beta)', { opset: 11, input: [2, 10], values: avoiding([-2.5, 2.5], 0.2, 9, 20), nodes: unary('HardSigmoid') }],
  ['HardSigmoid (alpha 0.5, beta 0.2)', {
    opset: 13, input: [2, 10], values: avoiding([-0.4, 1.6], 0.2, 10, 20), nodes: unary('HardSigmoid', { alpha: float(0.5), beta: float(0.2) }),
  }],
  ['HardSwish (opset 14)', { opset: 14, input: [2, 3, 4], values: avoiding([-3, 3], 0.2, 11, 24, -5, 5), nodes: unary('HardSwish') }],
  ['Tanh', { opset: 13, input: [2, 3, 4], values: random(12, 24, -3, 3), nodes: unary('Tanh') }],
  ['Erf', { opset: 13, input: [2, 3, 4], values: random(13, 24, -2, 2), nodes: unary('Erf') }],
  ['Sqrt', { opset: 13, input: [2, 3, 4], values: random(14, 24, 0.5, 3), nodes: unary('Sqrt') }],
  ['Exp', { opset: 13, input: [2, 3, 4], values: random(16, 24, -2, 2), nodes: unary('Exp') }],
  ['Log', { opset: 13, input: [2, 3, 4], values: random(17, 24, 0.3, 3), nodes: unary('Log') }],
  ['Reciprocal', { opset: 13, input: [2, 3, 4], values: random(18, 24, 0.5, 2), nodes: unary('Reciprocal') }],
  ['Neg', { opset: 13, input: [2, 3, 4], nodes: [...unary('Neg', {}).map((n) => ({ ...n, outputs: ['t'] })), { opType: 'Mul', inputs: ['t', 'x'], outputs: ['y'] }] }],
  ['Gelu exact (opset 20)', { opset: 20, input: [2, 3, 4], values: random(19, 24, -3, 3), nodes: unary('Gelu') }],
  ['Gelu tanh approximation (opset 20)', { opset: 20, input: [2, 3, 4], values: random(20, 24, -3, 3), nodes: unary('Gelu', { approximate: 'tanh' }) }],
  ['Sigmoid(x) * x (SiLU: fan-out of x)', {
    opset: 13, input: [2, 12], values: random(15, 24, -3, 3),
    nodes: [{ opType: 'Sigmoid', inputs: ['x'], outputs: ['s'] }, { opType: 'Mul', inputs: ['x', 's'], outputs: ['y'] }],
  }],
];

describe('activation gradients match finite differences', () => {
  it.each(cases)('%s', async (_, c) => {
    const report = await gradCheck(c);
    expect(report.worst).toBeLessThanOrEqual(1);
  });
});

/** The emitted gradient at exact kink points, with dy = 1 unless given. */
async function atKinks(c: Omit<GradCase, 'input'>, x: number[], dy = x.map(() => 1)): Promise<number[]> {
  const aug = await augment({ ...c, input: [1, x.length], values: x });
  try {
    return Array.from(await gradientAt(aug, [1, x.length], Float32Array.from(x), Float32Array.from(dy)));
  } finally {
    await aug.close();
  }
}

describe('kink conventions', () => {
  it("Relu'(0) = 0", async () => {
    expect(await atKinks({ opset: 13, nodes: unary('Relu') }, [-1, 0, 1], [2, 2, 2])).toEqual([0, 0, 2]);
  });

  it('LeakyRelu and PRelu take the negative slope at 0', async () => {
    const leaky = await atKinks({ opset: 13, nodes: unary('LeakyRelu', { alpha: float(0.25) }) }, [-1, 0, 1]);
    expect(leaky).toEqual([0.25, 0.25, 1]);
    const prelu = await atKinks({ opset: 13, initializers: [floatTensor('slope', [1], [-0.5])], nodes: unary('PRelu', {}, ['slope']) }, [-2, 0, 3]);
    expect(prelu).toEqual([-0.5, -0.5, 1]);
  });

  it('Clip passes nothing at its bounds', async () => {
    const c = { opset: 13, initializers: [floatTensor('lo', [], [-1]), floatTensor('hi', [], [1])], nodes: unary('Clip', {}, ['lo', 'hi']) };
    expect(await atKinks(c, [-2, -1, 0, 1, 2])).toEqual([0, 0, 1, 0, 0]);
  });

  it('HardSigmoid passes nothing at its breakpoints', async () => {
    expect(await atKinks({ opset: 13, nodes: unary('HardSigmoid') }, [-3, -2.5, 0, 2.5, 3])).toEqual([0, 0, Math.fround(0.2), 0, 0]);
  });

  it('HardSwish follows PyTorch: -1/2 at x = -3, 3/2 at x = 3', async () => {
    const g = await atKinks({ opset: 14, nodes: unary('HardSwish') }, [-4, -3, 0, 3, 4]);
    expect(g[0]).toBe(0);
    expect(g[1]).toBeCloseTo(-0.5, 6);
    expect(g[2]).toBeCloseTo(0.5, 6);
    expect(g[3]).toBeCloseTo(1.5, 6);
    expect(g[4]).toBe(1);
  });

  it('Sqrt at 0 is +inf', async () => {
    expect(await atKinks({ opset: 13, nodes: unary('Sqrt') }, [0, 4])).toEqual([Infinity, 0.25]);
  });
});

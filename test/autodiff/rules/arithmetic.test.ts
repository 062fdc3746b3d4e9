// Gradient checks for broadcasting arithmetic: central differences in float32, h = 1e-2,
// |grad - fd| <= 3e-4 + 3e-3 |fd| (see ../grad-check.ts). Both operands are carved out of x, so both gradients
// (and the driver's un-broadcasting) are checked.
import { describe, expect, it } from 'vitest';
import { carve, floatTensor, gradCheck, intTensor, random, type GradCase } from '../grad-check.ts';

/** y = a <op> b with a, b of the given dims carved from x. */
function binary(opType: string, opset: number, a: number[], b: number[], seed: number, values?: (n: number) => Float32Array): GradCase {
  const carved = carve(opset, [{ name: 'a', dims: a }, { name: 'b', dims: b }]);
  return {
    opset, input: carved.input, initializers: carved.initializers, seed,
    nodes: [...carved.nodes, { opType, inputs: ['a', 'b'], outputs: ['y'] }],
    separable: a[0] !== 1 && b[0] !== 1,
    values: values?.(carved.input[0] * carved.input[1]),
  };
}

/** Values in [0.5, 1.5]: divisors (also sums of them over the batch) stay away from 0. */
const awayFromZero = (seed: number) => (n: number) => random(seed, n, 0.5, 1.5);

const shapes: [string, number[], number[]][] = [
  ['same shape', [2, 3, 4], [2, 3, 4]],
  ['b broadcast over spatial [N,C,1,1]', [2, 3, 2, 2], [2, 3, 1, 1]],
  ['a broadcast, b full', [2, 1, 4], [2, 3, 4]],
  ['b of lower rank broadcast over the batch [1,4] (not separable)', [2, 3, 4], [1, 4]],
  ['both broadcast [N,3,1] with [N,1,4]', [2, 3, 1], [2, 1, 4]],
];

const cases: [string, GradCase][] = [];
shapes.forEach(([name, a, b], i) => {
  cases.push([`Add: ${name}`, binary('Add', 13, a, b, 10 + i)]);
  cases.push([`Sub: ${name}`, binary('Sub', 11, a, b, 20 + i)]);
  cases.push([`Mul: ${name}`, binary('Mul', 14, a, b, 30 + i)]);
  cases.push([`Div: ${name}`, binary('Div', 13, a, b, 40 + i, awayFromZero(40 + i))]);
});
cases.push(['Mul by a constant [C,1,1]', {
  opset: 13, input: [2, 3, 2, 2], initializers: [floatTensor('w', [3, 1, 1], [0.5, -2, 3])],
  nodes: [{ opType: 'Mul', inputs: ['w', 'x'], outputs: ['y'] }],
}]);
cases.push(['Mul of x with itself (both inputs the same tensor)', { opset: 13, input: [2, 5], nodes: [{ opType: 'Mul', inputs: ['x', 'x'], outputs: ['y'] }] }]);
cases.push(['Div: constant / x', {
  opset: 13, input: [2, 6], values: awayFromZero(50)(12), initializers: [floatTensor('c', [], [1.5])],
  nodes: [{ opType: 'Div', inputs: ['c', 'x'], outputs: ['y'] }],
}]);
cases.push(['Pow: float exponent 2', {
  opset: 13, input: [2, 3, 4], initializers: [floatTensor('p', [], [2])], nodes: [{ opType: 'Pow', inputs: ['x', 'p'], outputs: ['y'] }],
}]);
cases.push(['Pow: exponent 0.5 on positive x (opset 11)', {
  opset: 11, input: [2, 6], values: random(51, 12, 0.5, 2), initializers: [floatTensor('p', [], [0.5])],
  nodes: [{ opType: 'Pow', inputs: ['x', 'p'], outputs: ['y'] }],
}]);
cases.push(['Pow: int64 exponent 3 (opset 15)', {
  opset: 15, input: [2, 6], initializers: [intTensor('p', [], [3])], nodes: [{ opType: 'Pow', inputs: ['x', 'p'], outputs: ['y'] }],
}]);
cases.push(['Pow: per-channel exponents broadcast against x', {
  opset: 13, input: [2, 3, 2], values: random(52, 12, 0.5, 1.5), initializers: [floatTensor('p', [3, 1], [1, 2, 3])],
  nodes: [{ opType: 'Pow', inputs: ['x', 'p'], outputs: ['y'] }],
}]);

{
  const carved = carve(13, [{ name: 'a', dims: [2, 3, 4] }, { name: 'b', dims: [2, 1, 4] }]);
  cases.push(['Where(x > 0, a, b) with b broadcast (cond carries no gradient)', {
    opset: 13, input: carved.input, initializers: [...carved.initializers, floatTensor('zero', [], [0])],
    nodes: [...carved.nodes, { opType: 'Greater', inputs: ['a', 'zero'], outputs: ['cond'] }, { opType: 'Where', inputs: ['cond', 'a', 'b'], outputs: ['y'] }],
    values: random(60, 32).map((v) => Math.sign(v || 1) * (0.1 + Math.abs(v))),
  }]);
}
cases.push(['Expand [N,3,1] to [N,3,4]', {
  opset: 13, input: [2, 3, 1], initializers: [intTensor('shape', [3], [1, 3, 4])],
  nodes: [{ opType: 'Expand', inputs: ['x', 'shape'], outputs: ['e'] }, { opType: 'Mul', inputs: ['e', 'e'], outputs: ['y'] }],
}]);
cases.push(['Expand adding a leading axis (not separable)', {
  opset: 13, input: [2, 3], separable: false, initializers: [intTensor('shape', [3], [4, 2, 3])],
  nodes: [{ opType: 'Expand', inputs: ['x', 'shape'], outputs: ['e'] }, { opType: 'Mul', inputs: ['e', 'e'], outputs: ['t'] }, { opType: 'Transpose', inputs: ['t'], outputs: ['y'], attributes: { perm: [1, 0, 2] } }],
}]);

describe('arithmetic gradients match finite differences', () => {
  it.each(cases)('%s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });
});

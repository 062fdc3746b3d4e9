// Gradient checks for data-movement ops: central differences in float32, h = 1e-2, |grad - fd| <= 3e-4 + 3e-3 |fd|
// (see ../grad-check.ts). These ops are linear, so the checks are exact up to float32 round-off; a multiplication
// by a random constant after each op makes every output element count differently.
import { describe, expect, it } from 'vitest';
import type { NodeSpec } from '../../../src/onnx/builder.ts';
import { DataType, type onnx } from '../../../src/onnx/proto.ts';
import { floatTensor, gradCheck, intTensor, random, type GradCase } from '../grad-check.ts';

/** x -> nodes -> t, then y = t * t (so the check sees a non-uniform dy and a nonlinear tail). */
function chain(opset: number, input: number[], nodes: NodeSpec[], initializers: onnx.TensorProto[] = [], separable = true): GradCase {
  return { opset, input, initializers, separable, nodes: [...nodes, { opType: 'Mul', inputs: ['t', 't'], outputs: ['y'] }] };
}
const node = (opType: string, inputs: string[], attributes: NodeSpec['attributes'] = {}, outputs = ['t']): NodeSpec => ({ opType, inputs, outputs, attributes });

const cases: [string, GradCase][] = [
  ['Flatten axis 1', chain(13, [2, 3, 2, 2], [node('Flatten', ['x'], { axis: 1 })])],
  ['Flatten axis 2: the batch merges into axis 0 (opset 11, not separable)', chain(11, [2, 3, 2, 2], [node('Flatten', ['x'], { axis: 2 })], [], false)],
  ['Reshape with -1 and 0', chain(13, [2, 3, 4], [node('Reshape', ['x', 's'])], [intTensor('s', [3], [0, -1, 2])])],
  ['Transpose NCHW -> NHWC', chain(13, [2, 3, 2, 4], [node('Transpose', ['x'], { perm: [0, 2, 3, 1] })])],
  ['Transpose default perm (reversed, not separable)', chain(13, [2, 3, 4], [node('Transpose', ['x'])], [], false)],
  ['Squeeze axes attribute (opset 11)', chain(11, [2, 3, 1, 1], [node('Squeeze', ['x'], { axes: [2, 3] })])],
  ['Squeeze axes input (opset 13)', chain(13, [2, 1, 4], [node('Squeeze', ['x', 'a'])], [intTensor('a', [1], [1])])],
  ['Unsqueeze axes attribute (opset 11)', chain(11, [2, 4], [node('Unsqueeze', ['x'], { axes: [1, 3] })])],
  ['Unsqueeze axes input (opset 13)', chain(13, [2, 4], [node('Unsqueeze', ['x', 'a'])], [intTensor('a', [2], [-1, 1])])],
  ['Concat of two branches on axis 1', chain(13, [2, 3, 2], [
    node('Mul', ['x', 'k'], {}, ['u']), node('Sigmoid', ['x'], {}, ['v']), node('Concat', ['u', 'x', 'v'], { axis: 1 }),
  ], [floatTensor('k', [], [1.7])])],
  ['Concat on axis -1 with a constant', chain(13, [2, 2, 3], [node('Concat', ['c', 'x'], { axis: -1 })], [floatTensor('c', [2, 2, 1], [1, 2, 3, 4])], false)],
  ['Concat on the batch axis (dynamic offsets)', chain(13, [2, 3], [node('Sigmoid', ['x'], {}, ['s']), node('Concat', ['x', 's'], { axis: 0 })], [], false)],
  ['Split attr sizes, one output unused (opset 11)', chain(11, [2, 5, 2], [node('Split', ['x'], { axis: 1, split: [2, 3] }, ['t', 'unused'])])],
  ['Split input sizes, both used (opset 13)', chain(13, [2, 6], [
    node('Split', ['x', 'sp'], { axis: 1 }, ['p', 'q']), node('Mul', ['p', 'q'], {}, ['pq']), node('Concat', ['pq', 'q'], { axis: 1 }),
  ], [intTensor('sp', [2], [3, 3])])],
  ['Split num_outputs 3, middle unused (opset 18)', chain(18, [2, 3, 3], [
    node('Split', ['x'], { axis: 2, num_outputs: 3 }, ['p', 'unused', 'q']), node('Add', ['p', 'q']),
  ])],
  ['Slice step 1 on two axes', chain(13, [2, 5, 6], [node('Slice', ['x', 's', 'e', 'a'])], [intTensor('s', [2], [1, -4]), intTensor('e', [2], [4, 100]), intTensor('a', [2], [1, 2])])],
  ['Slice step 2 and step 3', chain(13, [2, 7, 8], [node('Slice', ['x', 's', 'e', 'a', 'st'])], [intTensor('s', [2], [1, 0]), intTensor('e', [2], [7, 8]), intTensor('a', [2], [1, 2]), intTensor('st', [2], [2, 3])])],
  ['Slice negative step -2, clamped start', chain(13, [2, 7], [node('Slice', ['x', 's', 'e', 'a', 'st'])], [intTensor('s', [1], [100]), intTensor('e', [1], [0]), intTensor('a', [1], [1]), intTensor('st', [1], [-2])])],
  ['Slice step -1 to the start (INT_MIN end)', chain(13, [2, 3, 4], [node('Slice', ['x', 's', 'e', 'a', 'st'])], [intTensor('s', [1], [-2]), intTensor('e', [1], [-(2 ** 53)]), intTensor('a', [1], [-1]), intTensor('st', [1], [-1])])],
  ['Slice full pass-through on the batch axis', chain(11, [2, 6], [node('Slice', ['x', 's', 'e', 'a'])], [intTensor('s', [2], [0, 2]), intTensor('e', [2], [2 ** 62, 5]), intTensor('a', [2], [0, 1])])],
  ['Slice with run-time starts/ends from Shape (as chunk() exports): scatter path', chain(13, [2, 6, 4], [
    node('Shape', ['x'], {}, ['shape']), node('Gather', ['shape', 'one'], {}, ['dim']), node('Div', ['dim', 'three'], {}, ['start']),
    node('Mul', ['start', 'two'], {}, ['end']), node('Slice', ['x', 'start', 'end', 'one']),
  ], [intTensor('one', [1], [1]), intTensor('two', [1], [2]), intTensor('three', [1], [3])])],
  ['Slice of the batch axis with step -1 and a second axis: scatter path (not separable)', chain(13, [2, 3, 4], [node('Slice', ['x', 's', 'e', 'a', 'st'])],
    [intTensor('s', [2], [-1, 1]), intTensor('e', [2], [-(2 ** 53), 4]), intTensor('a', [2], [0, 2]), intTensor('st', [2], [-1, 2])], false)],
  ['Pad constant, positive pads', chain(13, [2, 2, 3], [node('Pad', ['x', 'p', 'v'])], [intTensor('p', [6], [0, 1, 2, 0, 0, 1]), floatTensor('v', [], [0.5])])],
  ['Pad constant, negative pads crop', chain(11, [2, 4, 5], [node('Pad', ['x', 'p'])], [intTensor('p', [6], [0, -1, 2, 0, 1, -2])])],
  ['Pad reflect', chain(13, [2, 2, 4, 5], [node('Pad', ['x', 'p'], { mode: 'reflect' })], [intTensor('p', [8], [0, 0, 2, 1, 0, 0, 1, 3])])],
  ['Pad edge', chain(13, [2, 2, 3, 4], [node('Pad', ['x', 'p'], { mode: 'edge' })], [intTensor('p', [8], [0, 0, 2, 0, 0, 0, 1, 3])])],
  ['Pad with axes input (opset 18)', chain(18, [2, 3, 4], [node('Pad', ['x', 'p', '', 'a'], { mode: 'reflect' })], [intTensor('p', [2], [1, 2]), intTensor('a', [1], [-1])])],
  ['Gather repeated and negative constant indices on axis 1', chain(13, [2, 4, 3], [node('Gather', ['x', 'i'], { axis: 1 })], [intTensor('i', [2, 3], [0, 3, -1, 0, 2, 0])])],
  ['Gather a scalar index (the CLS token) on axis 1', chain(13, [2, 5, 3], [node('Gather', ['x', 'i'], { axis: 1 })], [intTensor('i', [], [0])])],
  ['Gather on the last axis', chain(11, [2, 3, 4], [node('Gather', ['x', 'i'], { axis: 2 })], [intTensor('i', [3], [3, 1, 3])])],
  ['Identity', chain(13, [2, 4], [node('Identity', ['x'])])],
  ['Dropout (inference, opset 11)', chain(11, [2, 4], [node('Dropout', ['x'], {}, ['t', 'mask'])])],
  ['Dropout with ratio and training_mode false (opset 13)', chain(13, [2, 4], [node('Dropout', ['x', 'r', 'm'])], [floatTensor('r', [], [0.3]), { ...intTensor('m', [], [0]), dataType: DataType.BOOL, rawData: new Uint8Array([0]) } as onnx.TensorProto])],
  ['Cast float -> double -> float', chain(13, [2, 4], [node('Cast', ['x'], { to: DataType.DOUBLE }, ['d']), node('Cast', ['d'], { to: DataType.FLOAT })])],
];

describe('data-movement gradients match finite differences', () => {
  it.each(cases)('%s', async (_, c) => {
    expect((await gradCheck(c)).worst).toBeLessThanOrEqual(1);
  });

  it('a Cast to int64 on the path carries no gradient (only the float branch counts)', async () => {
    const c = chain(13, [2, 4], [
      node('Cast', ['x'], { to: DataType.INT64 }, ['xi']), node('Cast', ['xi'], { to: DataType.FLOAT }, ['xf']),
      node('Mul', ['x', 'k'], {}, ['xk']), node('Add', ['xf', 'xk']),
    ], [floatTensor('k', [], [0.5])]);
    // Values kept away from integers so rounding does not move inside the finite-difference step.
    const report = await gradCheck({ ...c, values: random(3, 8, 0.1, 0.4) });
    expect(report.worst).toBeLessThanOrEqual(1);
    expect(report.ops).not.toContain('Cast');
  });
});

import { attr, tensorData, type GraphIndex } from './graph.ts';
import type { ImageInput, TensorInfo } from './probe.ts';
import { DataType, type onnx, toNumber } from './proto.ts';

/**
 * Shape inference over the graph, in JS (ONNX's own shape inference is C++ only): the dims and element type of
 * every node output at a given batch and input size, as a probe run would observe them, without a session. It
 * covers the ops image classifiers are built from, and the small int64 shape arithmetic exporters emit
 * (Shape → Gather → Div → Concat → Reshape), whose values it carries along. Anything else (an op without a rule, a
 * shape that depends on data, a value it does not know) makes it give up, naming the node: the caller then probes.
 */
export type InferenceResult = { shapes: Map<string, TensorInfo> } | { unknown: string };

/** A tensor as inference knows it: dims, type, and for small integer tensors (shape plumbing) the values. */
interface Known {
  dims: number[];
  dtype: ort_type;
  value?: number[];
  /** Small float constants (Resize scales). */
  floats?: number[];
}
type ort_type = TensorInfo['dtype'];

/** Integer tensors up to this many values carry their values (shape vectors, axes, pads). */
const MAX_VALUE_LENGTH = 64;

interface RuleContext {
  node: onnx.INodeProto;
  /** Inputs in slot order; undefined for an omitted optional input (''). */
  inputs: (Known | undefined)[];
  opset: number;
}

/** An op's rule: the node's outputs (in order), or undefined when it cannot tell (the caller gives up). */
type ShapeRule = (ctx: RuleContext) => (Known | undefined)[] | undefined;

const ELEM_TYPE: Partial<Record<number, ort_type>> = {
  [DataType.FLOAT]: 'float32', [DataType.DOUBLE]: 'float64', [DataType.FLOAT16]: 'float16', [DataType.INT64]: 'int64',
  [DataType.INT32]: 'int32', [DataType.INT8]: 'int8', [DataType.UINT8]: 'uint8', [DataType.BOOL]: 'bool',
  [DataType.INT16]: 'int16', [DataType.UINT16]: 'uint16', [DataType.UINT32]: 'uint32', [DataType.UINT64]: 'uint64', [DataType.STRING]: 'string',
};
const INTEGER = new Set<ort_type>(['int64', 'int32', 'int16', 'int8', 'uint8', 'uint16', 'uint32', 'uint64']);
/** Types whose values inference carries: integers, and booleans (as 0/1) for the Where of a shape computation. */
const VALUED = new Set<ort_type>([...INTEGER, 'bool']);

const size = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
const axisOf = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);
const same = (x: Known | undefined): Known | undefined => x && { dims: [...x.dims], dtype: x.dtype };
/** Values of an integer input, or undefined. */
const values = (x: Known | undefined): number[] | undefined => x?.value;
/** A result with values, when every value is a safe integer (else without). */
const withValue = (dims: number[], dtype: ort_type, value: number[] | undefined): Known =>
  value && VALUED.has(dtype) && value.length <= MAX_VALUE_LENGTH && value.every(Number.isSafeInteger) ? { dims, dtype, value } : { dims, dtype };

/** numpy broadcasting of several shapes; undefined when they do not broadcast. */
function broadcast(shapes: readonly (readonly number[])[]): number[] | undefined {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let a = 0; a < rank; a++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[a - (rank - s.length)] ?? 1;
      if (v === 1) continue;
      if (d !== 1 && d !== v) return undefined;
      d = v;
    }
    out.push(d);
  }
  return out;
}

/** Element i of a broadcast result read from a value of `dims` (for small integer arithmetic). */
function broadcastValue(value: readonly number[], dims: readonly number[], out: readonly number[], i: number): number {
  let index = 0, stride = 1, rest = i;
  const lead = out.length - dims.length;
  const coords = out.map(() => 0);
  for (let a = out.length - 1; a >= 0; a--) {
    coords[a] = rest % out[a];
    rest = Math.floor(rest / out[a]);
  }
  for (let a = dims.length - 1; a >= 0; a--) {
    index += (dims[a] === 1 ? 0 : coords[a + lead]) * stride;
    stride *= dims[a];
  }
  return value[index];
}

const unary: ShapeRule = ({ inputs }) => [same(inputs[0])];

function elementwise(compute?: (a: number, b: number) => number, resultType?: ort_type): ShapeRule {
  return ({ inputs }) => {
    if (inputs.some((x) => !x)) return undefined;
    const all = inputs as Known[];
    const dims = broadcast(all.map((x) => x.dims));
    if (!dims) return undefined;
    const dtype = resultType ?? all[0].dtype;
    let value: number[] | undefined;
    if (compute && all.length === 2 && all.every((x) => x.value) && VALUED.has(dtype)) {
      value = Array.from({ length: size(dims) }, (_, i) => compute(broadcastValue(all[0].value!, all[0].dims, dims, i), broadcastValue(all[1].value!, all[1].dims, dims, i)));
    }
    return [withValue(dims, dtype, value)];
  };
}

/** Output spatial size of a convolution or pooling window (ONNX's formula, auto_pad included; ceil_mode as ORT). */
function windowed(node: onnx.INodeProto, spatial: readonly number[], kernel: readonly number[], ceil = false): number[] | undefined {
  const n = spatial.length;
  const strides = attr(node, 'strides', 'ints') ?? kernel.map(() => 1);
  const dilations = attr(node, 'dilations', 'ints') ?? kernel.map(() => 1);
  const pads = attr(node, 'pads', 'ints') ?? Array(2 * n).fill(0);
  const autoPad = attr(node, 'auto_pad', 'string') ?? 'NOTSET';
  if (kernel.length !== n || strides.length !== n || dilations.length !== n || pads.length !== 2 * n) return undefined;
  return spatial.map((input, i) => {
    const extent = dilations[i] * (kernel[i] - 1) + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(input / strides[i]);
    if (autoPad === 'VALID') return Math.floor((input - extent) / strides[i]) + 1;
    const padded = input + pads[i] + pads[i + n] - extent;
    if (!ceil) return Math.floor(padded / strides[i]) + 1;
    let out = Math.ceil(padded / strides[i]) + 1;
    if ((out - 1) * strides[i] >= input + pads[i]) out--; // the last window must start inside the input or its head pad
    return out;
  });
}

const conv: ShapeRule = ({ node, inputs: [x, w] }) => {
  if (!x || !w || x.dims.length < 3 || w.dims.length !== x.dims.length) return undefined;
  const kernel = attr(node, 'kernel_shape', 'ints') ?? w.dims.slice(2);
  const spatial = windowed(node, x.dims.slice(2), kernel);
  return spatial && [{ dims: [x.dims[0], w.dims[0], ...spatial], dtype: x.dtype }];
};

function pool(ceilAttr: boolean): ShapeRule {
  return ({ node, inputs: [x] }) => {
    const kernel = attr(node, 'kernel_shape', 'ints');
    if (!x || !kernel || x.dims.length < 3) return undefined;
    const spatial = windowed(node, x.dims.slice(2), kernel, ceilAttr && attr(node, 'ceil_mode', 'int') === 1);
    if (!spatial) return undefined;
    const dims = [x.dims[0], x.dims[1], ...spatial];
    return [{ dims, dtype: x.dtype }, { dims: [...dims], dtype: 'int64' }]; // MaxPool's optional indices
  };
}

const globalPool: ShapeRule = ({ inputs: [x] }) => x && x.dims.length >= 3 ? [{ dims: [x.dims[0], x.dims[1], ...x.dims.slice(2).map(() => 1)], dtype: x.dtype }] : undefined;

const flatten: ShapeRule = ({ node, inputs: [x] }) => {
  if (!x) return undefined;
  const axis = axisOf(attr(node, 'axis', 'int') ?? 1, x.dims.length);
  if (axis < 0 || axis > x.dims.length) return undefined;
  return [withValue([size(x.dims.slice(0, axis)), size(x.dims.slice(axis))], x.dtype, x.value)];
};

const gemm: ShapeRule = ({ node, inputs: [a, b] }) => {
  if (!a || !b || a.dims.length !== 2 || b.dims.length !== 2) return undefined;
  const m = attr(node, 'transA', 'int') ? a.dims[1] : a.dims[0];
  const n = attr(node, 'transB', 'int') ? b.dims[0] : b.dims[1];
  return [{ dims: [m, n], dtype: a.dtype }];
};

const matMul: ShapeRule = ({ inputs: [a, b] }) => {
  if (!a || !b || a.dims.length === 0 || b.dims.length === 0) return undefined;
  const da = a.dims.length === 1 ? [1, a.dims[0]] : a.dims;
  const db = b.dims.length === 1 ? [b.dims[0], 1] : b.dims;
  if (da.at(-1) !== db.at(-2)) return undefined;
  const batch = broadcast([da.slice(0, -2), db.slice(0, -2)]);
  if (!batch) return undefined;
  const dims = [...batch, ...(a.dims.length === 1 ? [] : [da.at(-2)!]), ...(b.dims.length === 1 ? [] : [db.at(-1)!])];
  return [{ dims, dtype: a.dtype }];
};

const reshape: ShapeRule = ({ node, inputs: [x, shape] }) => {
  const target = values(shape);
  if (!x || !target) return undefined;
  const allowZero = attr(node, 'allowzero', 'int') === 1;
  const dims = target.map((d, i) => (d === 0 && !allowZero ? x.dims[i] : d));
  const known = size(dims.filter((d) => d !== -1));
  const free = dims.filter((d) => d === -1).length;
  if (free > 1 || dims.some((d) => d === undefined || d < -1)) return undefined;
  if (free === 1) {
    if (known === 0 || size(x.dims) % known !== 0) return undefined;
    dims[dims.indexOf(-1)] = size(x.dims) / known;
  }
  if (size(dims) !== size(x.dims)) return undefined;
  return [withValue(dims, x.dtype, x.value)];
};

const transpose: ShapeRule = ({ node, inputs: [x] }) => {
  if (!x) return undefined;
  const perm = attr(node, 'perm', 'ints') ?? x.dims.map((_, i) => x.dims.length - 1 - i);
  if (perm.length !== x.dims.length) return undefined;
  return [{ dims: perm.map((p) => x.dims[p]), dtype: x.dtype }];
};

const concat: ShapeRule = ({ node, inputs }) => {
  const parts = inputs.filter((x): x is Known => x !== undefined);
  if (parts.length !== inputs.length || parts.length === 0) return undefined;
  const rank = parts[0].dims.length;
  const axis = axisOf(attr(node, 'axis', 'int') ?? 0, rank);
  if (parts.some((p) => p.dims.length !== rank || p.dims.some((d, a) => a !== axis && d !== parts[0].dims[a]))) return undefined;
  const dims = [...parts[0].dims];
  dims[axis] = parts.reduce((s, p) => s + p.dims[axis], 0);
  const value = rank === 1 && parts.every((p) => p.value) ? parts.flatMap((p) => p.value!) : undefined;
  return [withValue(dims, parts[0].dtype, value)];
};

/** Axes from the attribute (older opsets) or the second input (newer ones); [] when neither is given. */
function axesOf(node: onnx.INodeProto, input: Known | undefined, fromInput: boolean): number[] | undefined {
  if (fromInput) return input ? values(input) : [];
  return attr(node, 'axes', 'ints') ?? [];
}

const squeeze: ShapeRule = ({ node, inputs: [x, axesInput], opset }) => {
  const axes = axesOf(node, axesInput, opset >= 13);
  if (!x || !axes) return undefined;
  const drop = new Set(axes.length ? axes.map((a) => axisOf(a, x.dims.length)) : x.dims.flatMap((d, i) => (d === 1 ? [i] : [])));
  if ([...drop].some((a) => x.dims[a] !== 1)) return undefined;
  return [withValue(x.dims.filter((_, i) => !drop.has(i)), x.dtype, x.value)];
};

const unsqueeze: ShapeRule = ({ node, inputs: [x, axesInput], opset }) => {
  const axes = axesOf(node, axesInput, opset >= 13);
  if (!x || !axes || axes.length === 0) return undefined;
  const rank = x.dims.length + axes.length;
  const at = new Set(axes.map((a) => axisOf(a, rank)));
  const dims: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) dims.push(at.has(i) ? 1 : x.dims[k++]);
  return [withValue(dims, x.dtype, x.value)];
};

function reduce(axesFromInputSince: number): ShapeRule {
  return ({ node, inputs: [x, axesInput], opset }) => {
    const axes = axesOf(node, axesInput, opset >= axesFromInputSince);
    if (!x || !axes) return undefined;
    if (axes.length === 0 && attr(node, 'noop_with_empty_axes', 'int') === 1) return [same(x)];
    const keep = (attr(node, 'keepdims', 'int') ?? 1) === 1;
    const reduced = new Set(axes.length ? axes.map((a) => axisOf(a, x.dims.length)) : x.dims.map((_, i) => i));
    const dims = x.dims.flatMap((d, i) => (reduced.has(i) ? (keep ? [1] : []) : [d]));
    return [{ dims, dtype: x.dtype }];
  };
}

const argMax: ShapeRule = ({ node, inputs: [x] }) => {
  if (!x) return undefined;
  const axis = axisOf(attr(node, 'axis', 'int') ?? 0, x.dims.length);
  const keep = (attr(node, 'keepdims', 'int') ?? 1) === 1;
  return [{ dims: x.dims.flatMap((d, i) => (i === axis ? (keep ? [1] : []) : [d])), dtype: 'int64' }];
};

const slice: ShapeRule = ({ inputs: [x, startsIn, endsIn, axesIn, stepsIn] }) => {
  const starts = values(startsIn), ends = values(endsIn);
  if (!x || !starts || !ends || (axesIn && !axesIn.value) || (stepsIn && !stepsIn.value)) return undefined;
  const axes = axesIn?.value ?? starts.map((_, i) => i);
  const steps = stepsIn?.value ?? starts.map(() => 1);
  const dims = [...x.dims];
  const picked: number[][] = x.dims.map((d) => Array.from({ length: d }, (_, i) => i));
  for (let k = 0; k < axes.length; k++) {
    const a = axisOf(axes[k], dims.length), d = x.dims[a], step = steps[k];
    if (step === 0 || a < 0 || a >= dims.length) return undefined;
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
    const start = step > 0 ? clamp(starts[k], 0, d) : clamp(starts[k], -1, d - 1);
    const end = step > 0 ? clamp(ends[k], 0, d) : clamp(ends[k], -1, d - 1);
    const count = Math.max(0, Math.ceil((end - start) / step));
    dims[a] = count;
    picked[a] = Array.from({ length: count }, (_, i) => start + i * step);
  }
  const value = x.value && x.dims.length === 1 ? picked[0].map((i) => x.value![i]) : undefined;
  return [withValue(dims, x.dtype, value)];
};

const split: ShapeRule = ({ node, inputs: [x, splitIn], opset }) => {
  if (!x) return undefined;
  const axis = axisOf(attr(node, 'axis', 'int') ?? 0, x.dims.length);
  const outputs = (node.output ?? []).length;
  let parts = opset >= 13 ? (splitIn ? values(splitIn) : undefined) : attr(node, 'split', 'ints');
  if (opset >= 13 && splitIn && !parts) return undefined;
  if (!parts || parts.length === 0) {
    const numOutputs = attr(node, 'num_outputs', 'int') ?? outputs;
    const chunk = Math.ceil(x.dims[axis] / numOutputs);
    parts = Array.from({ length: numOutputs }, (_, i) => Math.max(0, Math.min(chunk, x.dims[axis] - i * chunk)));
  }
  return parts.map((p) => ({ dims: x.dims.map((d, i) => (i === axis ? p : d)), dtype: x.dtype }));
};

const pad: ShapeRule = ({ node, inputs: [x, padsIn, , axesIn], opset }) => {
  if (!x) return undefined;
  const pads = opset >= 11 ? values(padsIn) : attr(node, 'pads', 'ints');
  if (!pads) return undefined;
  const axes = axesIn ? values(axesIn)?.map((a) => axisOf(a, x.dims.length)) : x.dims.map((_, i) => i);
  if (!axes || pads.length !== 2 * axes.length) return undefined;
  const dims = [...x.dims];
  axes.forEach((a, k) => (dims[a] += pads[k] + pads[k + axes.length]));
  return [{ dims, dtype: x.dtype }];
};

const shape: ShapeRule = ({ node, inputs: [x] }) => {
  if (!x) return undefined;
  const rank = x.dims.length;
  const start = Math.max(0, Math.min(rank, axisOf(attr(node, 'start', 'int') ?? 0, rank)));
  const endAttr = attr(node, 'end', 'int');
  const end = endAttr === undefined ? rank : Math.max(0, Math.min(rank, axisOf(endAttr, rank)));
  const value = x.dims.slice(start, Math.max(start, end));
  return [withValue([value.length], 'int64', value)];
};

const gather: ShapeRule = ({ node, inputs: [data, indices] }) => {
  if (!data || !indices) return undefined;
  const axis = axisOf(attr(node, 'axis', 'int') ?? 0, data.dims.length);
  const dims = [...data.dims.slice(0, axis), ...indices.dims, ...data.dims.slice(axis + 1)];
  let value: number[] | undefined;
  if (data.value && indices.value && data.dims.length === 1) value = indices.value.map((i) => data.value![i < 0 ? i + data.dims[0] : i]);
  return [withValue(dims, data.dtype, value)];
};

const cast: ShapeRule = ({ node, inputs: [x] }) => {
  const to = ELEM_TYPE[attr(node, 'to', 'int') ?? -1];
  if (!x || !to) return undefined;
  return [withValue([...x.dims], to, x.value?.map(Math.trunc))];
};

const expand: ShapeRule = ({ inputs: [x, shapeIn] }) => {
  const target = values(shapeIn);
  const dims = x && target && broadcast([x.dims, target]);
  return dims ? [{ dims, dtype: x.dtype }] : undefined;
};

const where: ShapeRule = ({ inputs }) => {
  if (inputs.some((x) => !x)) return undefined;
  const [c, x, y] = inputs as Known[];
  const dims = broadcast([c.dims, x.dims, y.dims]);
  if (!dims) return undefined;
  const pick = (i: number) => (broadcastValue(c.value!, c.dims, dims, i) ? broadcastValue(x.value!, x.dims, dims, i) : broadcastValue(y.value!, y.dims, dims, i));
  return [withValue(dims, x.dtype, c.value && x.value && y.value ? Array.from({ length: size(dims) }, (_, i) => pick(i)) : undefined)];
};

const constantOfShape: ShapeRule = ({ node, inputs: [shapeIn] }) => {
  const dims = values(shapeIn);
  if (!dims) return undefined;
  const t = node.attribute?.find((a) => a.name === 'value')?.t;
  const dtype = t ? ELEM_TYPE[t.dataType ?? -1] : 'float32';
  if (!dtype) return undefined;
  const fill = t ? (VALUED.has(dtype) ? Number(tensorData(t)[0] ?? 0) : undefined) : undefined;
  return [withValue(dims, dtype, fill === undefined ? undefined : Array(size(dims)).fill(fill))];
};

const resize: ShapeRule = ({ node, inputs: [x, , scalesIn, sizesIn] }) => {
  if (!x || attr(node, 'axes', 'ints') || (attr(node, 'keep_aspect_ratio_policy', 'string') ?? 'stretch') !== 'stretch') return undefined;
  const sizes = values(sizesIn);
  if (sizes && sizes.length === x.dims.length) return [{ dims: [...sizes], dtype: x.dtype }];
  const scales = scalesIn?.floats;
  if (!scales || scales.length !== x.dims.length) return undefined;
  return [{ dims: x.dims.map((d, i) => Math.floor(d * scales[i])), dtype: x.dtype }];
};

const dropout: ShapeRule = ({ inputs: [x] }) => x && [same(x), { dims: [...x.dims], dtype: 'bool' }];

const truncDiv = (a: number, b: number) => (b === 0 ? NaN : Math.trunc(a / b));
const comparison = (test: (a: number, b: number) => boolean) => elementwise((a, b) => (test(a, b) ? 1 : 0), 'bool');

/** One rule per op type (the default domain, and the com.microsoft fusions ORT writes into saved models). */
const SHAPE_RULES: ReadonlyMap<string, ShapeRule> = new Map<string, ShapeRule>([
  ...['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'HardSigmoid', 'HardSwish', 'Erf', 'Sqrt', 'Exp', 'Log', 'Neg', 'Abs', 'Elu', 'Selu',
    'Celu', 'Softplus', 'Softsign', 'Gelu', 'Mish', 'Softmax', 'LogSoftmax', 'Clip', 'BatchNormalization', 'LRN',
    'InstanceNormalization', 'LayerNormalization', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Not',
    'ThresholdedRelu', 'Shrink'].map((op) => [op, unary] as const),
  ['Identity', ({ inputs: [x] }) => x && [withValue([...x.dims], x.dtype, x.value)]],
  ['PRelu', elementwise()],
  ['Add', elementwise((a, b) => a + b)],
  ['Sub', elementwise((a, b) => a - b)],
  ['Mul', elementwise((a, b) => a * b)],
  ['Div', elementwise(truncDiv)],
  ['Pow', elementwise()],
  ...['Max', 'Min', 'Sum', 'Mean'].map((op) => [op, elementwise()] as const),
  ['Equal', comparison((a, b) => a === b)],
  ['Less', comparison((a, b) => a < b)],
  ['Greater', comparison((a, b) => a > b)],
  ['LessOrEqual', comparison((a, b) => a <= b)],
  ['GreaterOrEqual', comparison((a, b) => a >= b)],
  ['And', comparison((a, b) => a !== 0 && b !== 0)],
  ['Or', comparison((a, b) => a !== 0 || b !== 0)],
  ['Xor', comparison((a, b) => (a !== 0) !== (b !== 0))],
  ['Where', where],
  ['Conv', conv],
  ['com.microsoft.FusedConv', conv],
  ['MaxPool', pool(true)],
  ['AveragePool', pool(true)],
  ['LpPool', pool(true)],
  ['GlobalAveragePool', globalPool],
  ['GlobalMaxPool', globalPool],
  ['GlobalLpPool', globalPool],
  ['Flatten', flatten],
  ['Gemm', gemm],
  ['com.microsoft.FusedGemm', gemm],
  ['MatMul', matMul],
  ['Reshape', reshape],
  ['Transpose', transpose],
  ['Concat', concat],
  ['Split', split],
  ['Slice', slice],
  ['Squeeze', squeeze],
  ['Unsqueeze', unsqueeze],
  ...['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp', 'ReduceSumSquare'].map((op) => [op, reduce(18)] as const),
  ['ReduceSum', reduce(13)],
  ['ArgMax', argMax],
  ['ArgMin', argMax],
  ['Pad', pad],
  ['Shape', shape],
  ['Gather', gather],
  ['Cast', cast],
  ['Expand', expand],
  ['ConstantOfShape', constantOfShape],
  ['Resize', resize],
  ['Dropout', dropout],
]);

/** An initializer or Constant value as inference knows it. */
function fromTensor(t: onnx.ITensorProto): Known | undefined {
  const dtype = ELEM_TYPE[t.dataType ?? -1];
  if (!dtype) return undefined;
  const dims = (t.dims ?? []).map(toNumber);
  if (size(dims) > MAX_VALUE_LENGTH) return { dims, dtype };
  if (dtype === 'float32') return { dims, dtype, floats: Array.from(tensorData(t) as Float32Array) };
  if (!VALUED.has(dtype)) return { dims, dtype };
  return withValue(dims, dtype, Array.from(tensorData(t) as ArrayLike<number | bigint>, Number));
}

function constantNode(node: onnx.INodeProto): Known | undefined {
  const a = node.attribute?.[0];
  if (!a) return undefined;
  if (a.t) return fromTensor(a.t);
  if (a.name === 'value_int') return withValue([], 'int64', [toNumber(a.i)]);
  if (a.name === 'value_ints') return withValue([a.ints?.length ?? 0], 'int64', (a.ints ?? []).map(toNumber));
  if (a.name === 'value_float') return { dims: [], dtype: 'float32', floats: [a.f ?? 0] };
  if (a.name === 'value_floats') return { dims: [a.floats?.length ?? 0], dtype: 'float32', floats: [...(a.floats ?? [])] };
  return undefined;
}

/**
 * Infers the dims and types of every node output when `input` is fed at `batch` x `height` x `width`, or names the
 * first node it cannot follow. The result holds node outputs only, like a probe run's.
 */
export function inferShapes(index: GraphIndex, input: ImageInput, opset: number, at: { batch: number; height: number; width: number }): InferenceResult {
  const known = new Map<string, Known>();
  for (const [name, t] of index.initializers) {
    const k = fromTensor(t);
    if (k) known.set(name, k);
  }
  known.set(input.name, {
    dims: input.layout === 'NCHW' ? [at.batch, input.channels, at.height, at.width] : [at.batch, at.height, at.width, input.channels],
    dtype: 'float32',
  });
  const shapes = new Map<string, TensorInfo>();
  for (const node of index.graph.node ?? []) {
    const domain = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.` : '';
    const what = `${node.opType} node "${node.name || node.output?.[0] || ''}"`;
    let outputs: (Known | undefined)[] | undefined;
    if (node.opType === 'Constant' && !domain) {
      outputs = [constantNode(node)];
    } else {
      const rule = SHAPE_RULES.get(`${domain}${node.opType}`);
      if (!rule) return { unknown: `no shape rule for ${what}` };
      const inputs = (node.input ?? []).map((name) => (name ? known.get(name) : undefined));
      if ((node.input ?? []).some((name, i) => name && !inputs[i])) return { unknown: `an input of ${what} has no known shape` };
      outputs = rule({ node, inputs, opset });
    }
    const names = node.output ?? [];
    for (let i = 0; i < names.length; i++) {
      if (!names[i]) continue;
      const out = outputs?.[i];
      if (!out || out.dims.some((d) => !Number.isSafeInteger(d) || d < 0)) return { unknown: `cannot infer the shape of ${what}` };
      known.set(names[i], out);
      shapes.set(names[i], { dims: out.dims, dtype: out.dtype });
    }
  }
  return { shapes };
}

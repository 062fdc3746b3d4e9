/**
 * Gradient checker for the backward builder (after ONNX Runtime's gradient_checker): the emitted gradient of
 * L = sum(y * dy) w.r.t. x, from one ORT run of forward + backward with a random seed `dy`, is compared with central
 * finite differences of L computed from ORT forward runs.
 *
 * ORT's CPU kernels are float32, so: step h = 1e-2 (1e-3 where a case asks, e.g. near Relu kinks), and an element
 * passes when
 *   |grad - fd| <= ATOL + RTOL * |fd|   with ATOL = 3e-4, RTOL = 3e-3.
 * Central differences have truncation error h^2/6 * |f'''| (1e-4 for x^3, below 2e-5 for the other smooth ops) and
 * float32 round-off of about 1e-7 * |y| / h per affected output; across the suite the worst element uses 0.27 of
 * this bound, while a wrong rule is off by O(|grad|). Test points stay >= 5h away from kinks and MaxPool ties.
 *
 * When the graph is separable along the batch (each sample's y depends only on its own x), all perturbations run as
 * one forward batch; otherwise each perturbation is its own batch-2 run.
 */
import { appendFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { buildBackward } from '../../src/autodiff/index.ts';
import { makeTensor, makeValueInfo, toNodeProto, type NodeSpec } from '../../src/onnx/builder.ts';
import { GraphIndex } from '../../src/onnx/graph.ts';
import { encodeModel } from '../../src/onnx/model.ts';
import type { TensorInfo } from '../../src/onnx/probe.ts';
import { DataType, onnx } from '../../src/onnx/proto.ts';
import { mulberry32 } from '../../src/numeric.ts';

export const ATOL = 3e-4;
export const RTOL = 3e-3;

export interface GradCase {
  opset: number;
  /** Dims of the target activation `x` at batch 2 (axis 0 is the batch and stays symbolic). */
  input: number[];
  /** Forward nodes from `x` to `y`. */
  nodes: NodeSpec[];
  initializers?: onnx.TensorProto[];
  /** x's values (batch 2); default uniform in [-1, 1]. */
  values?: ArrayLike<number>;
  /** Whether each sample's y depends only on its own x (default true). */
  separable?: boolean;
  h?: number;
  seed?: number;
  /** Probe tensors (by name) whose values must stay at least `margin` away from each kink point. */
  kinks?: { tensor: string; at: number[]; margin: number }[];
}

export interface GradReport {
  grad: Float32Array;
  fd: Float64Array;
  /** max |grad - fd| and the worst |grad - fd| / (ATOL + RTOL |fd|) (must be <= 1). */
  maxAbsError: number;
  worst: number;
  /** The emitted backward nodes' op types. */
  ops: string[];
  y: ort.Tensor;
}

/** Deterministic uniform numbers in [lo, hi) (mulberry32). */
export function random(seed: number, count: number, lo = -1, hi = 1): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: count }, () => lo + (hi - lo) * next());
}

/** Random values at least `margin` away from `kink` (magnitudes in [margin, 1]). */
export function awayFrom(kink: number, margin: number, seed: number, count: number): Float32Array {
  const u = random(seed, count);
  return u.map((v) => kink + Math.sign(v || 1) * (margin + (1 - margin) * Math.abs(v)));
}

/** Distinct values spaced `gap` apart, shuffled: no ties within any window. */
export function distinct(count: number, seed: number, gap = 0.05): Float32Array {
  const order = Array.from(random(seed, count), (r, i) => [r, i] as const).sort((p, q) => p[0] - q[0]);
  const out = new Float32Array(count);
  order.forEach(([, i], rank) => (out[i] = (rank - count / 2) * gap));
  return out;
}

export const floatTensor = (name: string, dims: number[], values: ArrayLike<number>) => makeTensor(name, 'float32', dims, values);
export const intTensor = (name: string, dims: number[], values: ArrayLike<number>) => makeTensor(name, 'int64', dims, values);

export function model(opset: number, nodes: (NodeSpec | onnx.NodeProto)[], initializers: onnx.TensorProto[], inputs: onnx.IValueInfoProto[], outputs: string[]): Uint8Array {
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opset }, { domain: 'com.microsoft', version: 1 }],
    producerName: 'heatgate-test',
    graph: {
      name: 'g',
      node: nodes.map((n) => (n instanceof onnx.NodeProto ? n : toNodeProto(n as NodeSpec))),
      initializer: initializers,
      input: inputs,
      output: outputs.map((name) => ({ name })),
    },
  });
}

const size = (dims: readonly number[]) => dims.reduce((p, q) => p * q, 1);
const symbolic = (dims: readonly number[]) => ['N', ...dims.slice(1)];

/** Everything a test needs to run the augmented graph at any batch. */
export interface Augmented {
  session: ort.InferenceSession;
  gradient: string;
  nodes: onnx.NodeProto[];
  yDims: number[];
  probe: ort.InferenceSession;
  values: Float32Array;
  close(): Promise<void>;
}

/** Probes the forward graph at batch 2 and builds the augmented (forward + backward) session. */
export async function augment(c: GradCase): Promise<Augmented> {
  const inits = c.initializers ?? [];
  const allOutputs = [...new Set(c.nodes.flatMap((n) => n.outputs).filter((o) => o))];
  const xInfo = makeValueInfo('x', DataType.FLOAT, symbolic(c.input));
  const probe = await ort.InferenceSession.create(model(c.opset, c.nodes, inits, [xInfo], allOutputs), { logSeverityLevel: 3 });
  const values = c.values ? Float32Array.from(c.values) : random(c.seed ?? 1, size(c.input));
  const probed = await probe.run({ x: new ort.Tensor('float32', values, c.input) });
  const shapes = new Map<string, TensorInfo>([['x', { dims: c.input, dtype: 'float32' }]]);
  for (const name of allOutputs) shapes.set(name, { dims: [...probed[name].dims], dtype: probed[name].type });
  for (const k of c.kinks ?? []) {
    const data = probed[k.tensor].data as Float32Array;
    const distance = Math.min(...Array.from(data, (v) => Math.min(...k.at.map((p) => Math.abs(v - p)))));
    expect(distance, `values of ${k.tensor} must stay away from kinks ${k.at}`).toBeGreaterThan(k.margin);
  }
  const graph = { node: c.nodes.map(toNodeProto), initializer: inits };
  const result = buildBackward({ graph, index: new GraphIndex(graph), from: 'x', to: 'y', seed: 'dy', shapes, opset: c.opset, file: 'test.onnx' });
  const yDims = shapes.get('y')!.dims;
  const bytes = model(
    c.opset,
    [...c.nodes.map(toNodeProto), ...result.nodes],
    [...inits, ...result.initializers],
    [xInfo, makeValueInfo('dy', DataType.FLOAT, symbolic(yDims))],
    ['y', result.gradient],
  );
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  return {
    session, gradient: result.gradient, nodes: result.nodes, yDims, probe, values,
    close: async () => {
      await session.release();
      await probe.release();
    },
  };
}

/** Runs the check; asserts every element within tolerance and returns the numbers. */
export async function gradCheck(c: GradCase): Promise<GradReport> {
  const h = c.h ?? 1e-2;
  const aug = await augment(c);
  try {
    const x = aug.values;
    const yDims = aug.yDims;
    const dy = random((c.seed ?? 1) + 1000, size(yDims));
    const out = await aug.session.run({ x: new ort.Tensor('float32', x, c.input), dy: new ort.Tensor('float32', dy, yDims) });
    const grad = Float32Array.from(out[aug.gradient].data as Float32Array);
    expect([...out[aug.gradient].dims]).toEqual(c.input);
    const fd = c.separable === false ? await fdSequential(aug.probe, c.input, x, dy, h) : await fdBatched(aug.probe, c.input, x, dy, yDims, h);
    let maxAbsError = 0, worst = 0;
    for (let i = 0; i < fd.length; i++) {
      const err = Math.abs(grad[i] - fd[i]);
      maxAbsError = Math.max(maxAbsError, err);
      worst = Math.max(worst, err / (ATOL + RTOL * Math.abs(fd[i])));
    }
    if (!(worst <= 1)) {
      const bad = Array.from(fd, (f, i) => [i, grad[i], f] as const).filter(([, g, f]) => !(Math.abs(g - f) <= ATOL + RTOL * Math.abs(f)));
      throw new Error(`gradient mismatch at ${bad.length}/${fd.length} elements, e.g. ${bad.slice(0, 6).map(([i, g, f]) => `[${i}] ${g.toFixed(5)} vs fd ${f.toFixed(5)}`).join('; ')}`);
    }
    // GRAD_REPORT=file collects the measured errors (for the tolerance table in src/autodiff/README.md).
    if (process.env.GRAD_REPORT) appendFileSync(process.env.GRAD_REPORT, `${JSON.stringify({ test: expect.getState().currentTestName, maxAbsError, worst, elements: fd.length })}\n`);
    return { grad, fd, maxAbsError, worst, ops: aug.nodes.map((n) => n.opType), y: out.y };
  } finally {
    await aug.close();
  }
}

/**
 * Central-difference inputs for one sample `x` of `per` elements: row 2j is x with element j moved by +h, row 2j+1
 * by -h. Score row 2j minus row 2j+1, over 2h, is the derivative along element j.
 */
export function centralDifferenceRows(x: Float32Array, h: number): Float32Array {
  const per = x.length;
  const batch = new Float32Array(2 * per * per);
  for (let j = 0; j < per; j++) {
    for (const [row, sign] of [[2 * j, 1], [2 * j + 1, -1]] as const) {
      batch.set(x, row * per);
      batch[row * per + j] += sign * h;
    }
  }
  return batch;
}

/** All 2 * m * 2 perturbed samples in one run: row (n, j, sign) is x[n] with element j moved by sign * h. */
async function fdBatched(probe: ort.InferenceSession, dims: number[], x: Float32Array, dy: Float32Array, yDims: number[], h: number): Promise<Float64Array> {
  const m = size(dims) / dims[0], ym = size(yDims) / yDims[0], n = dims[0];
  const batch = new Float32Array(n * m * 2 * m);
  for (let s = 0; s < n; s++) {
    for (let j = 0; j < m; j++) {
      for (let sign = 0; sign < 2; sign++) {
        const row = ((s * m + j) * 2 + sign) * m;
        batch.set(x.subarray(s * m, (s + 1) * m), row);
        batch[row + j] += sign === 0 ? h : -h;
      }
    }
  }
  const y = (await probe.run({ x: new ort.Tensor('float32', batch, [n * m * 2, ...dims.slice(1)]) }, ['y'])).y.data as Float32Array;
  const fd = new Float64Array(n * m);
  for (let s = 0; s < n; s++) {
    for (let j = 0; j < m; j++) {
      let plus = 0, minus = 0;
      const base = (s * m + j) * 2;
      for (let k = 0; k < ym; k++) {
        plus += y[base * ym + k] * dy[s * ym + k];
        minus += y[(base + 1) * ym + k] * dy[s * ym + k];
      }
      fd[s * m + j] = (plus - minus) / (2 * h);
    }
  }
  return fd;
}

/** One batch-2 run per perturbation, for graphs that mix samples. */
async function fdSequential(probe: ort.InferenceSession, dims: number[], x: Float32Array, dy: Float32Array, h: number): Promise<Float64Array> {
  const fd = new Float64Array(x.length);
  const loss = async (v: Float32Array) => {
    const y = (await probe.run({ x: new ort.Tensor('float32', v, dims) }, ['y'])).y.data as Float32Array;
    let l = 0;
    for (let k = 0; k < y.length; k++) l += y[k] * dy[k];
    return l;
  };
  for (let i = 0; i < x.length; i++) {
    const v = Float32Array.from(x);
    v[i] = x[i] + h;
    const plus = await loss(v);
    v[i] = x[i] - h;
    fd[i] = (plus - (await loss(v))) / (2 * h);
  }
  return fd;
}

/** The augmented graph's gradient at a given batch (for batch-independence and exact-kink tests). */
export async function gradientAt(aug: Augmented, dims: number[], x: Float32Array, dy: Float32Array): Promise<Float32Array> {
  const out = await aug.session.run({ x: new ort.Tensor('float32', x, dims), dy: new ort.Tensor('float32', dy, [dims[0], ...aug.yDims.slice(1)]) });
  return Float32Array.from(out[aug.gradient].data as Float32Array);
}

/**
 * Several operands carved out of one flat `x` [2, total] (Slice + Reshape), so binary rules get gradients for both
 * sides. An operand whose batch dim is 1 is summed over the batch (the graph is then not separable).
 */
export function carve(opset: number, operands: { name: string; dims: number[] }[]): { input: number[]; nodes: NodeSpec[]; initializers: onnx.TensorProto[] } {
  const nodes: NodeSpec[] = [], initializers: onnx.TensorProto[] = [];
  let offset = 0;
  for (const { name, dims } of operands) {
    const per = size(dims.slice(1));
    initializers.push(intTensor(`${name}_s`, [1], [offset]), intTensor(`${name}_e`, [1], [offset + per]), intTensor(`${name}_ax`, [1], [1]));
    initializers.push(intTensor(`${name}_shape`, [dims.length], [-1, ...dims.slice(1)]));
    nodes.push({ opType: 'Slice', inputs: ['x', `${name}_s`, `${name}_e`, `${name}_ax`], outputs: [`${name}_flat`] });
    if (dims[0] === 1) {
      nodes.push(opset < 13
        ? { opType: 'ReduceSum', inputs: [`${name}_flat`], outputs: [`${name}_sum`], attributes: { axes: [0], keepdims: 1 } }
        : { opType: 'ReduceSum', inputs: [`${name}_flat`, `${name}_zero`], outputs: [`${name}_sum`], attributes: { keepdims: 1 } });
      if (opset >= 13) initializers.push(intTensor(`${name}_zero`, [1], [0]));
      nodes.push({ opType: 'Reshape', inputs: [`${name}_sum`, `${name}_shape`], outputs: [name] });
    } else {
      nodes.push({ opType: 'Reshape', inputs: [`${name}_flat`, `${name}_shape`], outputs: [name] });
    }
    offset += per;
  }
  return { input: [2, offset], nodes, initializers };
}

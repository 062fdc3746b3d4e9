import { InputError, UnsupportedOpError } from '../errors.ts';
import { makeTensor, toNodeProto, type AttrValue } from '../onnx/builder.ts';
import { nodesBetween, type GraphIndex } from '../onnx/graph.ts';
import type { TensorInfo } from '../onnx/probe.ts';
import { DataType, onnx, toNumber } from '../onnx/proto.ts';
import { isFloatType, reduceSum, reshapeLike, zerosLike, type Ops } from './emit.ts';
import { NON_DIFFERENTIABLE, opKey, ruleFor, supportedOps } from './registry.ts';
import type { GradContext } from './types.ts';

export interface BackwardRequest {
  /** The forward graph; it is not modified. */
  graph: onnx.IGraphProto;
  index: GraphIndex;
  /** A: the target activation. */
  from: string;
  /** The score tensor (e.g. logits [N, C]). */
  to: string;
  /** dScore/d`to`: a tensor the caller produces (same shape as `to`), or the class indices of a one-hot seed. */
  seed: string | OneHotSeed;
  /** Probe dims/dtypes of the tensors on the path and their other inputs (initializers may be left out). */
  shapes: ReadonlyMap<string, TensorInfo>;
  opset: number;
  /** For error messages. */
  file: string;
  /** Name prefix for emitted tensors, unique in the graph. */
  prefix?: string;
  /**
   * The caller takes dA with size-1 axes where it is constant along A's (after a global pool: [N, C, 1, 1]), and
   * broadcasts it itself; `gradientDims` says which. Default: dA is expanded to A's shape.
   */
  broadcastGradient?: boolean;
}

/**
 * A one-hot seed, dScore/d`to`[n, c] = [c == classes[n]] for `to` [N, C] (the score of one class per image). Rules
 * that can use it gather the selected rows instead (Gemm: a row of the weight); elsewhere it is emitted as OneHot.
 */
export interface OneHotSeed {
  /** An int64 [N] tensor the caller produces. */
  classes: string;
}

export interface BackwardResult {
  nodes: onnx.NodeProto[];
  initializers: onnx.TensorProto[];
  /** dScore/dA: same shape as `from`, or with `broadcastGradient` size 1 along the axes it is constant on. */
  gradient: string;
  /** Probe dims of `gradient`. */
  gradientDims: readonly number[];
}

/**
 * A contribution to a tensor's gradient: a tensor, with its probe dims while it still has to be expanded to the
 * forward tensor's shape; or the one-hot seed, emitted as OneHot only when a rule asks for it dense.
 */
type Grad = { name: string; expandFrom?: readonly number[] } | { classes: string };

const ORT_TYPES: Record<string, number> = {
  float32: DataType.FLOAT, float64: DataType.DOUBLE, float16: DataType.FLOAT16, int64: DataType.INT64,
  int32: DataType.INT32, int8: DataType.INT8, uint8: DataType.UINT8, bool: DataType.BOOL, string: DataType.STRING,
};

/**
 * Emits plain ai.onnx nodes computing d(score)/dA for the head between `from` and `to`. The driver owns what is
 * common to all ops: the head subgraph, reverse topological order, fan-out accumulation (Sum), un-broadcasting,
 * zeros for outputs that receive nothing, skipping inputs that do not depend on A, and the unsupported-op error.
 */
export function buildBackward(req: BackwardRequest): BackwardResult {
  const prefix = req.prefix ?? 'heatgate_grad/';
  const emitter = new Emitter(prefix, req.opset);
  const info = new TensorFacts(req);
  const head = req.from === req.to ? [] : nodesBetween(req.index, req.from, req.to);
  if (req.from !== req.to && head.length === 0) {
    throw new InputError(`the score tensor "${req.to}" does not depend on the target activation "${req.from}"`, req.file);
  }

  // Forward pass over the head: which tensors carry a gradient (float, reached from A through differentiable ops).
  const flows = new Set<string>([req.from]);
  for (const node of head) {
    if (NON_DIFFERENTIABLE.has(opKey(node.opType ?? '', node.domain))) continue;
    if (!(node.input ?? []).some((i) => i && flows.has(i))) continue;
    for (const out of node.output ?? []) if (out && isFloatType(info.elemType(out))) flows.add(out);
  }

  const contributions = new Map<string, Grad[]>();
  const driverOps = emitter.scoped('', () => 'float32');
  /** The summed gradient of `tensor` (one Sum node for fan-out), or undefined when nothing flows into it. */
  const accumulated = (tensor: string): Grad | undefined => {
    const list = contributions.get(tensor);
    if (!list || list.length === 0) return undefined;
    if (list.length > 1) {
      const parts = list.map((g) => g as Exclude<Grad, { classes: string }>); // the one-hot seed has no other contributions
      const sum = driverOps.op('Sum', parts.map((g) => g.name), {}, `acc/${tensor}`);
      // Sum broadcasts: the total still needs expanding only along axes every part has at size 1.
      const compact = parts.every((g) => g.expandFrom) ? parts.map((g) => g.expandFrom!).reduce((a, b) => a.map((d, k) => Math.max(d, b[k]))) : undefined;
      contributions.set(tensor, [compactOrDense(sum, compact, info.dims(tensor, tensor))]);
    }
    return contributions.get(tensor)![0];
  };
  /** The gradient as a tensor of `tensor`'s full shape: the one-hot seed emitted, a compact gradient expanded. */
  const dense = (tensor: string, grad: Grad, ops: Ops): string => {
    if ('classes' in grad) {
      const depth = ops.constant([info.dims(tensor, tensor)[1]], 'int64');
      return ops.op('OneHot', [grad.classes, depth, ops.constant([0, 1])], { axis: -1 }, 'seed');
    }
    if (!grad.expandFrom) return grad.name;
    // Expand broadcasts the batch axis from the gradient itself when the gradient kept it, so the target shape can be
    // a constant [1, ...] and the forward tensor need not be read.
    const full = info.dims(tensor, tensor);
    const shape = grad.expandFrom[0] === full[0] ? driverOps.constant([1, ...full.slice(1)], 'int64') : driverOps.op('Shape', [tensor], {}, 'shape');
    return driverOps.op('Expand', [grad.name, shape], {}, `expand/${tensor}`);
  };
  if (flows.has(req.to)) contributions.set(req.to, [typeof req.seed === 'string' ? { name: req.seed } : { classes: req.seed.classes }]);

  const position = new Map((req.graph.node ?? []).map((n, i) => [n, i]));
  for (const node of [...head].reverse()) {
    if (!(node.output ?? []).some((o) => o && contributions.has(o))) continue;
    const nodeName = node.name || `#${position.get(node)} (${node.output?.[0] ?? ''})`;
    const key = opKey(node.opType ?? '', node.domain);
    const rule = ruleFor(key);
    if (!rule) throw new UnsupportedOpError(key, nodeName, supportedOps(), req.file);

    const scope = `${node.opType}_${position.get(node)}/`;
    const needs = (i: number) => Boolean(node.input?.[i]) && flows.has(node.input![i]);
    const fail: (reason: string) => never = (reason) => {
      throw new InputError(`cannot differentiate ${node.opType} node "${nodeName}": ${reason}`, req.file);
    };
    const floatOut = info.elemType(node.output?.[0] ?? '');
    if (floatOut === DataType.FLOAT16 || floatOut === DataType.BFLOAT16) fail('16-bit float tensors are not supported; export the head in float32');
    // Constants a rule asks for as 'float' take the type of the node's output.
    const ops = emitter.scoped(scope, () => (floatOut === DataType.DOUBLE ? 'float64' : 'float32'));
    const ctx: GradContext = {
      node,
      opset: req.opset,
      input: (i) => node.input?.[i] ?? '',
      output: (i) => node.output?.[i] ?? '',
      gradOutput: (i) => {
        const out = node.output?.[i] ?? '';
        const got = accumulated(out);
        const name = got ? dense(out, got, ops) : zerosLike(ops, out, info.elemType(out));
        contributions.set(out, [{ name }]);
        return name;
      },
      gradOutputClasses: (i) => {
        const got = accumulated(node.output?.[i] ?? '');
        return got && 'classes' in got ? got.classes : undefined;
      },
      needsGrad: needs,
      op: ops.op,
      opMulti: ops.opMulti,
      constant: ops.constant,
      dims: (name) => info.dims(name, nodeName),
      elemType: (name) => info.elemType(name),
      constantValues: (name) => req.index.constantNumbers(name),
      fail,
    };
    const result = rule(ctx);
    (node.input ?? []).forEach((input, i) => {
      if (!needs(i)) return;
      const grad = result.grads[i];
      if (grad === null || grad === undefined) return fail(`no gradient for input ${i} ("${input}"), which depends on the target activation`);
      const from = result.broadcastFrom?.[i];
      const reduced = from ? unbroadcast(ops, grad, from, input, info.dims(input, nodeName)) : grad;
      const contribution = compactOrDense(reduced, result.expandFrom?.[i] ?? undefined, info.dims(input, nodeName));
      contributions.set(input, [...(contributions.get(input) ?? []), contribution]);
    });
  }

  const fromDims = info.dims(req.from, req.from);
  const final = accumulated(req.from);
  let total: string;
  let gradientDims = fromDims;
  if (!final) total = zerosLike(driverOps, req.from, info.elemType(req.from));
  else if ('expandFrom' in final && final.expandFrom && req.broadcastGradient) [total, gradientDims] = [final.name, final.expandFrom];
  else total = dense(req.from, final, emitter.scoped('', () => (info.elemType(req.from) === DataType.DOUBLE ? 'float64' : 'float32')));
  const gradient = `${prefix}d_${req.from}`;
  emitter.nodes.push(toNodeProto({ opType: 'Identity', inputs: [total], outputs: [gradient] }));
  return { nodes: emitter.nodes, initializers: emitter.initializers, gradient, gradientDims };
}

/** A contribution that still needs expanding (`compact`: its probe dims) unless those are already the full dims. */
function compactOrDense(name: string, compact: readonly number[] | undefined, full: readonly number[]): Grad {
  return compact && compact.some((d, k) => d !== full[k]) ? { name, expandFrom: compact } : { name };
}

/** Sums the axes `grad` (probe dims `from`) has beyond the input's dims `to` (numpy broadcasting, right-aligned). */
function unbroadcast(ops: Ops, grad: string, from: readonly number[], input: string, to: readonly number[]): string {
  const lead = from.length - to.length;
  const axes: number[] = [];
  for (let a = 0; a < from.length; a++) {
    if (a < lead || (to[a - lead] === 1 && from[a] !== 1)) axes.push(a);
  }
  let out = grad;
  if (axes.length > 0) out = reduceSum(ops, out, axes, true);
  if (lead !== 0) out = reshapeLike(ops, out, input);
  return out;
}

/** Dims and element types from the probe, falling back to initializers and Constant nodes. */
class TensorFacts {
  constructor(private readonly req: BackwardRequest) {}

  dims(name: string, nodeName: string): readonly number[] {
    const probed = this.req.shapes.get(name);
    if (probed) return probed.dims;
    const init = this.req.index.initializers.get(name);
    if (init) return (init.dims ?? []).map(toNumber);
    const constant = this.req.index.constant(name);
    if (constant) return constant.dims;
    throw new InputError(`no probed shape for tensor "${name}" (used by node "${nodeName}"); the caller must probe every tensor of the head`, this.req.file);
  }

  elemType(name: string): number {
    const probed = this.req.shapes.get(name);
    if (probed) return ORT_TYPES[probed.dtype] ?? DataType.UNDEFINED;
    const init = this.req.index.initializers.get(name);
    if (init) return init.dataType ?? DataType.FLOAT;
    const node = this.req.index.producers.get(name);
    const value = node?.opType === 'Constant' ? node.attribute?.find((a) => a.name === 'value')?.t : undefined;
    if (value) return value.dataType ?? DataType.FLOAT;
    return DataType.FLOAT;
  }
}

type FloatName = 'float32' | 'float64';

/** Collects emitted nodes and initializers; names every tensor `prefix + scope + label`, unique. */
class Emitter {
  readonly nodes: onnx.NodeProto[] = [];
  readonly initializers: onnx.TensorProto[] = [];
  private readonly used = new Set<string>();
  private readonly constants = new Map<string, string>();

  constructor(readonly prefix: string, readonly opset: number) {}

  private fresh(scope: string, label: string): string {
    const base = `${this.prefix}${scope}${label}`;
    let name = base;
    for (let k = 2; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /** An Ops view whose names live under `scope` and whose 'float' constants take `floatType()`. */
  scoped(scope: string, floatType: () => FloatName): Ops & Pick<GradContext, 'opMulti'> {
    const opMulti = (opType: string, inputs: string[], count: number, attributes: Record<string, AttrValue> = {}, label?: string) => {
      const outputs = Array.from({ length: count }, (_, k) => this.fresh(scope, `${label ?? opType.toLowerCase()}${count > 1 ? `_${k}` : ''}`));
      this.nodes.push(toNodeProto({ opType, inputs, outputs, attributes }));
      return outputs;
    };
    return {
      opset: this.opset,
      op: (opType, inputs, attributes = {}, label) => opMulti(opType, inputs, 1, attributes, label)[0],
      opMulti,
      constant: (value, dtype = 'float', dims) => this.constant(typeof value === 'number' ? [value] : value, dtype === 'float' ? floatType() : 'int64', dims ?? (typeof value === 'number' ? [] : [value.length])),
    };
  }

  /** Constants are shared by value across the whole backward graph. */
  private constant(values: readonly number[], dtype: FloatName | 'int64', dims: readonly number[]): string {
    const key = `${dtype}|${dims.join(',')}|${values.join(',')}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const name = this.fresh('const/', `c${this.constants.size}`);
    const tensor = dtype === 'float64'
      ? onnx.TensorProto.create({ name, dims: [...dims], dataType: DataType.DOUBLE, rawData: new Uint8Array(Float64Array.from(values).buffer) })
      : makeTensor(name, dtype, [...dims], values);
    this.initializers.push(tensor);
    this.constants.set(key, name);
    return name;
  }
}

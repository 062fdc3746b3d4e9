import { InputError } from '../errors.ts';
import type { onnx} from './proto.ts';
import { AttributeType, DataType, toNumber } from './proto.ts';

export type NumericArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** Producer/consumer/constant lookups over one graph, built once. */
export class GraphIndex {
  readonly producers = new Map<string, onnx.INodeProto>();
  readonly consumers = new Map<string, onnx.INodeProto[]>();
  readonly initializers = new Map<string, onnx.ITensorProto>();
  /** Real inputs: graph inputs that are not initializers. */
  readonly inputs: onnx.IValueInfoProto[];
  readonly outputs: string[];

  constructor(readonly graph: onnx.IGraphProto) {
    for (const t of graph.initializer ?? []) this.initializers.set(t.name ?? '', t);
    for (const node of graph.node ?? []) {
      for (const out of node.output ?? []) if (out) this.producers.set(out, node);
      for (const input of node.input ?? []) {
        if (!input) continue;
        const list = this.consumers.get(input) ?? [];
        list.push(node);
        this.consumers.set(input, list);
      }
    }
    this.inputs = (graph.input ?? []).filter((i) => !this.initializers.has(i.name ?? ''));
    this.outputs = (graph.output ?? []).map((o) => o.name ?? '');
  }

  /** The value of an initializer or Constant-node output, or undefined for a runtime tensor. */
  constant(name: string): { dims: number[]; data: NumericArray } | undefined {
    const init = this.initializers.get(name);
    if (init) return { dims: (init.dims ?? []).map(toNumber), data: tensorData(init) };
    const node = this.producers.get(name);
    if (node?.opType === 'Constant') {
      const value = node.attribute?.find((a) => a.name === 'value');
      if (value?.t) return { dims: (value.t.dims ?? []).map(toNumber), data: tensorData(value.t) };
      const ints = node.attribute?.find((a) => a.name === 'value_ints');
      if (ints) return { dims: [ints.ints?.length ?? 0], data: BigInt64Array.from((ints.ints ?? []).map((v) => BigInt(toNumber(v)))) };
      const int = node.attribute?.find((a) => a.name === 'value_int');
      if (int) return { dims: [], data: BigInt64Array.of(BigInt(toNumber(int.i))) };
      const floats = node.attribute?.find((a) => a.name === 'value_floats');
      if (floats) return { dims: [floats.floats?.length ?? 0], data: Float32Array.from(floats.floats ?? []) };
      const f = node.attribute?.find((a) => a.name === 'value_float');
      if (f) return { dims: [], data: Float32Array.of(f.f ?? 0) };
    }
    return undefined;
  }

  /** A constant as plain numbers (shape vectors, axes, pads), or undefined. */
  constantNumbers(name: string): number[] | undefined {
    const c = this.constant(name);
    return c ? Array.from(c.data as ArrayLike<number | bigint>, Number) : undefined;
  }
}

/** Decodes a TensorProto's values (raw_data or the typed repeated fields). */
export function tensorData(t: onnx.ITensorProto): NumericArray {
  const count = (t.dims ?? []).map(toNumber).reduce((a, b) => a * b, 1);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const view = <T>(Ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }) => {
    const copy = new Uint8Array(raw!.length);
    copy.set(raw!);
    return new Ctor(copy.buffer, 0, raw!.length / Ctor.BYTES_PER_ELEMENT);
  };
  switch (t.dataType) {
    case DataType.FLOAT:
      return raw ? view(Float32Array) : Float32Array.from(t.floatData ?? []);
    case DataType.DOUBLE:
      return raw ? view(Float64Array) : Float64Array.from(t.doubleData ?? []);
    case DataType.INT64:
      return raw ? view(BigInt64Array) : BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(toNumber(v))));
    case DataType.INT32:
      return raw ? view(Int32Array) : Int32Array.from(t.int32Data ?? []);
    case DataType.BOOL:
    case DataType.UINT8:
      return raw ? Uint8Array.from(raw) : Uint8Array.from(t.int32Data ?? []);
    default:
      if (count === 0) return new Float32Array(0);
      throw new InputError(`tensor "${t.name}" has data type ${t.dataType}, which heatgate cannot read as a constant`);
  }
}

type AttrKind = 'int' | 'ints' | 'float' | 'floats' | 'string';

/** Reads an attribute with a default; a missing attribute without a default is undefined. */
export function attr(node: onnx.INodeProto, name: string, kind: 'int'): number | undefined;
export function attr(node: onnx.INodeProto, name: string, kind: 'float'): number | undefined;
export function attr(node: onnx.INodeProto, name: string, kind: 'ints' | 'floats'): number[] | undefined;
export function attr(node: onnx.INodeProto, name: string, kind: 'string'): string | undefined;
export function attr(node: onnx.INodeProto, name: string, kind: AttrKind): number | number[] | string | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  if (!a) return undefined;
  switch (kind) {
    case 'int':
      return toNumber(a.i);
    case 'float':
      return a.f ?? 0;
    case 'ints':
      return (a.ints ?? []).map(toNumber);
    case 'floats':
      return [...(a.floats ?? [])];
    case 'string':
      return a.type === AttributeType.STRING ? new TextDecoder().decode(a.s ?? new Uint8Array()) : undefined;
  }
}

/** The nodes on some path from `from` to `to` (descendants of `from` that are ancestors of `to`), in graph order. */
export function nodesBetween(index: GraphIndex, from: string, to: string): onnx.INodeProto[] {
  const descendants = new Set<onnx.INodeProto>();
  const stack = [from];
  const seenTensors = new Set<string>([from]);
  while (stack.length > 0) {
    const tensor = stack.pop()!;
    for (const node of index.consumers.get(tensor) ?? []) {
      if (descendants.has(node)) continue;
      descendants.add(node);
      for (const out of node.output ?? []) {
        if (out && !seenTensors.has(out)) {
          seenTensors.add(out);
          stack.push(out);
        }
      }
    }
  }
  const ancestors = new Set<onnx.INodeProto>();
  const back = [to];
  const seenBack = new Set<string>([to]);
  while (back.length > 0) {
    const tensor = back.pop()!;
    if (tensor === from) continue;
    const node = index.producers.get(tensor);
    if (!node || ancestors.has(node)) continue;
    ancestors.add(node);
    for (const input of node.input ?? []) {
      if (input && !seenBack.has(input)) {
        seenBack.add(input);
        back.push(input);
      }
    }
  }
  return (index.graph.node ?? []).filter((n) => descendants.has(n) && ancestors.has(n));
}

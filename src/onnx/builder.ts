import { AttributeType, DataType, onnx } from './proto.ts';

/** A float attribute (plain numbers are INT attributes, so floats are marked). */
export class FloatAttr {
  constructor(readonly values: number | number[]) {}
}
export const float = (values: number | number[]) => new FloatAttr(values);

export type AttrValue = number | number[] | string | FloatAttr | onnx.ITensorProto;

/** A node to emit, in plain data; `toNodeProto` turns it into protobuf. */
export interface NodeSpec {
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, AttrValue>;
  name?: string;
  domain?: string;
}

export function toNodeProto(spec: NodeSpec): onnx.NodeProto {
  return onnx.NodeProto.create({
    opType: spec.opType,
    input: spec.inputs,
    output: spec.outputs,
    name: spec.name ?? spec.outputs[0],
    domain: spec.domain ?? '',
    attribute: Object.entries(spec.attributes ?? {}).map(([name, value]) => makeAttribute(name, value)),
  });
}

export function makeAttribute(name: string, value: AttrValue): onnx.IAttributeProto {
  if (value instanceof FloatAttr) {
    return Array.isArray(value.values)
      ? { name, type: AttributeType.FLOATS, floats: value.values }
      : { name, type: AttributeType.FLOAT, f: value.values };
  }
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  return { name, type: AttributeType.TENSOR, t: value };
}

export type TensorDType = 'float32' | 'int64' | 'bool';
const ONNX_TYPE: Record<TensorDType, number> = { float32: DataType.FLOAT, int64: DataType.INT64, bool: DataType.BOOL };

/** A small constant tensor (initializers and Constant values); values are stored as raw little-endian bytes. */
export function makeTensor(name: string, dtype: TensorDType, dims: number[], values: ArrayLike<number>): onnx.TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new Error(`tensor ${name}: ${values.length} values for dims [${dims}]`);
  let raw: Uint8Array;
  if (dtype === 'float32') raw = new Uint8Array(Float32Array.from(values).buffer);
  else if (dtype === 'int64') raw = new Uint8Array(BigInt64Array.from(Array.from(values, (v) => BigInt(v))).buffer);
  else raw = Uint8Array.from(values, (v) => (v ? 1 : 0));
  return onnx.TensorProto.create({ name, dims, dataType: ONNX_TYPE[dtype], rawData: raw });
}

/** A graph input/output declaration with a float or int64 element type and symbolic or fixed dims. */
export function makeValueInfo(name: string, elemType: number, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

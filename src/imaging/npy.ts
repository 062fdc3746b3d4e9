import { InputError, invalidParameter } from '../errors.ts';

/**
 * NumPy .npy files (numpy/lib/format.py). Writing: float32 little-endian ('<f4'), C order, format version 1.0,
 * header padded with spaces so the data starts on a 64-byte boundary, with numpy >= 1.24's spare room for the
 * first axis to grow; byte-for-byte what `numpy.save` writes.
 */
const MAGIC = Buffer.from([0x93, ...Buffer.from('NUMPY')]);
const ARRAY_ALIGN = 64;
const GROWTH_AXIS_MAX_DIGITS = 21;

export function encodeNpy(data: Float32Array, shape: number[]): Buffer {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw invalidParameter('shape', 'non-negative integers', shape);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw invalidParameter('shape', `dimensions whose product is ${data.length}`, shape);
  const shapeRepr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeRepr}, }`;
  if (shape.length > 0) header += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  const padding = ARRAY_ALIGN - (unpadded % ARRAY_ALIGN);
  const headerLength = header.length + padding + 1;
  if (headerLength > 0xffff) throw invalidParameter('shape', 'a shape whose .npy header fits version 1.0', shape);
  const out = Buffer.alloc(MAGIC.length + 4 + headerLength + data.byteLength);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(headerLength, 8);
  out.write(header + ' '.repeat(padding) + '\n', 10, 'latin1');
  const body = new Float32Array(out.buffer, out.byteOffset + MAGIC.length + 4 + headerLength, data.length);
  if (isLittleEndian()) body.set(data);
  else data.forEach((v, i) => out.writeFloatLE(v, MAGIC.length + 4 + headerLength + 4 * i));
  return out;
}

export type NpyData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/** dtype descr (without byte order) -> name, element size, typed array and DataView reader for big-endian. */
const DTYPES: Record<string, { name: string; size: number; make: (n: number) => NpyData; read: (v: DataView, o: number, le: boolean) => number | bigint }> = {
  f4: { name: 'float32', size: 4, make: (n) => new Float32Array(n), read: (v, o, le) => v.getFloat32(o, le) },
  f8: { name: 'float64', size: 8, make: (n) => new Float64Array(n), read: (v, o, le) => v.getFloat64(o, le) },
  i8: { name: 'int64', size: 8, make: (n) => new BigInt64Array(n), read: (v, o, le) => v.getBigInt64(o, le) },
  i4: { name: 'int32', size: 4, make: (n) => new Int32Array(n), read: (v, o, le) => v.getInt32(o, le) },
  u1: { name: 'uint8', size: 1, make: (n) => new Uint8Array(n), read: (v, o) => v.getUint8(o) },
  b1: { name: 'bool', size: 1, make: (n) => new Uint8Array(n), read: (v, o) => v.getUint8(o) },
};

/**
 * Reads a .npy file (versions 1.0, 2.0, 3.0): float32/64, int32/64, uint8 and bool, either byte order, C or
 * Fortran order (Fortran data is returned in C order). `dtype` is numpy's name ('float32', ...).
 * @throws InputError naming the file for anything that is not a readable .npy array
 */
export function decodeNpy(buf: Buffer, name = '<npy>'): { data: NpyData; shape: number[]; dtype: string } {
  const fail = (problem: string): InputError => new InputError(`not a readable .npy array: ${problem}`, name);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw fail('missing \\x93NUMPY magic');
  const major = buf[6];
  if (major < 1 || major > 3) throw fail(`unknown format version ${major}.${buf[7]}`);
  const lenSize = major === 1 ? 2 : 4;
  if (buf.length < 8 + lenSize) throw fail('truncated header');
  const headerLength = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const dataStart = 8 + lenSize + headerLength;
  if (buf.length < dataStart) throw fail('truncated header');
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', 8 + lenSize, dataStart);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw fail(`bad header ${JSON.stringify(header.trim())}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw fail(`bad shape (${shapeText})`);
  const order = descr[0];
  const type = DTYPES[descr.slice(1)];
  if (!type || !'<>|='.includes(order) || (order === '|' && type.size !== 1)) {
    throw fail(`unsupported dtype '${descr}' (supported: float32, float64, int32, int64, uint8, bool)`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (buf.length - dataStart < count * type.size) {
    throw fail(`truncated data (${buf.length - dataStart} bytes for ${count} x ${type.size})`);
  }
  const little = order === '>' ? false : order === '<' ? true : isLittleEndian();
  const data = type.make(count);
  const view = new DataView(buf.buffer, buf.byteOffset + dataStart, count * type.size);
  const fortranIndex = fortran === 'True' && shape.length > 1 ? fortranToC(shape) : undefined;
  for (let i = 0; i < count; i++) {
    (data as { [k: number]: number | bigint })[fortranIndex ? fortranIndex[i] : i] = type.read(view, i * type.size, little);
  }
  return { data, shape, dtype: type.name };
}

/** For each element in Fortran (column-major) storage order, its index in C (row-major) order. */
function fortranToC(shape: number[]): Int32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  const strides = shape.map((_, k) => shape.slice(k + 1).reduce((a, b) => a * b, 1));
  const out = new Int32Array(count);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < count; i++) {
    out[i] = idx.reduce((sum, v, k) => sum + v * strides[k], 0);
    for (let k = 0; k < shape.length; k++) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

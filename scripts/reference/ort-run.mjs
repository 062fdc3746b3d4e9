// Run an ONNX model on onnxruntime-node with one float32 .npy input; write every graph output as .npy.
// Used by verify_ort.py (the Python side has no onnxruntime):  node ort-run.mjs model.onnx input.npy outdir
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

function readNpy(path) {
  const buf = readFileSync(path);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  if (!header.includes("'descr': '<f4'") || header.includes("'fortran_order': True")) {
    throw new Error(`${path}: expected little-endian float32 in C order, header ${header.trim()}`);
  }
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const offset = start + headerLen;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + buf.length));
  return { data, shape };
}

function writeNpy(path, tensor) {
  const descr = { float32: '<f4', int64: '<i8' }[tensor.type];
  if (!descr) throw new Error(`cannot write ${tensor.type}`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0]).copy(pre);
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

const [modelPath, inputPath, outDir] = process.argv.slice(2);
const input = readNpy(inputPath);
const session = await ort.InferenceSession.create(modelPath, { graphOptimizationLevel: 'all' });
const results = await session.run({ input: new ort.Tensor('float32', input.data, input.shape) });
mkdirSync(outDir, { recursive: true });
session.outputNames.forEach((name, i) => writeNpy(join(outDir, `out${i}.npy`), results[name]));
writeFileSync(join(outDir, 'names.json'), JSON.stringify(session.outputNames));

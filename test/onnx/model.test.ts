import { mkdtemp, mkdir, writeFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { tensorData } from '../../src/onnx/graph.ts';
import { encodeModel, loadModel, saveModel } from '../../src/onnx/model.ts';
import { onnx } from '../../src/onnx/proto.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'heatgate-model-'));
}

/** Moves one initializer's bytes to an external file, as onnx.save_model(..., save_as_external_data=True) does. */
function externalise(model: onnx.ModelProto, name: string, location: string, offset: number): Buffer {
  const t = model.graph!.initializer!.find((i) => i.name === name)!;
  const bytes = Buffer.from(t.rawData!);
  t.rawData = new Uint8Array();
  t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  t.externalData = [
    { key: 'location', value: location },
    { key: 'offset', value: String(offset) },
    { key: 'length', value: String(bytes.length) },
  ];
  return Buffer.concat([Buffer.alloc(offset, 7), bytes]);
}

describe('ONNX model I/O', () => {
  it('round-trips a model through save and load', async () => {
    const dir = await tempDir();
    const { model, convW } = tinyCnn();
    await saveModel(model, path.join(dir, 'm.onnx'));
    const loaded = await loadModel(path.join(dir, 'm.onnx'));
    expect(loaded.opset).toBe(13);
    expect(loaded.model.graph!.node!.map((n) => n.opType)).toEqual(['Conv', 'Relu', 'GlobalAveragePool', 'Flatten', 'Gemm']);
    const w = loaded.model.graph!.initializer!.find((i) => i.name === 'conv.w')!;
    expect(Array.from(tensorData(w) as Float32Array)).toEqual(Array.from(convW));
  });

  it('resolves external data with offsets, inside the model folder', async () => {
    const dir = await tempDir();
    const { model, fcW } = tinyCnn();
    await mkdir(path.join(dir, 'weights'));
    await writeFile(path.join(dir, 'weights', 'fc.bin'), externalise(model, 'fc.w', 'weights/fc.bin', 16));
    await writeFile(path.join(dir, 'm.onnx'), encodeModel(model));
    const loaded = await loadModel(path.join(dir, 'm.onnx'));
    const w = loaded.model.graph!.initializer!.find((i) => i.name === 'fc.w')!;
    expect(w.dataLocation).toBe(onnx.TensorProto.DataLocation.DEFAULT);
    expect(Array.from(tensorData(w) as Float32Array)).toEqual(Array.from(fcW));
  });

  it.each([
    ['../outside.bin', 'escapes the model\'s folder'],
    ['/etc/passwd', 'escapes the model\'s folder'],
    ['missing.bin', 'does not exist'],
  ])('rejects external data location %s', async (location, message) => {
    const dir = await tempDir();
    const sub = path.join(dir, 'model');
    await mkdir(sub);
    const { model } = tinyCnn();
    await writeFile(path.join(dir, 'outside.bin'), externalise(model, 'fc.w', location, 0));
    await writeFile(path.join(sub, 'm.onnx'), encodeModel(model));
    const error = await loadModel(path.join(sub, 'm.onnx')).catch((e) => e);
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain(path.join(sub, 'm.onnx'));
    expect(error.message).toContain(message);
  });

  it('rejects a symlink inside the folder that points outside it', async () => {
    const dir = await tempDir();
    const sub = path.join(dir, 'model');
    await mkdir(sub);
    const { model } = tinyCnn();
    await writeFile(path.join(dir, 'secret.bin'), externalise(model, 'fc.w', 'link.bin', 0));
    await symlink(path.join(dir, 'secret.bin'), path.join(sub, 'link.bin'));
    await writeFile(path.join(sub, 'm.onnx'), encodeModel(model));
    await expect(loadModel(path.join(sub, 'm.onnx'))).rejects.toThrow(/escapes the model's folder/);
  });

  it('rejects external data whose range lies outside the file', async () => {
    const dir = await tempDir();
    const { model } = tinyCnn();
    const data = externalise(model, 'fc.w', 'w.bin', 0);
    await writeFile(path.join(dir, 'w.bin'), data.subarray(0, 5));
    await writeFile(path.join(dir, 'm.onnx'), encodeModel(model));
    await expect(loadModel(path.join(dir, 'm.onnx'))).rejects.toThrow(/lies outside "w.bin"/);
  });

  it('names the file when it is not an ONNX model, or its opset is unsupported', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'junk.onnx'), 'this is not protobuf at all, just text');
    await expect(loadModel(path.join(dir, 'junk.onnx'))).rejects.toThrow(/junk\.onnx: not an ONNX model/);
    await saveModel(tinyCnn({ opset: 6 }).model, path.join(dir, 'old.onnx'));
    await expect(loadModel(path.join(dir, 'old.onnx'))).rejects.toThrow(/old\.onnx: opset 6 is older than the oldest supported \(7; heatgate upgrades 7 to 10 in memory\)/);
    await expect(loadModel(path.join(dir, 'nope.onnx'))).rejects.toThrow(/nope\.onnx: cannot read model: ENOENT/);
  });
});

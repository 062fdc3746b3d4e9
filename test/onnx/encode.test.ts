/**
 * One copy of the weights: a model that only appends to the graph it was read from is encoded as the file's bytes
 * plus the appended part, in the buffer the file was read into; ONNX Runtime reads it as the same model a full
 * encode gives. Anything else is encoded whole.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeValueInfo, toNodeProto } from '../../src/onnx/builder.ts';
import { encodeModel, loadModel, saveModel, type LoadedModel } from '../../src/onnx/model.ts';
import { DataType, onnx } from '../../src/onnx/proto.ts';
import { ort } from '../../src/onnx/session.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';

let file: string;

beforeAll(async () => {
  file = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-encode-')), 'tiny.onnx');
  const { model } = tinyCnn({ size: 6, channels: 4, classes: 3 });
  model.metadataProps = [{ key: 'heatgate.normalize', value: 'unit' }];
  await saveModel(model, file);
});

/** The loaded model with a Sigmoid of the activations appended as a second output. */
function extended(loaded: LoadedModel): onnx.ModelProto {
  const graph = loaded.model.graph!;
  return onnx.ModelProto.create({
    ...loaded.model,
    graph: onnx.GraphProto.create({
      ...graph,
      node: [...(graph.node ?? []), toNodeProto({ opType: 'Sigmoid', inputs: ['act'], outputs: ['squashed'] })],
      output: [...(graph.output ?? []), makeValueInfo('squashed', DataType.FLOAT, ['N', 4, 6, 6])],
    }),
  });
}

async function run(bytes: Uint8Array): Promise<Record<string, number[]>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    expect(session.inputNames).toEqual(['input']);
    const x = Float32Array.from({ length: 2 * 3 * 36 }, (_, i) => Math.sin(i));
    const out = await session.run({ input: new ort.Tensor('float32', x, [2, 3, 6, 6]) });
    return Object.fromEntries(session.outputNames.map((n) => [n, Array.from(out[n].data as Float32Array)]));
  } finally {
    await session.release();
  }
}

describe('encodeModel with the model it was read from', () => {
  it('appends to the file bytes in their own buffer, and ONNX Runtime reads the same model as a full encode', async () => {
    const loaded = await loadModel(file);
    const model = extended(loaded);
    const whole = encodeModel(model);
    const appended = encodeModel(model, loaded);
    expect(appended.buffer).toBe(loaded.source!.buffer.buffer); // no copy of the weights
    expect(appended.length - loaded.source!.length).toBeLessThan(200);
    // ONNX Runtime is the reader that matters (protobufjs's decoder keeps only the last occurrence of the graph).
    const [a, b] = [await run(appended), await run(whole)];
    expect(Object.keys(a)).toEqual(['logits', 'squashed']);
    expect(a).toEqual(b);
  });

  it('encodes whole a model that changes the graph other than by appending, a second extension, and a graph changed in place', async () => {
    const changed = await loadModel(file);
    const graph = changed.model.graph!;
    const renamed = onnx.ModelProto.create({ ...changed.model, graph: onnx.GraphProto.create({ ...graph, node: graph.node!.slice(1) }) });
    expect(encodeModel(renamed, changed).buffer).not.toBe(changed.source!.buffer.buffer);
    const upgraded = onnx.ModelProto.create({ ...changed.model, opsetImport: [{ domain: '', version: 17 }] });
    expect(encodeModel(upgraded, changed).buffer).not.toBe(changed.source!.buffer.buffer);

    const twice = await loadModel(file);
    expect(encodeModel(extended(twice), twice).buffer).toBe(twice.source!.buffer.buffer);
    const second = encodeModel(extended(twice), twice); // the room after the bytes is taken
    expect(second.buffer).not.toBe(twice.source!.buffer.buffer);
    expect(onnx.ModelProto.decode(second).toJSON()).toEqual(onnx.ModelProto.decode(encodeModel(extended(twice))).toJSON());

    const stale = await loadModel(file);
    stale.source!.stale = true;
    expect(encodeModel(extended(stale), stale).buffer).not.toBe(stale.source!.buffer.buffer);
  });
});

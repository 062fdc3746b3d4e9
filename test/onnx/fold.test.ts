/** Constant folding runs only the constant subgraph: its session gets the initializers that subgraph reads, not the weights. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeTensor, toNodeProto } from '../../src/onnx/builder.ts';
import { foldConstants } from '../../src/onnx/fold.ts';
import { loadModel, saveModel } from '../../src/onnx/model.ts';
import { ort } from '../../src/onnx/session.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';

afterEach(() => vi.restoreAllMocks());

describe('foldConstants', () => {
  it("folds a Pad's computed pads with a session that holds none of the model's weights", async () => {
    // 64 channels: conv.w is 64*3*3*3 floats (6.9 KB); the pads come from Concat(begin, end) of two int64 constants.
    const { model } = tinyCnn({ size: 8, channels: 64, classes: 3 });
    const graph = model.graph!;
    graph.node![0].input![0] = 'padded';
    graph.node!.unshift(
      toNodeProto({ opType: 'Concat', inputs: ['pad_begin', 'pad_end'], outputs: ['pads'], attributes: { axis: 0 } }),
      toNodeProto({ opType: 'Pad', inputs: ['input', 'pads'], outputs: ['padded'] }),
    );
    graph.initializer!.push(makeTensor('pad_begin', 'int64', [4], [0, 0, 1, 1]), makeTensor('pad_end', 'int64', [4], [0, 0, 1, 1]));
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-fold-')), 'pad.onnx');
    await saveModel(model, file);
    const create = vi.spyOn(ort.InferenceSession, 'create');
    const folded = await foldConstants(await loadModel(file));
    expect(folded.model.graph!.node!.map((n) => n.opType)).not.toContain('Concat');
    expect(folded.model.graph!.initializer!.find((t) => t.name === 'pads')).toBeDefined();
    expect(create).toHaveBeenCalledTimes(1);
    const bytes = create.mock.calls[0][0] as Uint8Array;
    expect(bytes.length).toBeLessThan(64 * 27 * 4);
  });
});

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { makeTensor, toNodeProto } from '../../src/onnx/builder.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { saveModel } from '../../src/onnx/model.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';

describe('inspectModel probe', () => {
  it('keeps the batch-2 failure in the message when the batch-1 retry fails too', async () => {
    // A fixed-batch export whose head reshapes [N, 4] to [3, -1]: 8 values at batch 2, 4 at batch 1, neither divides.
    const { model } = tinyCnn({ size: 8, channels: 4, classes: 3, batch: 1 });
    const graph = model.graph!;
    const gemm = graph.node!.find((n) => n.opType === 'Gemm')!;
    gemm.input![0] = 'reshaped';
    graph.node!.splice(graph.node!.indexOf(gemm), 0, toNodeProto({ opType: 'Reshape', inputs: ['pooled', 'bad_shape'], outputs: ['reshaped'] }));
    graph.initializer!.push(makeTensor('bad_shape', 'int64', [2], [3, -1]));
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-inspect-')), 'reshape.onnx');
    await saveModel(model, file);
    const error = await inspectModel(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    const message = (error as InputError).message;
    expect(message).toMatch(new RegExp(`^${file}: the model failed at batch 2 \\(.+\\) and at batch 1 \\(.+\\)$`));
    expect(message.split(file).length).toBe(2); // the file is named once, not inside each reason
  });
});

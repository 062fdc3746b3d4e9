/**
 * Numbers that are not numbers are errors: NaN/Inf logits on the probe batch are exit 3 naming the model; NaN/Inf
 * logits or heatmaps of single images are error records that count against the policy's error budget.
 */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Verdict } from '../../src/gate/verdict.ts';
import { makeTensor, makeValueInfo, toNodeProto } from '../../src/onnx/builder.ts';
import { saveModel } from '../../src/onnx/model.ts';
import { DataType, onnx } from '../../src/onnx/proto.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';
import { cli, expectOneLine, png, records } from '../cli/helpers.ts';

let dir: string;
let images: string;

/** tinyCnn with `prefix` nodes between the input and the Conv (which then reads `into`). */
function withPrefix(nodes: Parameters<typeof toNodeProto>[0][], into: string, initializers: onnx.TensorProto[]): onnx.ModelProto {
  const { model } = tinyCnn({ size: 8, channels: 4, classes: 3 });
  const graph = model.graph!;
  graph.node![0].input![0] = into;
  graph.node!.unshift(...nodes.map(toNodeProto));
  graph.initializer!.push(...initializers);
  return model;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'heatgate-nan-'));
  images = path.join(dir, 'images');
  // With ImageNet normalisation a black pixel is about -2.1 and a grey (200) one about +1.3 .. +1.7.
  await png(path.join(images, 'black.png'), 0, { value: 0 });
  for (let i = 0; i < 3; i++) await png(path.join(images, `grey${i}.png`), i, { value: 200 - 20 * i });
});

describe('NaN and Inf', () => {
  it('a model with NaN weights is exit 3 naming the model file, with no output folder', async () => {
    const { model } = tinyCnn({ size: 8, channels: 4, classes: 3 });
    const fc = model.graph!.initializer!.find((t) => t.name === 'fc.w')!;
    fc.rawData = new Uint8Array(new Float32Array(12).fill(NaN).buffer);
    const file = path.join(dir, 'nan-weights.onnx');
    await saveModel(model, file);
    const out = path.join(dir, 'out-nan-weights');
    const result = await cli(['explain', '--model', file, '--images', images, '--out', out, '--quiet']);
    expect(result.code).toBe(3);
    expect(expectOneLine(result)).toMatch(new RegExp(`^heatgate: error: ${file}: the model outputs NaN logits`));
    expect(await readdir(dir)).not.toContain('out-nan-weights');
  });

  it('gives an image whose logits are NaN an error record that the error budget counts; the other images are fine', async () => {
    // Log(x + 0.6): fine for the probe's inputs (|x| <= 0.5) and grey pixels, NaN for black ones.
    const model = withPrefix(
      [
        { opType: 'Add', inputs: ['input', 'shift'], outputs: ['shifted'] },
        { opType: 'Log', inputs: ['shifted'], outputs: ['logx'] },
      ],
      'logx',
      [makeTensor('shift', 'float32', [1], [0.6])],
    );
    const file = path.join(dir, 'log.onnx');
    await saveModel(model, file);
    const out = path.join(dir, 'out-log');
    const explained = await cli(['explain', '--model', file, '--images', images, '--out', out, '--quiet', '--no-overlays']);
    expect(explained.code).toBe(3);
    expect(explained.stderr).toContain(`heatgate: error: ${path.join(images, 'black.png')}: model output is NaN`);
    const rows = await records(out);
    expect(rows.find((r) => r.image === 'black.png')).toMatchObject({ error: `${path.join(images, 'black.png')}: model output is NaN` });
    expect(rows.find((r) => r.image === 'black.png')).not.toHaveProperty('predicted');
    for (const r of rows.filter((r) => r.image !== 'black.png')) {
      expect(r.error).toBeUndefined();
      expect(r.confidence).toBeTypeOf('number');
    }

    const policy = path.join(dir, 'budget.yaml');
    await writeFile(policy, 'version: 1\nminImages: 1\nerrorBudget: {maxCount: 0}\nrules: []\n');
    const gated = await cli(['run', '--model', file, '--images', images, '--out', path.join(dir, 'run-log'), '--policy', policy, '--quiet', '--no-overlays']);
    expect(gated.code).toBe(1);
    const verdict = JSON.parse(await readFile(path.join(dir, 'run-log', 'verdict.json'), 'utf8')) as Verdict;
    expect(verdict.counts).toMatchObject({ images: 4, processed: 3, errors: 1 });
    expect(verdict.verdict).toBe('fail');
  });

  it('gives an image whose heatmap is not finite (logits fine) an error record saying it is the heatmap', async () => {
    // act = Exp(100 x) overflows to +Inf on bright pixels; Clip after the pooling keeps the logits finite, and
    // Grad-CAM's weight for that channel is 0, so the map has 0 * Inf.
    const graph = onnx.GraphProto.create({
      name: 'inf-act',
      node: [
        { opType: 'Mul', inputs: ['input', 'hundred'], outputs: ['scaled'] },
        { opType: 'Exp', inputs: ['scaled'], outputs: ['act'] },
        { opType: 'GlobalAveragePool', inputs: ['act'], outputs: ['gap'] },
        { opType: 'Clip', inputs: ['gap', 'lo', 'hi'], outputs: ['clipped'] },
        { opType: 'Flatten', inputs: ['clipped'], outputs: ['pooled'] },
        { opType: 'Gemm', inputs: ['pooled', 'fc.w', 'fc.b'], outputs: ['logits'], attributes: { transB: 1 } },
      ].map(toNodeProto),
      initializer: [
        makeTensor('hundred', 'float32', [1], [100]),
        makeTensor('lo', 'float32', [], [0]),
        makeTensor('hi', 'float32', [], [1]),
        makeTensor('fc.w', 'float32', [2, 3], [1, -1, 0.5, -0.5, 1, 2]),
        makeTensor('fc.b', 'float32', [2], [0, 0.1]),
      ],
      input: [makeValueInfo('input', DataType.FLOAT, ['N', 3, 8, 8])],
      output: [makeValueInfo('logits', DataType.FLOAT, ['N', 2])],
    });
    const file = path.join(dir, 'inf-act.onnx');
    await saveModel(onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], graph }), file);
    const bright = path.join(dir, 'bright');
    await png(path.join(bright, 'white.png'), 0, { value: 255 });
    await png(path.join(bright, 'dark.png'), 0, { value: 40 });
    const out = path.join(dir, 'out-inf');
    const result = await cli(['explain', '--model', file, '--images', bright, '--out', out, '--quiet', '--no-overlays']);
    expect(result.code).toBe(3);
    const rows = await records(out);
    expect(rows.find((r) => r.image === 'white.png')?.error).toMatch(new RegExp(`^${path.join(bright, 'white.png')}: heatmap is (NaN|infinite)$`));
    expect(rows.find((r) => r.image === 'dark.png')?.error).toBeUndefined();
  });
});

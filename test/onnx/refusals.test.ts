/** A model heatgate cannot take is refused in one line naming the part it saw and what would make it work (exit 3). */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { Explainer } from '../../src/cam/explainer.ts';
import { InputError } from '../../src/errors.ts';
import { makeTensor, makeValueInfo, toNodeProto, type NodeSpec } from '../../src/onnx/builder.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { encodeModel } from '../../src/onnx/model.ts';
import { DataType, onnx } from '../../src/onnx/proto.ts';

async function saved(nodes: NodeSpec[], inputs: onnx.IValueInfoProto[], initializers: onnx.TensorProto[] = []): Promise<string> {
  const graph = onnx.GraphProto.create({ name: 'r', node: nodes.map(toNodeProto), initializer: initializers, input: inputs, output: [makeValueInfo('logits', DataType.FLOAT, ['N', 2])] });
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'heatgate-refuse-')), 'm.onnx');
  await writeFile(file, encodeModel(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph })));
  return file;
}

const pooled: NodeSpec[] = [
  { opType: 'GlobalAveragePool', inputs: ['x'], outputs: ['g'] },
  { opType: 'Flatten', inputs: ['g'], outputs: ['f'] },
  { opType: 'Gemm', inputs: ['f', 'w'], outputs: ['logits'], attributes: { transB: 1 } },
];
const w = makeTensor('w', 'float32', [2, 3], [1, 2, 3, 4, 5, 6]);

async function refusal(file: string): Promise<string> {
  const error = await inspectModel(file).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InputError);
  return (error as Error).message;
}

describe('refusals name the part and the way out', () => {
  it('two inputs', async () => {
    const file = await saved(
      [{ opType: 'Add', inputs: ['a', 'b'], outputs: ['x'] }, ...pooled],
      [makeValueInfo('a', DataType.FLOAT, ['N', 3, 4, 4]), makeValueInfo('b', DataType.FLOAT, ['N', 3, 4, 4])],
      [w],
    );
    expect(await refusal(file)).toBe(`${file}: input: heatgate explains models with one image input, found 2 (a [N, 3, 4, 4], b [N, 3, 4, 4]); export the image classifier alone, with any other input folded into a constant`);
  });

  it('a uint8 input', async () => {
    const file = await saved([{ opType: 'Cast', inputs: ['u'], outputs: ['x'], attributes: { to: DataType.FLOAT } }, ...pooled], [makeValueInfo('u', DataType.UINT8, ['N', 3, 4, 4])], [w]);
    expect(await refusal(file)).toBe(`${file}: input "u" is ONNX element type 2, heatgate feeds float32 images; export it with a float32 input (a Cast inside the graph is fine)`);
  });

  it('a 3-D input', async () => {
    const file = await saved([{ opType: 'Unsqueeze', inputs: ['i', 'ax'], outputs: ['x'] }, ...pooled], [makeValueInfo('i', DataType.FLOAT, [3, 4, 4])], [w, makeTensor('ax', 'int64', [1], [0])]);
    expect(await refusal(file)).toBe(`${file}: input "i" [3, 4, 4] must be a 4-D image batch, NCHW or NHWC, found rank 3; export it with a batch axis and 4-D images`);
  });

  it('an op on the head without a gradient rule names the node; the CLI exits 3 with one line', async () => {
    const file = await saved([
      { opType: 'Conv', inputs: ['x', 'k'], outputs: ['act'], attributes: { kernel_shape: [1, 1] } },
      { opType: 'Resize', inputs: ['act', '', 'scales'], outputs: ['big'], attributes: { mode: 'cubic' } },
      { opType: 'GlobalAveragePool', inputs: ['big'], outputs: ['g'] },
      { opType: 'Flatten', inputs: ['g'], outputs: ['f'] },
      { opType: 'Gemm', inputs: ['f', 'w'], outputs: ['logits'], attributes: { transB: 1 } },
    ], [makeValueInfo('x', DataType.FLOAT, ['N', 3, 4, 4])], [w, makeTensor('k', 'float32', [3, 3, 1, 1], [1, 0, 0, 0, 1, 0, 0, 0, 1]), makeTensor('scales', 'float32', [4], [1, 1, 2, 2])]);
    await expect(Explainer.create(file, { layers: ['act'] })).rejects.toThrow(/Resize node "big".*mode "cubic" is not supported/);
    let stderr = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
    const dir = path.dirname(file);
    await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toFile(path.join(dir, 'a.png'));
    try {
      expect(await main(['explain', '--model', file, '--images', dir, '--out', path.join(dir, 'out'), '--layer', 'act', '--quiet'])).toBe(3);
    } finally {
      spy.mockRestore();
    }
    expect(stderr.trim().split('\n').filter((l) => l.includes('error'))).toHaveLength(1);
    expect(stderr).toMatch(/Resize node "big".*mode "cubic" is not supported/);
  });
});

/**
 * Input and output forms through the CLI (issue 9): --channels and the caffe/tf presets, heatgate.* preprocessing
 * metadata, --input-size and heatgate.input_size for symbolic height/width (and the line saying so when neither is
 * given), grayscale models, --output on a model with several outputs, and `heatgate layers` on a 4-D output.
 */
import { mkdtemp, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeTensor, makeValueInfo, toNodeProto, type NodeSpec } from '../../src/onnx/builder.ts';
import { saveModel } from '../../src/onnx/model.ts';
import { DataType, onnx } from '../../src/onnx/proto.ts';
import { cli } from './helpers.ts';

let dir: string;
let images: string;


/**
 * input [N, c, H, W] → Conv 1x1 (identity for 3 channels; [+1, -1] for 1 channel) → Relu → act → GlobalAveragePool
 * → `out`: the predicted class is the channel with the largest mean, so it shows which colour went where.
 */
async function channelModel(name: string, opts: { channels?: 1 | 3; size?: number; metadata?: Record<string, string>; extraOutputs?: boolean; fourD?: boolean } = {}): Promise<string> {
  const c = opts.channels ?? 3;
  const k = c === 3 ? 3 : 2;
  const weights = c === 3 ? [1, 0, 0, 0, 1, 0, 0, 0, 1] : [1, -1];
  const nodes: NodeSpec[] = [
    { opType: 'Conv', inputs: ['input', 'w'], outputs: ['conv'], attributes: { kernel_shape: [1, 1] } },
    { opType: 'Relu', inputs: ['conv'], outputs: ['act'] },
    { opType: 'GlobalAveragePool', inputs: ['act'], outputs: ['gap'] },
    { opType: 'Flatten', inputs: ['gap'], outputs: ['logits'] },
    { opType: 'Softmax', inputs: ['logits'], outputs: ['probs'], attributes: { axis: 1 } },
  ];
  const spatial: (number | string)[] = opts.size ? [opts.size, opts.size] : ['H', 'W'];
  const outputs = opts.fourD
    ? [makeValueInfo('gap', DataType.FLOAT, ['N', k, 1, 1])]
    : opts.extraOutputs
      ? [makeValueInfo('act', DataType.FLOAT, ['N', k, ...spatial]), makeValueInfo('logits', DataType.FLOAT, ['N', k]), makeValueInfo('probs', DataType.FLOAT, ['N', k])]
      : [makeValueInfo('logits', DataType.FLOAT, ['N', k])];
  const graph = onnx.GraphProto.create({
    name,
    node: nodes.map(toNodeProto),
    initializer: [makeTensor('w', 'float32', [k, c, 1, 1], weights)],
    input: [makeValueInfo('input', DataType.FLOAT, ['N', c, ...spatial])],
    output: outputs,
  });
  const metadataProps = Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key: `heatgate.${key}`, value }));
  const file = path.join(dir, `${name}.onnx`);
  await saveModel(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph, metadataProps }), file);
  return file;
}

async function results(out: string): Promise<{ predicted: number }[]> {
  return (await readFile(path.join(out, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { predicted: number });
}

async function manifestInputSize(out: string): Promise<number[]> {
  return (JSON.parse(await readFile(path.join(out, 'run-manifest.json'), 'utf8')) as { preprocessing: { inputSize: number[] } }).preprocessing.inputSize;
}

const explain = (model: string, out: string, ...flags: string[]) =>
  cli(['explain', '--model', model, '--images', images, '--out', path.join(dir, out), '--quiet', '--no-overlays', ...flags]);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'heatgate-forms-'));
  images = path.join(dir, 'images');
  await mkdir(images);
  // Pure red: a model reading RGB sees it in channel 0, one reading BGR in channel 2.
  await sharp({ create: { width: 24, height: 18, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toFile(path.join(images, 'red.png'));
});

describe('channel order and normalisation presets', () => {
  it('rgb by default; --channels bgr, --normalize caffe and heatgate.channels metadata put red in channel 2', async () => {
    const model = await channelModel('colours', { size: 8 });
    const rgb = await explain(model, 'rgb', '--normalize', 'unit');
    expect(rgb.code).toBe(0);
    expect((await results(path.join(dir, 'rgb')))[0].predicted).toBe(0);
    expect((await explain(model, 'bgr', '--normalize', 'unit', '--channels', 'bgr')).code).toBe(0);
    expect((await results(path.join(dir, 'bgr')))[0].predicted).toBe(2);
    expect((await explain(model, 'caffe', '--normalize', 'caffe')).code).toBe(0);
    expect((await results(path.join(dir, 'caffe')))[0].predicted).toBe(2);
    const tagged = await channelModel('tagged', { size: 8, metadata: { channels: 'bgr', normalize: 'tf' } });
    expect((await explain(tagged, 'tagged')).code).toBe(0);
    expect((await results(path.join(dir, 'tagged')))[0].predicted).toBe(2);
  });

  it('--resume with another channel order is exit 2 naming the field (run-manifest.json records it)', async () => {
    const model = await channelModel('resumed', { size: 8 });
    expect((await explain(model, 'resumed', '--normalize', 'unit')).code).toBe(0);
    const again = await explain(model, 'resumed', '--normalize', 'unit', '--channels', 'bgr', '--resume');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('channelOrder: "rgb" -> "bgr"');
  });

  it('refuses a bad heatgate.channels value naming the model (exit 3)', async () => {
    const model = await channelModel('badchannels', { size: 8, metadata: { channels: 'grb' } });
    const { code, stderr } = await explain(model, 'badchannels');
    expect(code).toBe(3);
    expect(stderr).toContain(`${model}: metadata heatgate.channels must be rgb or bgr, got "grb"`);
  });

  it('a grayscale (1-channel) model takes luma', async () => {
    const model = await channelModel('gray', { channels: 1, size: 8 });
    expect((await explain(model, 'gray', '--normalize', 'unit')).code).toBe(0);
    expect((await results(path.join(dir, 'gray')))[0].predicted).toBe(0); // luma of red > 0: channel +1 wins
  });
});

describe('input size', () => {
  it('symbolic H/W: --input-size, else heatgate.input_size, else each image at its own size, said in one line', async () => {
    const model = await channelModel('symbolic');
    expect((await explain(model, 'sized', '--input-size', '12x20')).code).toBe(0);
    expect(await manifestInputSize(path.join(dir, 'sized'))).toEqual([12, 20]);
    const tagged = await channelModel('symbolic-tagged', { metadata: { input_size: '10x14' } });
    expect((await explain(tagged, 'meta')).code).toBe(0);
    expect(await manifestInputSize(path.join(dir, 'meta'))).toEqual([10, 14]);
    const plain = await explain(model, 'plain');
    expect(plain.code).toBe(0);
    expect(plain.stderr).toContain('input: "input" has a symbolic height and neither --input-size nor heatgate.input_size metadata gives one; each image runs at its own size (images of one size batched together)');
  });

  it('symbolic H/W with no size: each image at its own size, the same map as an explicit --input-size of that size', async () => {
    const model = await channelModel('own');
    const mixed = path.join(dir, 'mixed');
    await mkdir(mixed);
    const pixels = (w: number, h: number) => Buffer.from(Array.from({ length: w * h * 3 }, (_, i) => (i * 53) % 256));
    await sharp(pixels(24, 18), { raw: { width: 24, height: 18, channels: 3 } }).png().toFile(path.join(mixed, 'a.png'));
    await sharp(pixels(10, 30), { raw: { width: 10, height: 30, channels: 3 } }).png().toFile(path.join(mixed, 'b.png'));
    await sharp(pixels(24, 18), { raw: { width: 24, height: 18, channels: 3 } }).png().toFile(path.join(mixed, 'c.png'));
    const run = (out: string, files: string, ...flags: string[]) =>
      cli(['explain', '--model', model, '--images', files, '--out', path.join(dir, out), '--quiet', '--no-overlays', '--save-raw', '--normalize', 'unit', ...flags]);
    expect((await run('own', mixed)).code).toBe(0);
    const npyShape = async (out: string, image: string) => {
      const header = (await readFile(path.join(dir, out, 'heatmaps', `${image}.npy`))).toString('latin1', 10, 80);
      return /'shape': \((\d+), (\d+)\)/.exec(header)!.slice(1).map(Number);
    };
    expect(await npyShape('own', 'a.png')).toEqual([18, 24]);
    expect(await npyShape('own', 'b.png')).toEqual([30, 10]);
    expect(await npyShape('own', 'c.png')).toEqual([18, 24]);
    const single = path.join(dir, 'single');
    await mkdir(single);
    await sharp(pixels(10, 30), { raw: { width: 10, height: 30, channels: 3 } }).png().toFile(path.join(single, 'b.png'));
    expect((await run('explicit', single, '--input-size', '30x10')).code).toBe(0);
    expect(await readFile(path.join(dir, 'own', 'heatmaps', 'b.png.npy'))).toEqual(await readFile(path.join(dir, 'explicit', 'heatmaps', 'b.png.npy')));
  });

  it('--input-size that contradicts a fixed input, or is not HxW, is exit 2', async () => {
    const model = await channelModel('fixed', { size: 8 });
    const wrong = await explain(model, 'wrong', '--input-size', '12x12');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`--input-size 12x12 does not fit ${model}: its input "input" is fixed at 8x8`);
    const bad = await explain(model, 'bad', '--input-size', '12');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--input-size must be HxW (height x width in pixels, e.g. 224x224), got "12"');
  });
});

describe('outputs', () => {
  it('several outputs: says which it took; --output picks another; an unknown --output is exit 2', async () => {
    const model = await channelModel('multi', { size: 8, extraOutputs: true });
    const first = await explain(model, 'multi');
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('output: using "logits" [N, 3], the first float class-vector output of 3 (act, logits, probs); --output picks another');
    const probs = await explain(model, 'multi-probs', '--output', 'probs');
    expect(probs.code).toBe(0);
    const resumed = await explain(model, 'multi', '--output', 'probs', '--resume');
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toContain('output: "logits" -> "probs"');
    const unknown = await explain(model, 'multi-none', '--output', 'scores');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--output "scores" is not an output of');
  });

  it('heatgate layers works on a [N, C, 1, 1] output and names it', async () => {
    const model = await channelModel('fourd', { size: 8, fourD: true });
    const { code, stdout } = await cli(['layers', model]);
    expect(code).toBe(0);
    expect(stdout).toContain('output gap [N, 3, 1, 1] (logits), 3 classes, opset 13');
    expect(stdout).toMatch(/\* {2}act/);
  });
});

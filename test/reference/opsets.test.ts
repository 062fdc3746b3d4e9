/**
 * Opsets 9 to 17 as torch 1.13 exports them (scripts/models/build.py): the same CNN, whose head holds the ops whose
 * definition changed between opset 7 and 13 (Upsample/Resize, Pad, Slice, Clip, BatchNormalization, Split,
 * ReduceSum, Softmax). Per opset: the augmented model returns the unmodified model's outputs, its predictions are
 * plain ONNX Runtime's, and dS/dA and Grad-CAM match torch autograd (Pearson r >= 0.999 per image).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { augmentModel, TARGET_INPUT } from '../../src/cam/augment.ts';
import { Explainer } from '../../src/cam/explainer.ts';
import { decodeNpy } from '../../src/imaging/index.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { openSession, ort } from '../../src/onnx/session.ts';
import { assertNonDegenerate, pearson } from '../helpers/stats.ts';

const ROOT = path.resolve('fixtures-build/models');
const MIN_PEARSON = 0.999;

function ensureFixtures(): void {
  if (existsSync(ROOT) && readdirSync(ROOT).some((d) => existsSync(path.join(ROOT, d, 'meta.json')))) return;
  const run = spawnSync('/usr/bin/python3', ['scripts/models/build.py', '--out', ROOT], { stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`scripts/models/build.py failed (exit ${run.status}); it needs Debian python3-torch and python3-onnx`);
}

const npy = (file: string) => decodeNpy(readFileSync(file), file);

ensureFixtures();
const folders = readdirSync(ROOT).filter((d) => existsSync(path.join(ROOT, d, 'meta.json'))).sort();

describe.each(folders)('%s', (name) => {
  const dir = path.join(ROOT, name);
  const file = path.join(dir, 'model.onnx');
  const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { opset: number; layerTensor: string };
  const input = npy(path.join(dir, 'input.npy'));
  const [n, ...per] = input.shape;
  const size = per.reduce((a, b) => a * b, 1);
  const images = Array.from({ length: n }, (_, i) => (input.data as Float32Array).slice(i * size, (i + 1) * size));

  it('the augmented model returns what ONNX Runtime returns for the file as exported', async () => {
    const plain = await openSession(readFileSync(file), file);
    const expected = (await plain.session.run({ input: new ort.Tensor('float32', input.data as Float32Array, input.shape) })).output;
    await plain.session.release();
    const torch = npy(path.join(dir, 'output.npy'));
    expect(pearson(expected.data as Float32Array, torch.data as Float32Array), 'ORT on the export reproduces torch').toBeGreaterThan(0.99999);

    const model = await inspectModel(file);
    expect(model.loaded.exportedOpset).toBe(meta.opset);
    const layer = model.candidates.find((c) => c.tensor === meta.layerTensor)!;
    const augmented = augmentModel(model, [layer], true);
    const { session } = await openSession(augmented.bytes, file);
    const result = await session.run({
      input: new ort.Tensor('float32', input.data as Float32Array, input.shape),
      [TARGET_INPUT]: new ort.Tensor('int64', new BigInt64Array(n).fill(-1n), [n]),
    });
    await session.release();
    expect([...result.output.dims]).toEqual([...expected.dims]);
    const got = result.output.data as Float32Array;
    (expected.data as Float32Array).forEach((v, i) => expect(Math.abs(got[i] - v)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
  });

  it('dS/dA and Grad-CAM match torch autograd; predictions are plain ONNX Runtime\'s', async () => {
    const target = npy(path.join(dir, 'target.npy'));
    const reference = npy(path.join(dir, 'gradcam.npy'));
    const [, h, w] = reference.shape;
    const explainer = await Explainer.create(file, { layers: [meta.layerTensor], inGraph: false });
    try {
      const results = await explainer.explain(images, images.map(() => -1));
      results.forEach((r, i) => {
        expect(r.predicted, `${name} image ${i}`).toBe(Number(target.data[i]));
        expect([r.camHeight, r.camWidth]).toEqual([h, w]);
        const ref = (reference.data as Float32Array).subarray(i * h * w, (i + 1) * h * w);
        assertNonDegenerate(ref, `${name} torch map ${i}`);
        expect(pearson(r.cam, ref), `${name} Grad-CAM image ${i}`).toBeGreaterThanOrEqual(MIN_PEARSON);
      });
    } finally {
      await explainer.release();
    }
  });
});

/**
 * heatgate against PyTorch autograd on exported torchvision models (scripts/reference/build.py, Debian python3-torch).
 * Per model and CAM method: predictions agree and every image's raw map has Pearson r >= 0.999 with torch's.
 * Writes test-output/reference-table.md, the architecture table the README quotes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Explainer } from '../../src/cam/explainer.ts';
import { decodeNpy } from '../../src/imaging/index.ts';
import { assertNonDegenerate, pearson } from '../helpers/stats.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { defaultLayer } from '../../src/onnx/layers.ts';
import { encodeModel } from '../../src/onnx/model.ts';
import { openSession, ort } from '../../src/onnx/session.ts';

const ROOT = path.resolve('fixtures-build/reference');
const MIN_PEARSON = 0.999;

interface Meta {
  name: string;
  opset: number;
  inputShape: number[];
  targetModule: string;
  layerTensor: string;
  methods: string[];
  notes?: string;
}

function ensureFixtures(): void {
  if (existsSync(ROOT) && readdirSync(ROOT).some((d) => existsSync(path.join(ROOT, d, 'meta.json')))) return;
  const run = spawnSync('/usr/bin/python3', ['scripts/reference/build.py', '--out', ROOT], { stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`scripts/reference/build.py failed (exit ${run.status}); it needs Debian python3-torch, python3-torchvision, python3-onnx`);
}

function npy(file: string) {
  return decodeNpy(readFileSync(file), file);
}


/**
 * Eigen-CAM's SVD sign is arbitrary (torch's comes from LAPACK), so torch's signed projection p
 * (eigencam_projection.npy) fixes heatgate's map only up to that sign: heatgate's map must match ReLU(p) or ReLU(-p).
 * Which one is then checked against the documented property, computed here from torch's activations and nothing of
 * heatgate's: the oriented projection s*p correlates positively with the channel-summed activation.
 */
function checkEigenCam(cam: Float32Array, projection: Float32Array, acts: Float32Array, channels: number, what: string): number {
  const hw = projection.length;
  const relu = (sign: number) => Float32Array.from(projection, (v) => Math.max(0, sign * v));
  const rPlus = pearson(cam, relu(1));
  const rMinus = pearson(cam, relu(-1));
  const sign = rPlus >= rMinus ? 1 : -1;
  const best = Math.max(rPlus, rMinus);
  assertNonDegenerate(relu(sign), `${what} torch ReLU(${sign > 0 ? '' : '-'}projection)`);
  const channelSum = new Float64Array(hw);
  for (let c = 0; c < channels; c++) for (let q = 0; q < hw; q++) channelSum[q] += acts[c * hw + q];
  assertNonDegenerate(channelSum, `${what} channel-summed activation`);
  const oriented = Float32Array.from(projection, (v) => sign * v);
  expect(pearson(oriented, channelSum), `${what}: heatgate's orientation correlates with the channel sum`).toBeGreaterThan(0);
  return best;
}

ensureFixtures();
const models = readdirSync(ROOT)
  .filter((d) => existsSync(path.join(ROOT, d, 'meta.json')))
  .sort();
const table: { model: string; module: string; auto: string; autoPearson: number; layer: string; opset: number; results: Record<string, number> }[] = [];

describe.each(models)('%s', (name) => {
  const dir = path.join(ROOT, name);
  const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Meta;
  const input = npy(path.join(dir, 'input.npy'));
  const [n, ...per] = input.shape;
  const size = per.reduce((a, b) => a * b, 1);
  const images = Array.from({ length: n }, (_, i) => (input.data as Float32Array).slice(i * size, (i + 1) * size));
  const row = { model: name, module: meta.targetModule, auto: '', autoPearson: NaN, layer: meta.layerTensor, opset: meta.opset, results: {} as Record<string, number> };
  table.push(row);

  beforeAll(async () => {
    const inspected = await inspectModel(path.join(dir, 'model.onnx'));
    const auto = defaultLayer(inspected.candidates, name).tensor;
    row.auto = auto === meta.layerTensor ? 'same' : auto;
    if (auto !== meta.layerTensor) {
      // For the table: how Grad-CAM at heatgate's own choice compares with torch's at the family's usual layer.
      const reference = npy(path.join(dir, 'cams', 'gradcam.npy'));
      const [, h, w] = reference.shape;
      const explainer = await Explainer.create(path.join(dir, 'model.onnx'));
      const results = await explainer.explain(images, images.map(() => -1));
      await explainer.release();
      row.autoPearson = Math.min(
        ...results.map((r, i) =>
          r.camHeight === h && r.camWidth === w ? pearson(r.cam, (reference.data as Float32Array).subarray(i * h * w, (i + 1) * h * w)) : NaN,
        ),
      );
    }
  });

  it('the target tensor holds the activations torch hooked', async () => {
    const inspected = await inspectModel(path.join(dir, 'model.onnx'));
    const model = inspected.loaded.model;
    model.graph!.output!.push({ name: meta.layerTensor });
    const { session } = await openSession(encodeModel(model), name);
    const result = await session.run({ [inspected.input.name]: new ort.Tensor('float32', input.data as Float32Array, input.shape) });
    await session.release();
    const expected = npy(path.join(dir, 'activations.npy'));
    const actual = result[meta.layerTensor].data as Float32Array;
    expect([...result[meta.layerTensor].dims]).toEqual(expected.shape);
    assertNonDegenerate(actual, `${name} activations`);
    expect(pearson(actual, expected.data as Float32Array)).toBeGreaterThan(0.99999);
  });

  // Score-CAM runs one whole-model pass per channel (1024 for vgg11_bn, 2048 for densenet121 over 2 images).
  it.each(meta.methods)('%s matches torch (Pearson r >= 0.999 per image, same predictions)', { timeout: 1_800_000 }, async (method) => {
    const reference = method === 'eigencam' ? npy(path.join(dir, 'eigencam_projection.npy')) : npy(path.join(dir, 'cams', `${method}.npy`));
    const acts = method === 'eigencam' ? npy(path.join(dir, 'activations.npy')) : undefined;
    const targets = npy(path.join(dir, 'target.npy'));
    const count = reference.shape[0];
    const explainer = await Explainer.create(path.join(dir, 'model.onnx'), { method, layers: [meta.layerTensor] });
    try {
      const results = await explainer.explain(images.slice(0, count), Array.from({ length: count }, () => -1));
      const [h, w] = reference.shape.slice(1);
      let worst = 1;
      results.forEach((r, i) => {
        expect(r.predicted).toBe(Number(targets.data[i]));
        expect([r.camHeight, r.camWidth]).toEqual([h, w]);
        const ref = (reference.data as Float32Array).subarray(i * h * w, (i + 1) * h * w);
        const what = `${name} ${method} image ${i}`;
        assertNonDegenerate(r.cam, `${what} heatgate map`);
        let r2: number;
        if (acts) {
          const channels = acts.shape[1];
          r2 = checkEigenCam(r.cam, ref, (acts.data as Float32Array).subarray(i * channels * h * w, (i + 1) * channels * h * w), channels, what);
        } else {
          assertNonDegenerate(ref, `${what} torch map`);
          r2 = pearson(r.cam, ref);
        }
        worst = Math.min(worst, r2);
        expect(r2, what).toBeGreaterThanOrEqual(MIN_PEARSON);
      });
      row.results[method] = worst;
    } finally {
      await explainer.release();
    }
  });
});

afterAll(() => {
  const methods = [...new Set(table.flatMap((r) => Object.keys(r.results)))];
  const lines = [
    `| model | opset | target (torch module) | heatgate's automatic layer (Grad-CAM r there) | ${methods.join(' | ')} |`,
    `|---|---|---|---|${methods.map(() => '---').join('|')}|`,
    ...table.map(
      (r) =>
        `| ${r.model} | ${r.opset} | \`${r.module}\` | ${r.auto === 'same' ? 'same tensor' : `\`${r.auto}\` (${Number.isNaN(r.autoPearson) ? 'other size' : r.autoPearson.toFixed(4)})`} | ` +
        `${methods.map((m) => (m in r.results ? r.results[m].toFixed(6) : '–')).join(' | ')} |`,
    ),
  ];
  mkdirSync('test-output', { recursive: true });
  writeFileSync('test-output/reference-table.md', `Worst per-image Pearson r against torch autograd (>= ${MIN_PEARSON} required)\n\n${lines.join('\n')}\n`);
});

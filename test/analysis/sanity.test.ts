/**
 * The model-parameter randomization test: similarity measures by hand, the cascade's layers and draws, a model whose
 * map cannot change (a fixed edge filter feeding the logits) failing, and the demo models decorrelating.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { randomizableLayers, randomizedModel, redraw, sanityCheck, spearman, ssim } from '../../src/analysis/sanity.ts';
import { main } from '../../src/cli/main.ts';
import { makeTensor, makeValueInfo, toNodeProto, type NodeSpec } from '../../src/onnx/builder.ts';
import { tensorData } from '../../src/onnx/graph.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { saveModel } from '../../src/onnx/model.ts';
import { DataType, onnx } from '../../src/onnx/proto.ts';
import { rng, tinyCnn } from '../helpers/tiny-models.ts';

/**
 * input [N,3,16,16] -> channel mean -> Conv with a fixed Laplacian (a Constant node: a filter, not a weight) -> squared
 * (edge energy, the target layer) -> GlobalAveragePool -> Gemm to 5 classes whose weights are all positive. Grad-CAM
 * with one channel is ReLU(w·A), w > 0: the edge map, whatever the Gemm's weights are.
 */
function edgeDetector(): onnx.ModelProto {
  const laplacian = [0, 1, 0, 1, -4, 1, 0, 1, 0];
  const nodes: NodeSpec[] = [
    { opType: 'ReduceMean', inputs: ['input'], outputs: ['gray'], attributes: { axes: [1], keepdims: 1 } },
    { opType: 'Constant', inputs: [], outputs: ['edge.w'], attributes: { value: makeTensor('edge.w', 'float32', [1, 1, 3, 3], laplacian) } },
    { opType: 'Conv', inputs: ['gray', 'edge.w'], outputs: ['edges'], attributes: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] } },
    { opType: 'Mul', inputs: ['edges', 'edges'], outputs: ['energy'] },
    { opType: 'GlobalAveragePool', inputs: ['energy'], outputs: ['pooled'] },
    { opType: 'Flatten', inputs: ['pooled'], outputs: ['flat'] },
    { opType: 'Gemm', inputs: ['flat', 'fc.w', 'fc.b'], outputs: ['logits'], attributes: { transB: 1 } },
  ];
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: onnx.GraphProto.create({
      name: 'edge_detector',
      node: nodes.map(toNodeProto),
      initializer: [makeTensor('fc.w', 'float32', [5, 1], [1.0, 1.1, 0.9, 1.05, 0.95]), makeTensor('fc.b', 'float32', [5], [0.1, -0.1, 0, 0.05, -0.05])],
      input: [makeValueInfo('input', DataType.FLOAT, ['N', 3, 16, 16])],
      output: [makeValueInfo('logits', DataType.FLOAT, ['N', 5])],
    }),
  });
}

async function saved(model: onnx.ModelProto): Promise<string> {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-sanity-')), 'm.onnx');
  await saveModel(model, file);
  return file;
}

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
  try {
    return { code: await main(args), out };
  } finally {
    process.stdout.write = write;
  }
}

describe('sanity: similarity measures by hand', () => {
  it('Spearman with average ranks for ties (scipy.stats.spearmanr), 0 for a constant map', () => {
    expect(spearman([1, 2, 3], [1, 3, 2])).toBeCloseTo(0.5, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    // ranks [1.5, 1.5, 3, 4] vs [1, 2, 3, 4]: Pearson = 0.9486832980505138 (scipy)
    expect(spearman([0, 0, 1, 2], [1, 2, 3, 4])).toBeCloseTo(0.9486832980505138, 12);
    expect(spearman([0, 0, 0], [1, 2, 3])).toBe(0);
  });

  it('SSIM: 1 for identical maps; on a 7x7 window with sample covariance as skimage', () => {
    const a = Float32Array.from({ length: 49 }, (_, i) => (i % 7) / 6);
    expect(ssim(a, a, 7, 7)).toBeCloseTo(1, 12);
    // One window: a = column ramp, b = 1 - a. mean .5 both, var_a = var_b (sample), cov = -var_a.
    const b = a.map((v) => 1 - v);
    const va = (() => {
      const m = a.reduce((s, v) => s + v, 0) / 49;
      return a.reduce((s, v) => s + (v - m) ** 2, 0) / 48;
    })();
    const c1 = 1e-4, c2 = 9e-4;
    expect(ssim(a, b, 7, 7)).toBeCloseTo(((2 * 0.25 + c1) * (-2 * va + c2)) / ((0.5 + c1) * (2 * va + c2)), 6);
  });

  it('draws keep each tensor\'s own mean and std, seeded', () => {
    const values = Float32Array.from({ length: 4000 }, (_, i) => 3 + Math.sin(i) * 2);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
    const drawn = redraw(values, 7);
    const dm = drawn.reduce((s, v) => s + v, 0) / drawn.length;
    const ds = Math.sqrt(drawn.reduce((s, v) => s + (v - dm) ** 2, 0) / drawn.length);
    expect(Math.abs(dm - mean)).toBeLessThan(0.1);
    expect(Math.abs(ds - std) / std).toBeLessThan(0.05);
    expect([...redraw(values, 7).slice(0, 5)]).toEqual([...drawn.slice(0, 5)]);
  });
});

describe('sanity: the cascade', () => {
  it('lists the layers with weights from the logits down (head only, or all) and randomizes a copy, not the model', async () => {
    const file = await saved(tinyCnn({ size: 8, channels: 4 }).model);
    const m = await inspectModel(file);
    expect(randomizableLayers(m, 'act', 'head').map((l) => [l.opType, l.initializers])).toEqual([['Gemm', ['fc.w', 'fc.b']]]);
    expect(randomizableLayers(m, 'act', 'all').map((l) => l.opType)).toEqual(['Gemm', 'Conv']);
    const before = Float32Array.from(tensorData(m.index.initializers.get('fc.w')!) as Float32Array);
    const copy = randomizedModel(m, randomizableLayers(m, 'act', 'head'), 42, ['fc.w', 'fc.b']);
    expect([...(tensorData(copy.index.initializers.get('fc.w')!) as Float32Array)]).not.toEqual([...before]);
    expect([...(tensorData(m.index.initializers.get('fc.w')!) as Float32Array)]).toEqual([...before]);
    expect([...(tensorData(copy.index.initializers.get('conv.w')!) as Float32Array)]).toEqual([...(tensorData(m.index.initializers.get('conv.w')!) as Float32Array)]);
    // One parse: the weights it leaves alone are the model's own tensors, not a decoded copy of the whole file.
    expect(copy.index.initializers.get('conv.w')).toBe(m.index.initializers.get('conv.w'));
    expect(copy.loaded.model.graph!.node).toBe(m.loaded.model.graph!.node);
  });

  it('a fixed edge filter feeding the logits: the maps do not change under randomization, and the check fails', async () => {
    const file = await saved(edgeDetector());
    const m = await inspectModel(file);
    const r = rng(3);
    const images = Array.from({ length: 3 }, () => Float32Array.from({ length: 3 * 16 * 16 }, () => r() * 2));
    const { layer, steps } = await sanityCheck(m, images, { seed: 42 });
    expect(layer).toBe('energy');
    expect(steps.map((s) => s.layer?.opType)).toEqual([undefined, 'Gemm']); // the Laplacian is no weight
    expect(steps.at(-1)!.spearman).toBeGreaterThan(0.99);
    expect(steps.at(-1)!.ssim).toBeGreaterThan(0.99);
    const demoImages = path.resolve('examples/underpass/images');
    const out = path.join(path.dirname(file), 'out');
    const run = await cli(['sanity', '--model', file, '--images', demoImages, '--sample', '2', '--normalize', 'unit', '--out', out]);
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/heatgate sanity: FAIL {2}spearman after randomizing 1 layer\(s\) = 1\.0000 \(<= 0\.5\)/);
    expect(JSON.parse(await readFile(path.join(out, 'sanity.json'), 'utf8'))).toMatchObject({ verdict: 'fail', layer: 'energy', rule: { measure: 'spearman', max: 0.5 } });
  });

  it('heatgate run with a policy sanity section fails the gate on the edge detector (a gate check in verdict.json) and passes the demo model', async () => {
    const file = await saved(edgeDetector());
    const dir = path.dirname(file);
    const policy = path.join(dir, 'p.yaml');
    await import('node:fs/promises').then((fs) => fs.writeFile(policy, 'version: 1\nsanity: {sample: 2}\nrules:\n  - {name: sparse, metric: sparseness, aggregate: mean, min: 0}\n'));
    const images = path.resolve('examples/underpass/images');
    const edge = await cli(['run', '--model', file, '--images', images, '--out', path.join(dir, 'edge'), '--policy', policy, '--normalize', 'unit', '--quiet', '--no-overlays', '--shard', '0/12']);
    expect(edge.code).toBe(1);
    const verdict = JSON.parse(await readFile(path.join(dir, 'edge', 'verdict.json'), 'utf8'));
    expect(verdict.verdict).toBe('fail');
    expect(verdict.checks.find((c: { name: string }) => c.name === 'sanity')).toMatchObject({ outcome: 'fail', threshold: 0.5, comparison: '<=' });
    expect(verdict.reasons.join('\n')).toMatch(/sanity: spearman of the maps after randomizing 1 layer\(s\) = 1\.0000/);
    expect(await readFile(path.join(dir, 'edge', 'report.html'), 'utf8')).toContain('<section id="sanity">');
    const clean = await cli(['run', '--model', path.resolve('examples/underpass/models/clean.onnx'), '--images', images, '--out', path.join(dir, 'clean'), '--policy', policy, '--quiet', '--no-overlays', '--shard', '0/12']);
    expect(clean.code, clean.out).toBe(0);
  });

  it('bad sanity settings are exit 2 with one line: --sample 0, a policy sanity max outside [-1, 1], --max 2', async () => {
    const images = path.resolve('examples/underpass/images');
    const model = path.resolve('examples/underpass/models/clean.onnx');
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (errors.push(chunk), true)) as typeof process.stderr.write;
    try {
      expect((await cli(['sanity', '--model', model, '--images', images, '--sample', '0'])).code).toBe(2);
      expect((await cli(['sanity', '--model', model, '--images', images, '--max', '2'])).code).toBe(2);
      const policy = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-sanity-bad-')), 'p.yaml');
      await import('node:fs/promises').then((fs) => fs.writeFile(policy, 'version: 1\nsanity: {max: 3}\n'));
      expect((await cli(['sanity', '--model', model, '--images', images, '--policy', policy])).code).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(errors.join('')).toMatch(/sanity sample must be a positive integer, got 0/);
    expect(errors.join('')).toMatch(/sanity max must lie in \[-1, 1\], got 2/);
    expect(errors.join('')).toMatch(/sanity/);
  });

  it('the demo models decorrelate under the cascade and pass; the policy sets the rule', async () => {
    const images = path.resolve('examples/underpass/images');
    for (const name of ['clean', 'shortcut']) {
      const run = await cli(['sanity', '--model', path.resolve(`examples/underpass/models/${name}.onnx`), '--images', images, '--sample', '4']);
      expect(run.code, run.out).toBe(0);
      expect(run.out).toMatch(/heatgate sanity: PASS {2}spearman after randomizing 5 layer\(s\)/);
    }
    const policy = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-sanity-policy-')), 'p.yaml');
    await import('node:fs/promises').then((fs) => fs.writeFile(policy, 'version: 1\nsanity: {cascade: head, max: 0.5, sample: 4}\n'));
    const headOnly = await cli(['sanity', '--model', path.resolve('examples/underpass/models/clean.onnx'), '--images', images, '--policy', policy]);
    expect(headOnly.code, headOnly.out).toBe(1); // the last Gemm alone leaves the clean model's maps similar
  });
});

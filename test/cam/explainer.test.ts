/**
 * The explainer on tiny CNNs whose forward pass the test recomputes in plain JS: for a Conv → Relu → GAP → Gemm head
 * the gradient at the ReLU output is W_fc[t, c] / (h·w) exactly (the CAM identity), so every method has a closed form.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { augmentModel } from '../../src/cam/augment.ts';
import { Explainer } from '../../src/cam/explainer.ts';
import { gradCam } from '../../src/cam/grad-cam.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { chooseLayers } from '../../src/onnx/layers.ts';
import { onnx } from '../../src/onnx/proto.ts';
import { InputError } from '../../src/errors.ts';
import { saveModel } from '../../src/onnx/model.ts';
import { rng, tinyCnn, type TinyCnn } from '../helpers/tiny-models.ts';
import { makeTensor, toNodeProto } from '../../src/onnx/builder.ts';
import protobuf from 'protobufjs/minimal.js';

/**
 * The graph nodes of model bytes, merging every occurrence of ModelProto.graph (field 7) as protobuf does and ONNX
 * Runtime reads them: augmented models are the file's bytes plus an appended graph part (src/onnx/model.ts).
 */
function mergedNodes(bytes: Uint8Array): onnx.INodeProto[] {
  const reader = protobuf.Reader.create(bytes);
  const nodes: onnx.INodeProto[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 7) nodes.push(...(onnx.GraphProto.decode(reader, reader.uint32()).node ?? []));
    else reader.skipType(tag & 7);
  }
  return nodes;
}

const S = 8;
const C = 4;
const K = 3;

async function setup(channelsLast = false): Promise<{ file: string; tiny: TinyCnn }> {
  const tiny = tinyCnn({ size: S, channels: C, classes: K, channelsLast, seed: 3 });
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-cam-')), 'tiny.onnx');
  await saveModel(tiny.model, file);
  return { file, tiny };
}

function image(seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: 3 * S * S }, () => r() * 2);
}

/** The tiny model in plain JS: activations A [C, S, S] (after ReLU) and logits. */
function forward(tiny: TinyCnn, x: Float32Array): { acts: Float64Array; logits: Float64Array } {
  const bias = tiny.model.graph!.initializer!.find((t) => t.name === 'conv.b')!;
  const b = new Float32Array(new Uint8Array(bias.rawData!).slice().buffer);
  const acts = new Float64Array(C * S * S);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < S; y++) {
      for (let xx = 0; xx < S; xx++) {
        let s = b[c];
        for (let ci = 0; ci < 3; ci++) {
          for (let ky = 0; ky < 3; ky++) {
            for (let kx = 0; kx < 3; kx++) {
              const iy = y + ky - 1;
              const ix = xx + kx - 1;
              if (iy < 0 || iy >= S || ix < 0 || ix >= S) continue;
              s += tiny.convW[((c * 3 + ci) * 3 + ky) * 3 + kx] * x[(ci * S + iy) * S + ix];
            }
          }
        }
        acts[(c * S + y) * S + xx] = Math.max(s, 0);
      }
    }
  }
  const logits = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    let s = tiny.fcB[k];
    for (let c = 0; c < C; c++) {
      let mean = 0;
      for (let p = 0; p < S * S; p++) mean += acts[c * S * S + p];
      s += tiny.fcW[k * C + c] * (mean / (S * S));
    }
    logits[k] = s;
  }
  return { acts, logits };
}

const argmax = (v: ArrayLike<number>) => Array.from(v).reduce((best, x, i, a) => (x > a[best] ? i : best), 0);

/** relu(Σ_c w_c A_c) */
function weighted(acts: Float64Array, w: (c: number) => number): number[] {
  return Array.from({ length: S * S }, (_, p) => Math.max(0, Array.from({ length: C }, (_, c) => w(c) * acts[c * S * S + p]).reduce((a, b) => a + b, 0)));
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  const scale = Math.max(1e-6, ...Array.from(expected, Math.abs));
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i]) / scale).toBeLessThan(tolerance);
}

describe('Explainer on a tiny CNN (closed-form references)', () => {
  it('Grad-CAM: w_c = W_fc[t, c]/(h·w), predictions and confidences as the JS forward gives them', async () => {
    const { file, tiny } = await setup();
    const explainer = await Explainer.create(file, { method: 'gradcam' });
    const images = [image(1), image(2), image(3)];
    const results = await explainer.explain(images, [-1, 2, -1]);
    await explainer.release();
    results.forEach((r, i) => {
      const { acts, logits } = forward(tiny, images[i]);
      expect(r.predicted).toBe(argmax(logits));
      expectClose(r.logits, logits);
      expect(r.target).toBe(i === 1 ? 2 : argmax(logits));
      expect([r.camHeight, r.camWidth]).toEqual([S, S]);
      expectClose(r.cam, weighted(acts, (c) => tiny.fcW[r.target * C + c] / (S * S)));
      const e = logits.map((v) => Math.exp(v - Math.max(...logits)));
      expect(r.confidence).toBeCloseTo(e[r.predicted] / e.reduce((a, b) => a + b, 0), 5);
    });
  });

  it('a channels-last head (Transpose to NHWC) gives the same maps as NCHW', async () => {
    const nchw = await setup(false);
    const nhwc = await setup(true);
    const images = [image(4), image(5)];
    const a = await Explainer.create(nchw.file);
    // The NHWC copy of the activation, named explicitly: the automatic choice is the activation it permutes.
    const b = await Explainer.create(nhwc.file, { layers: ['act_nhwc'] });
    expect(b.layers[0].layout).toBe('NHWC');
    const ra = await a.explain(images, [-1, -1]);
    const rb = await b.explain(images, [-1, -1]);
    await a.release();
    await b.release();
    ra.forEach((r, i) => expectClose(rb[i].cam, r.cam));
  });

  it.each([
    [11, false],
    [13, true],
    [18, false],
  ])('Grad-CAM reduced inside the session (opset %i, channels-last %s) equals the JS reduction of A and dA', async (opset, channelsLast) => {
    const tiny = tinyCnn({ size: S, channels: C, classes: K, channelsLast, seed: 5, opset });
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-ingraph-')), 'tiny.onnx');
    await saveModel(tiny.model, file);
    const images = [image(21), image(22), image(23)];
    const inGraph = await Explainer.create(file, { method: 'gradcam' });
    const inJs = await Explainer.create(file, { method: 'gradcam', inGraph: false });
    const a = await inGraph.explain(images, [-1, 1, -1]);
    const b = await inJs.explain(images, [-1, 1, -1]);
    await inGraph.release();
    await inJs.release();
    a.forEach((r, i) => {
      expect(r.target).toBe(b[i].target);
      expectClose(r.cam, b[i].cam, 1e-5);
    });
  });

  it.each([
    [false, 'act', true],
    [true, 'act_nhwc', true],
    [true, 'act', false],
  ] as const)('Grad-CAM in the session (channels-last %s, layer %s): the seed gathers a classifier row, dA after the pool is not expanded (%s), maps equal the JS reduction', async (channelsLast, layer, pooled) => {
    const tiny = tinyCnn({ size: S, channels: C, classes: K, channelsLast, seed: 6 });
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-seed-')), 'tiny.onnx');
    await saveModel(tiny.model, file);
    const model = await inspectModel(file);
    const augmented = augmentModel(model, chooseLayers(model.candidates, [layer], file), true, gradCam.graph);
    const added = mergedNodes(augmented.bytes).slice(tiny.model.graph!.node!.length).map((n) => n.opType);
    expect(added).toContain('Gather');
    expect(added).not.toContain('OneHot');
    expect(added).not.toContain('Gemm');
    // The pooled head's dA goes straight into the weights; through the Transpose (NCHW layer of an NHWC head) it is expanded once.
    expect(added.filter((o) => o === 'Expand')).toHaveLength(pooled ? 0 : 1);
    const images = [image(31), image(32), image(33)];
    const inGraph = await Explainer.create(file, { method: 'gradcam', layers: [layer] });
    const inJs = await Explainer.create(file, { method: 'gradcam', layers: [layer], inGraph: false });
    const a = await inGraph.explain(images, [-1, 0, 2]);
    const b = await inJs.explain(images, [-1, 0, 2]);
    await inGraph.release();
    await inJs.release();
    a.forEach((r, i) => {
      expect(r.target).toBe(b[i].target);
      expectClose(r.cam, b[i].cam, 1e-5);
      // The closed form: w_c = W_fc[t, c] / (h·w) on the NCHW activation (the NHWC one holds the same values).
      expectClose(r.cam, weighted(forward(tiny, images[i]).acts, (c) => tiny.fcW[r.target * C + c] / (S * S)));
    });
  });

  it('Grad-CAM in the session when the head sums the channels before pooling (dA the same for every channel)', async () => {
    const tiny = tinyCnn({ size: S, channels: C, classes: K, seed: 7 });
    const graph = tiny.model.graph!;
    // act -> ReduceSum over channels -> GlobalAveragePool -> Flatten -> Gemm with a [K, 1] weight.
    graph.node!.splice(2, 0, toNodeProto({ opType: 'ReduceSum', inputs: ['act', 'channel_axis'], outputs: ['summed'], attributes: { keepdims: 1 } }));
    graph.node![3].input = ['summed'];
    const fcW = Float32Array.from({ length: K }, (_, k) => [0.7, -0.4, 0.2][k]);
    graph.initializer = [...graph.initializer!.filter((t) => t.name !== 'fc.w'), makeTensor('fc.w', 'float32', [K, 1], fcW), makeTensor('channel_axis', 'int64', [1], [1])];
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-chsum-')), 'tiny.onnx');
    await saveModel(tiny.model, file);
    const images = [image(41), image(42)];
    const inGraph = await Explainer.create(file, { method: 'gradcam', layers: ['act'] });
    const inJs = await Explainer.create(file, { method: 'gradcam', layers: ['act'], inGraph: false });
    const a = await inGraph.explain(images, [0, 2]);
    const b = await inJs.explain(images, [0, 2]);
    await inGraph.release();
    await inJs.release();
    a.forEach((r, i) => {
      expectClose(r.cam, b[i].cam, 1e-5);
      expectClose(r.cam, weighted(forward(tiny, images[i]).acts, () => fcW[r.target] / (S * S)));
    });
  });

  it('several target layers: each map min-max scaled, then averaged (pytorch-grad-cam aggregate_multi_layers)', async () => {
    const { file } = await setup();
    const both = await Explainer.create(file, { layers: ['conv', 'act'] });
    const conv = await Explainer.create(file, { layers: ['conv'] });
    const act = await Explainer.create(file, { layers: ['act'] });
    const x = [image(31)];
    const [m] = await both.explain(x, [-1]);
    const [a] = await conv.explain(x, [-1]);
    const [b] = await act.explain(x, [-1]);
    await Promise.all([both.release(), conv.release(), act.release()]);
    const scale = (v: Float32Array) => {
      const lo = Math.min(...v);
      const hi = Math.max(...v.map((y) => y - lo));
      return Array.from(v, (y) => (y - lo) / (1e-7 + hi));
    };
    const sa = scale(a.cam);
    const sb = scale(b.cam);
    expectClose(m.cam, sa.map((v, i) => (v + sb[i]) / 2), 1e-5);
  });

  it('a batch gives each image the map it gets alone', async () => {
    const { file } = await setup();
    const explainer = await Explainer.create(file);
    const images = [image(6), image(7), image(8), image(9), image(10)];
    const batched = await explainer.explain(images, [-1, 0, 1, -1, 2]);
    for (let i = 0; i < images.length; i++) {
      const [alone] = await explainer.explain([images[i]], [[-1, 0, 1, -1, 2][i]]);
      expectClose(batched[i].cam, alone.cam, 1e-6);
    }
    await explainer.release();
  });

  it('rejects a target outside the classes, naming the model', async () => {
    const { file } = await setup();
    const explainer = await Explainer.create(file);
    await expect(explainer.explain([image(1)], [K])).rejects.toThrow(InputError);
    await expect(explainer.explain([image(1)], [K])).rejects.toThrow(file);
    await explainer.release();
  });

  describe.each([
    // With G_c = W_t,c/(hw) constant over space and A >= 0, each method reduces to weights on A:
    ['hirescam', (w: number) => w],
    ['gradcamelementwise', (w: number) => Math.max(w, 0)],
    ['layercam', (w: number) => Math.max(w, 0)],
    ['xgradcam', (w: number) => w], // Σ G·A / (Σ A + 1e-7) = w up to the 1e-7
    // Grad-CAM++: α = 1 / (2 + Σ_hw A · w) per channel; weight = Σ_hw relu(w)·α = hw · relu(w) · α
  ] as const)('%s reduces to its closed form', (method, weight) => {
    it('matches', async () => {
      const { file, tiny } = await setup();
      const explainer = await Explainer.create(file, { method });
      const x = image(11);
      const [r] = await explainer.explain([x], [-1]);
      await explainer.release();
      const { acts } = forward(tiny, x);
      expectClose(r.cam, weighted(acts, (c) => weight(tiny.fcW[r.target * C + c] / (S * S))), 1e-4);
    });
  });

  it('gradcampp matches its closed form for a linear head', async () => {
    const { file, tiny } = await setup();
    const explainer = await Explainer.create(file, { method: 'gradcampp' });
    const x = image(12);
    const [r] = await explainer.explain([x], [-1]);
    await explainer.release();
    const { acts } = forward(tiny, x);
    const hw = S * S;
    expectClose(
      r.cam,
      weighted(acts, (c) => {
        const g = tiny.fcW[r.target * C + c] / hw;
        if (g <= 0) return 0;
        let sumA = 0;
        for (let p = 0; p < hw; p++) sumA += acts[c * hw + p];
        return hw * g * ((g * g) / (2 * g * g + sumA * g ** 3 + 1e-6));
      }),
      1e-4,
    );
  });

  it('ablationcam: w_c = W_t,c · mean(A_c) / S for a linear head (channel zeroed)', async () => {
    const { file, tiny } = await setup();
    const explainer = await Explainer.create(file, { method: 'ablationcam' });
    const x = image(13);
    const [r] = await explainer.explain([x], [-1]);
    await explainer.release();
    const { acts, logits } = forward(tiny, x);
    const hw = S * S;
    const mean = (c: number) => acts.slice(c * hw, (c + 1) * hw).reduce((a, b) => a + b, 0) / hw;
    expectClose(r.cam, weighted(acts, (c) => (tiny.fcW[r.target * C + c] * mean(c)) / logits[r.target]), 1e-4);
  });

  it('scorecam: softmax over the scores of inputs masked by each min-max scaled channel', async () => {
    const { file, tiny } = await setup();
    const explainer = await Explainer.create(file, { method: 'scorecam' });
    const x = image(14);
    const [r] = await explainer.explain([x], [-1]);
    await explainer.release();
    const { acts } = forward(tiny, x);
    const hw = S * S;
    const scores = Array.from({ length: C }, (_, c) => {
      const ch = acts.slice(c * hw, (c + 1) * hw);
      const lo = Math.min(...ch);
      const hi = Math.max(...ch);
      const masked = x.map((v, i) => v * ((ch[i % hw] - lo) / (hi - lo + 1e-8)));
      return forward(tiny, masked).logits[r.target];
    });
    const e = scores.map((s) => Math.exp(s - Math.max(...scores)));
    const total = e.reduce((a, b) => a + b, 0);
    expectClose(r.cam, weighted(acts, (c) => e[c] / total), 1e-4);
  });

  it('eigencam: ReLU of the projection on the first principal direction, oriented with the activation sum', async () => {
    const { file, tiny } = await setup();
    const explainer = await Explainer.create(file, { method: 'eigencam' });
    const x = image(15);
    const [r] = await explainer.explain([x], [-1]);
    await explainer.release();
    const { acts } = forward(tiny, x);
    const hw = S * S;
    // First right-singular vector via power iteration on the C×C covariance (the explainer iterates on hw×hw).
    const centred = Array.from({ length: hw }, (_, p) =>
      Array.from({ length: C }, (_, c) => acts[c * hw + p] - acts.slice(c * hw, (c + 1) * hw).reduce((a, b) => a + b, 0) / hw),
    );
    let v = Array.from({ length: C }, (_, i) => 1 + i);
    for (let it = 0; it < 2000; it++) {
      const next = Array.from({ length: C }, (_, j) => centred.reduce((s, row) => s + row[j] * row.reduce((t, a, k) => t + a * v[k], 0), 0));
      const n = Math.hypot(...next);
      v = next.map((a) => a / n);
    }
    let projection = centred.map((row) => row.reduce((s, a, k) => s + a * v[k], 0));
    const orientation = projection.reduce((s, p, i) => s + p * Array.from({ length: C }, (_, c) => acts[c * hw + i]).reduce((a, b) => a + b, 0), 0);
    if (orientation < 0) projection = projection.map((p) => -p);
    expectClose(r.cam, projection.map((p) => Math.max(p, 0)), 1e-4);
  });
});

/**
 * Model-parameter randomization test (Adebayo et al. 2018, "Sanity Checks for Saliency Maps", arXiv:1810.03292,
 * §3.1 cascading randomization; Quantus MPRT with layer_order="top_down"): the weights of the layers are
 * re-drawn one layer more per step, from the logits down, on an in-memory copy of the model, and the maps of a
 * sample of images recomputed. A map that explains the model must change; one that stays the same shows the image
 * (edges), not what the model uses.
 *
 * - Layers: the nodes with float weight initializers (more than one value; BatchNormalization's running mean and
 *   variance are statistics and stay) on the whole path from the input to the logits ('all', default: Adebayo's
 *   cascade, which starts with the head's layers), or only between the target layer and the logits ('head'), in
 *   reverse graph order. Randomizing only a CNN's last Gemm leaves Grad-CAM maps similar (the demo's clean model:
 *   Spearman 0.79): the activations still carry the image, and the cascade below the target layer changes them.
 *   Fixed filters (a Constant node, not an initializer) are not weights and stay.
 * - Draws: each initializer gets N(mean, std) of its own values (seeded: mulberry32 + Box-Muller, one stream per
 *   tensor, so a tensor has the same draw at every step after it is randomized: cascading).
 * - Similarity per image between the original and the randomized map, both as heatmaps in the model frame (min-max,
 *   bilinear upsampling): Spearman rank correlation of the values (average ranks for ties, as scipy.stats.spearmanr)
 *   and of their absolute values (Adebayo's two variants; equal for maps after a ReLU), and SSIM (skimage
 *   structural_similarity defaults: 7x7 uniform window, K1 0.01, K2 0.03, data range 1, sample covariance, mean over
 *   the window centres). A constant map (nothing left after the ReLU) has no ranks to share: its Spearman is 0.
 */
import { ConfigError } from '../errors.ts';
import { Explainer, type ExplainerOptions } from '../cam/explainer.ts';
import { GraphIndex, nodesBetween, tensorData } from '../onnx/graph.ts';
import type { InspectedModel } from '../onnx/inspect.ts';
import { makeTensor } from '../onnx/builder.ts';
import { DataType, onnx } from '../onnx/proto.ts';
import { mulberry32 } from '../numeric.ts';
import { createMetricContext } from './metrics/context.ts';

export type Cascade = 'head' | 'all';

export interface RandomizedLayer {
  node: string;
  opType: string;
  initializers: string[];
}

export interface SanityStep {
  /** 0 = the original model; step i has the first i layers (from the logits) randomized. */
  step: number;
  /** The layer randomized at this step (undefined at step 0). */
  layer?: RandomizedLayer;
  /** Means over the sample; per image in `images`. */
  spearman: number;
  spearmanAbs: number;
  ssim: number;
  images: { spearman: number; spearmanAbs: number; ssim: number }[];
}

export interface SanityOptions extends ExplainerOptions {
  cascade?: Cascade;
  seed?: number;
  /** Most layers to randomize (from the logits down); default all of the cascade. */
  maxLayers?: number;
}

const BN_STATISTICS = new Set([3, 4]);

/** The layers with weights, from the logits down. */
export function randomizableLayers(model: InspectedModel, target: string, cascade: Cascade = 'all'): RandomizedLayer[] {
  const index = model.index;
  const nodes = cascade === 'head' ? nodesBetween(index, target, model.logits) : nodesBetween(index, model.input.name, model.logits);
  const layers: RandomizedLayer[] = [];
  for (const node of [...nodes].reverse()) {
    const inits = (node.input ?? []).filter((name, slot) => {
      if (!name || (node.opType === 'BatchNormalization' && BN_STATISTICS.has(slot))) return false;
      const init = index.initializers.get(name);
      return init !== undefined && init.dataType === DataType.FLOAT && (init.dims ?? []).reduce((p, q) => p * Number(q), 1) > 1;
    });
    if (inits.length > 0) layers.push({ node: node.name || node.output?.[0] || '', opType: node.opType ?? '', initializers: inits });
  }
  return layers;
}

/** Values drawn from N(mean, std) of `values` (seeded). */
export function redraw(values: ArrayLike<number>, seed: number): Float32Array {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i];
  mean /= values.length;
  let variance = 0;
  for (let i = 0; i < values.length; i++) variance += (values[i] - mean) ** 2;
  const std = Math.sqrt(variance / values.length);
  const next = mulberry32(seed);
  return Float32Array.from({ length: values.length }, () => {
    const u = 1 - next(), v = next();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  });
}

/** An in-memory copy of the model with the initializers of `layers` redrawn (tensor k of the cascade: seed + k). */
export function randomizedModel(model: InspectedModel, layers: readonly RandomizedLayer[], seed: number, order: readonly string[]): InspectedModel {
  const names = new Set(layers.flatMap((l) => l.initializers));
  const source = model.loaded.model;
  // A new graph over the same nodes and untouched initializers (nothing downstream changes them in place): only the
  // redrawn tensors are new, not a decoded copy of every weight.
  const graph = onnx.GraphProto.create({
    ...source.graph!,
    initializer: (source.graph!.initializer ?? []).map((init) => {
      if (!init.name || !names.has(init.name)) return init;
      const values = redraw(tensorData(init) as Float32Array, seed + order.indexOf(init.name));
      return makeTensor(init.name, 'float32', (init.dims ?? []).map(Number), values);
    }),
  });
  const copy = onnx.ModelProto.create({ ...source, graph });
  return { ...model, loaded: { ...model.loaded, model: copy }, index: new GraphIndex(graph) };
}

/** Average ranks (1-based), ties sharing their mean rank. */
function ranks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const out = new Float64Array(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++;
    for (let k = i; k <= j; k++) out[order[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}

/** Spearman's rank correlation (scipy.stats.spearmanr); 0 when either map is constant (no ranks to share). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const r = pearson(ranks(a), ranks(b));
  return Number.isNaN(r) ? 0 : r;
}

/** SSIM as skimage.metrics.structural_similarity(a, b, data_range=1) on two h x w maps. */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, height: number, width: number): number {
  const win = Math.min(7, height - ((height + 1) % 2), width - ((width + 1) % 2));
  if (win < 3) throw new RangeError(`SSIM needs maps of at least 3x3, got ${height}x${width}`);
  const np = win * win, covNorm = np / (np - 1);
  const c1 = (0.01 * 1) ** 2, c2 = (0.03 * 1) ** 2;
  const pad = (win - 1) / 2;
  let sum = 0, count = 0;
  for (let y = pad; y < height - pad; y++) {
    for (let x = pad; x < width - pad; x++) {
      let ma = 0, mb = 0, aa = 0, bb = 0, ab = 0;
      for (let dy = -pad; dy <= pad; dy++) {
        for (let dx = -pad; dx <= pad; dx++) {
          const i = (y + dy) * width + x + dx;
          ma += a[i];
          mb += b[i];
          aa += a[i] * a[i];
          bb += b[i] * b[i];
          ab += a[i] * b[i];
        }
      }
      ma /= np;
      mb /= np;
      const va = covNorm * (aa / np - ma * ma), vb = covNorm * (bb / np - mb * mb), cov = covNorm * (ab / np - ma * mb);
      sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      count++;
    }
  }
  return sum / count;
}

async function heatmaps(explainer: Explainer, images: readonly Float32Array[]): Promise<Float32Array[]> {
  const { height, width } = explainer.inputShape;
  const out: Float32Array[] = [];
  for (let i = 0; i < images.length; i += 8) {
    const results = await explainer.explain(images.slice(i, i + 8), images.slice(i, i + 8).map(() => -1));
    for (const r of results) {
      if (r.problem) throw new ConfigError(`the sanity check cannot use an image whose ${r.problem}`);
      out.push(createMetricContext({ cam: r.cam, camHeight: r.camHeight, camWidth: r.camWidth, height, width, predicted: r.predicted, target: r.target }).heatmap);
    }
  }
  return out;
}

/**
 * Runs the cascade on `images` (preprocessed for `model`). Targets are each model's own predicted class, as
 * Adebayo et al. explain the randomized model's prediction.
 */
export async function sanityCheck(model: InspectedModel, images: readonly Float32Array[], options: SanityOptions = {}): Promise<{ layer: string; steps: SanityStep[] }> {
  if (images.length === 0) throw new ConfigError('the sanity check needs at least one image');
  const seed = options.seed ?? 42;
  const original = await Explainer.fromModel(model, options);
  const layer = original.layers[0].tensor;
  const { height, width } = original.inputShape;
  let base: Float32Array[];
  try {
    base = await heatmaps(original, images);
  } finally {
    await original.release();
  }
  const all = randomizableLayers(model, layer, options.cascade ?? 'all');
  const cascade = all.slice(0, options.maxLayers ?? all.length);
  if (cascade.length === 0) throw new ConfigError(`no layer with weights ${options.cascade === 'head' ? `between ${layer} and the logits` : 'on the path to the logits'} to randomize`);
  const order = cascade.flatMap((l) => l.initializers);
  const similarity = (maps: Float32Array[]) => {
    const per = maps.map((m, i) => ({
      spearman: spearman(base[i], m),
      spearmanAbs: spearman(base[i].map(Math.abs), m.map(Math.abs)),
      ssim: ssim(base[i], m, height, width),
    }));
    const mean = (k: 'spearman' | 'spearmanAbs' | 'ssim') => per.reduce((s, p) => s + p[k], 0) / per.length;
    return { spearman: mean('spearman'), spearmanAbs: mean('spearmanAbs'), ssim: mean('ssim'), images: per };
  };
  const steps: SanityStep[] = [{ step: 0, ...similarity(base) }];
  for (let i = 1; i <= cascade.length; i++) {
    const explainer = await Explainer.fromModel(randomizedModel(model, cascade.slice(0, i), seed, order), { ...options, layers: [layer], checkOutputs: false });
    try {
      steps.push({ step: i, layer: cascade[i - 1], ...similarity(await heatmaps(explainer, images)) });
    } finally {
      await explainer.release();
    }
  }
  return { layer, steps };
}

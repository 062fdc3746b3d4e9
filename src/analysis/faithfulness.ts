/**
 * Faithfulness of a map: does removing what the map ranks highest hurt the model's score faster than removing
 * something else? All perturbations happen on the preprocessed input tensor, in the model-input frame, ordered by
 * the heatmap (the CAM min-max normalised and upsampled to the input: MetricContext.heatmap).
 *
 * - Deletion and insertion (Petsiuk et al. 2018, RISE, arXiv:1806.07421, §4.1): pixels sorted by the heatmap,
 *   descending (ties by pixel index); at step k = 0..S the first c_k = floor(k·N/S) pixels are replaced by the fill
 *   (deletion) or put into the fill image (insertion); the curve is the target-class probability p_k and the AUC
 *   its trapezoid over [0, 1]: (Σ p_k − p_0/2 − p_S/2) / S (RISE's CausalMetric).
 * - The same two curves for a random order (one seeded permutation, the same for every image) give the baseline a
 *   number means something against: deletionVsRandom = AUC_del(random) − AUC_del(map), insertionVsRandom =
 *   AUC_ins(map) − AUC_ins(random).
 * - ROAD (Rong et al. 2022, arXiv:2202.00449; Quantus ROAD, pytorch-grad-cam metrics/road.py): for each share r, MoRF
 *   imputes the first floor(r·N) pixels of the map's descending order, LeRF of its ascending order (`roadMask`);
 *   imputation is the noisy linear imputer (each removed pixel = weighted mean of its 8 neighbours, 1/6 direct, 1/12
 *   diagonal, a sparse linear system: ./linear-imputation.ts, plus noise·N(0, 1), noise 0.01). Score per
 *   share p_t(imputed) − p_t(x), averaged over the shares (PGC's ROAD*Average); combined = (LeRF − MoRF) / 2.
 *
 * Cost: 2·S + 2·S (random) + 2·|shares| forward passes per image, run in batched `predict` calls.
 */
import { mulberry32, softmax } from '../numeric.ts';
import { noisyLinearImpute } from './linear-imputation.ts';
import { gaussianBlur, DEFAULT_BLUR_SIGMA, strides, type TensorShape } from './occlusion.ts';


export type FaithfulnessFill = 'blur' | 'mean';

export interface FaithfulnessOptions {
  /** Steps of the deletion/insertion curves (S); default 16. */
  steps?: number;
  /** What removed pixels become: a Gaussian blur of the image (RISE's insertion start) or its per-channel mean. */
  fill?: FaithfulnessFill;
  /** Blur sigma in model pixels; default 10 (as the occlusion fill). */
  blurSigma?: number;
  /** ROAD removal shares in (0, 1); default 0.1, 0.2, ..., 0.9 (PGC's percentiles 10..90). */
  roadShares?: readonly number[];
  /** ROAD imputation noise std (in the normalised tensor's units); default 0.01 as PGC and Quantus. */
  roadNoise?: number;
  /** Seed of the random order and the imputation noise; default 0. */
  seed?: number;
  /** Largest number of inputs per predict call; default 64. */
  chunk?: number;
}

export interface FaithfulnessResult {
  deletionAuc: number;
  insertionAuc: number;
  deletionRandomAuc: number;
  insertionRandomAuc: number;
  /** p_k for k = 0..S (the report draws them). */
  deletionCurve: number[];
  insertionCurve: number[];
  roadMorf: number;
  roadLerf: number;
}

export interface FaithfulnessItem {
  input: Float32Array;
  /** Model-frame heatmap (height x width). */
  heatmap: Float32Array;
  logits: Float32Array;
  target: number;
}

export const DEFAULT_STEPS = 16;
export const DEFAULT_ROAD_SHARES: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
export const DEFAULT_ROAD_NOISE = 0.01;


/** Pixel indices by heatmap value, descending; ties in index order. */
export function rankPixels(heatmap: ArrayLike<number>): Uint32Array {
  const order = Uint32Array.from({ length: heatmap.length }, (_, i) => i);
  return order.sort((a, b) => heatmap[b] - heatmap[a] || a - b);
}

/** A seeded Fisher-Yates permutation of 0..n-1 (j = floor(u·(i+1)) for i = n-1..1). */
export function randomOrder(n: number, seed: number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  const next = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Trapezoid AUC of a curve sampled at k/S, k = 0..S. */
export function curveAuc(curve: readonly number[]): number {
  const s = curve.length - 1;
  if (s < 1) throw new RangeError('a curve needs at least two points');
  let sum = 0;
  for (const p of curve) sum += p;
  return (sum - curve[0] / 2 - curve[s] / 2) / s;
}

/** The fill image: every channel blurred, or every channel at its mean. */
export function fillImage(input: Float32Array, shape: TensorShape, fill: FaithfulnessFill, blurSigma = DEFAULT_BLUR_SIGMA): Float32Array {
  const { cs, ps } = strides(shape);
  const n = shape.height * shape.width;
  const out = new Float32Array(input.length);
  for (let c = 0; c < shape.channels; c++) {
    const plane = new Float32Array(n);
    for (let p = 0; p < n; p++) plane[p] = input[c * cs + p * ps];
    let filled: Float32Array;
    if (fill === 'blur') filled = gaussianBlur(plane, shape.height, shape.width, blurSigma);
    else {
      let sum = 0;
      for (let p = 0; p < n; p++) sum += plane[p];
      filled = new Float32Array(n).fill(sum / n);
    }
    for (let p = 0; p < n; p++) out[c * cs + p * ps] = filled[p];
  }
  return out;
}

/** The inputs of one curve: step k takes the first c_k pixels of `order` from `into`, the rest from `base`. */
function curveInputs(base: Float32Array, into: Float32Array, order: Uint32Array, shape: TensorShape, steps: number): Float32Array[] {
  const { cs, ps } = strides(shape);
  const n = order.length;
  const out: Float32Array[] = [];
  const current = Float32Array.from(base);
  let done = 0;
  for (let k = 0; k <= steps; k++) {
    const count = Math.floor((k * n) / steps);
    for (; done < count; done++) {
      const p = order[done];
      for (let c = 0; c < shape.channels; c++) current[c * cs + p * ps] = into[c * cs + p * ps];
    }
    out.push(Float32Array.from(current));
  }
  return out;
}

/**
 * Pixels ROAD removes at share r: the first floor(r·N) of the map's order, MoRF from the top (descending, ties in
 * index order) and LeRF from the bottom (ascending, ties in index order), as Quantus's ROAD takes argsort(−a)[:k].
 * A percentile threshold (pytorch-grad-cam) removes every tied pixel, and a Grad-CAM map after its ReLU ties many at
 * 0: at r = 0.9 the threshold is 0 and the whole image would be imputed.
 */
export function roadMask(heatmap: Float32Array, share: number, order: 'morf' | 'lerf'): Uint8Array {
  return prefixMask(roadOrder(heatmap, order), share);
}

/** The map's order for ROAD: descending (MoRF) or ascending (LeRF), ties in index order either way. */
function roadOrder(heatmap: Float32Array, order: 'morf' | 'lerf'): Uint32Array {
  return order === 'morf' ? rankPixels(heatmap) : rankPixels(Float32Array.from(heatmap, (v) => -v));
}

/** 1 on the first floor(share·N) pixels of `ranked`. */
function prefixMask(ranked: Uint32Array, share: number): Uint8Array {
  const mask = new Uint8Array(ranked.length);
  const count = Math.floor(share * ranked.length);
  for (let i = 0; i < count; i++) mask[ranked[i]] = 1;
  return mask;
}

/**
 * Every faithfulness number for a batch of images: builds all perturbed inputs, runs them through `predict` in
 * chunks, reads the target-class probabilities.
 */
export async function faithfulness(
  items: readonly FaithfulnessItem[],
  shape: TensorShape,
  predict: (inputs: Float32Array[]) => Promise<Float32Array[]>,
  options: FaithfulnessOptions & { probabilities?: boolean } = {},
): Promise<FaithfulnessResult[]> {
  const steps = options.steps ?? DEFAULT_STEPS;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`faithfulness steps must be a positive integer, got ${steps}`);
  const shares = options.roadShares ?? DEFAULT_ROAD_SHARES;
  for (const r of shares) if (!(r > 0 && r < 1)) throw new RangeError(`ROAD shares lie in (0, 1), got ${r}`);
  const n = shape.height * shape.width;
  const seed = options.seed ?? 0;
  const random = randomOrder(n, seed);
  const inputs: Float32Array[] = [];
  const plans = items.map((item) => {
    if (item.heatmap.length !== n) throw new RangeError(`heatmap has ${item.heatmap.length} values, expected ${shape.height}x${shape.width}`);
    const fill = fillImage(item.input, shape, options.fill ?? 'blur', options.blurSigma);
    const order = rankPixels(item.heatmap);
    const start = inputs.length;
    inputs.push(
      ...curveInputs(item.input, fill, order, shape, steps),
      ...curveInputs(fill, item.input, order, shape, steps),
      ...curveInputs(item.input, fill, random, shape, steps),
      ...curveInputs(fill, item.input, random, shape, steps),
    );
    const next = mulberry32(seed + 1);
    for (const kind of ['morf', 'lerf'] as const) {
      // One sort per order, not per share.
      const ranked = kind === 'morf' ? order : roadOrder(item.heatmap, 'lerf');
      for (const r of shares) inputs.push(noisyLinearImpute(item.input, shape, prefixMask(ranked, r), options.roadNoise ?? DEFAULT_ROAD_NOISE, next));
    }
    return start;
  });
  const chunk = options.chunk ?? 64;
  const logits: Float32Array[] = [];
  for (let i = 0; i < inputs.length; i += chunk) logits.push(...(await predict(inputs.slice(i, i + chunk))));
  const prob = (l: Float32Array, t: number) => (options.probabilities ? l[t] : softmax(l)[t]);
  return items.map((item, i) => {
    const p = (k: number) => prob(logits[plans[i] + k], item.target);
    const curve = (offset: number) => Array.from({ length: steps + 1 }, (_, k) => p(offset + k));
    const L = steps + 1;
    const [del, ins, delRandom, insRandom] = [0, 1, 2, 3].map((j) => curve(j * L));
    const p0 = prob(item.logits, item.target);
    const road = (j: number) => shares.reduce((s, _, k) => s + p(4 * L + j * shares.length + k) - p0, 0) / shares.length;
    return {
      deletionAuc: curveAuc(del),
      insertionAuc: curveAuc(ins),
      deletionRandomAuc: curveAuc(delRandom),
      insertionRandomAuc: curveAuc(insRandom),
      deletionCurve: del,
      insertionCurve: ins,
      roadMorf: road(0),
      roadLerf: road(1),
    };
  });
}

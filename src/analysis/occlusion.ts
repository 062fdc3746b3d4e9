/**
 * Counterfactual check of Borg et al.'s question "does the model use the invalid pixels?": fill the invalid
 * pixels of the preprocessed input with something uninformative and see how much the target-class
 * probability drops and whether the predicted class flips.
 *
 * Fills (in the preprocessed, normalised tensor space):
 * - 'mean': each channel's mean over the valid (non-invalid) pixels of the same image, i.e. the image's own
 *   average colour; 0 (the normalisation's dataset mean) when every pixel is invalid.
 * - 'blur': a Gaussian blur of the image (sigma `blurSigma` model pixels, default 10 as in Fong & Vedaldi
 *   2017's blur perturbation; kernel radius ceil(3 sigma), edges clamped), taken inside the mask only.
 *
 * Batch use: `occlusionInputs` builds the occluded tensors of a whole batch, the pipeline runs one forward
 * over them, `occlusionResults` turns the logits into per-image results. `runOcclusion` chains the three.
 */

import { argmax, KEEP_SCRATCH, softmax } from '../numeric.ts';

export type TensorLayout = 'CHW' | 'HWC';

export interface TensorShape {
  layout: TensorLayout;
  channels: number;
  height: number;
  width: number;
}

export type OcclusionFill = 'mean' | 'blur';

export interface OcclusionOptions {
  fill?: OcclusionFill;
  blurSigma?: number;
  /** The model's output is already softmax probabilities (do not apply softmax again). */
  probabilities?: boolean;
}

export interface OcclusionResult {
  /** p_target(original) − p_target(occluded), softmax probabilities. */
  occlusionDrop: number;
  /** 1 when argmax changes, else 0. */
  occlusionFlip: number;
}

export interface OcclusionItem {
  /** One preprocessed image (no batch dimension). */
  input: Float32Array;
  /** Model-frame 0/1 mask; null = no invalid mask for the image. */
  invalid: Uint8Array | null;
  /** The model output for the unoccluded input. */
  logits: Float32Array;
  /** The explained class (resolved, >= 0). */
  target: number;
}

export const DEFAULT_BLUR_SIGMA = 10;

function check(input: Float32Array, shape: TensorShape, invalid: Uint8Array): void {
  const { channels: c, height: h, width: w } = shape;
  if (input.length !== c * h * w) throw new RangeError(`input has ${input.length} values, expected ${shape.layout} ${c}x${h}x${w}`);
  if (invalid.length !== h * w) throw new RangeError(`invalid mask has ${invalid.length} values, expected ${h}x${w}`);
}

/** Strides so that element (c, y, x) is at c*cs + (y*w + x)*ps. */
export function strides(shape: TensorShape): { cs: number; ps: number } {
  return shape.layout === 'CHW' ? { cs: shape.height * shape.width, ps: 1 } : { cs: 1, ps: shape.channels };
}

/** The input with its invalid pixels filled in (a new array). */
export function occludeInput(input: Float32Array, shape: TensorShape, invalid: Uint8Array, options: OcclusionOptions = {}, into?: Float32Array): Float32Array {
  check(input, shape, invalid);
  const fill = options.fill ?? 'mean';
  if (fill !== 'mean' && fill !== 'blur') throw new RangeError(`unknown occlusion fill ${JSON.stringify(fill)} (expected 'mean' or 'blur')`);
  if (into && (into.length !== input.length || into.buffer === input.buffer)) throw new RangeError('occludeInput: `into` must be a separate array of the input\'s length');
  const out = into ?? new Float32Array(input.length);
  out.set(input);
  const { cs, ps } = strides(shape);
  const n = shape.height * shape.width;
  const runs = invalidRuns(invalid);
  if (fill === 'mean') {
    // Each channel's sum over the valid pixels in pixel order (the gaps between the invalid runs), then only the
    // invalid runs are written.
    let count = n;
    for (let r = 0; r < runs.length; r += 2) count -= runs[r + 1] - runs[r];
    for (let c = 0; c < shape.channels; c++) {
      let sum = 0;
      for (let r = 0, p = 0; p < n; r += 2) {
        const end = r < runs.length ? runs[r] : n;
        for (let q = c * cs + p * ps, stop = c * cs + end * ps; q < stop; q += ps) sum += input[q];
        p = r < runs.length ? runs[r + 1] : n;
      }
      const mean = count > 0 ? sum / count : 0;
      for (let r = 0; r < runs.length; r += 2) {
        if (ps === 1) out.fill(mean, c * cs + runs[r], c * cs + runs[r + 1]);
        else for (let p = runs[r], q = c * cs + p * ps; p < runs[r + 1]; p++, q += ps) out[q] = mean;
      }
    }
  } else {
    const plane = new Float32Array(n);
    for (let c = 0; c < shape.channels; c++) {
      for (let p = 0; p < n; p++) plane[p] = input[c * cs + p * ps];
      const blurred = gaussianBlur(plane, shape.height, shape.width, options.blurSigma ?? DEFAULT_BLUR_SIGMA);
      for (let r = 0; r < runs.length; r += 2) {
        for (let p = runs[r]; p < runs[r + 1]; p++) out[c * cs + p * ps] = blurred[p];
      }
    }
  }
  return out;
}

/**
 * The runs of set (non-zero) pixels of a mask in pixel order, as [start, end) pairs: invalid regions are blobs, so a
 * few runs per row, and every channel of the fill walks them instead of testing each pixel. Four mask bytes are
 * read at a time where they can be: a word of four 0s (outside a run) or four 1s (inside one) holds no boundary.
 */
function invalidRuns(invalid: Uint8Array): Int32Array {
  const n = invalid.length;
  const runs = n + 1 > KEEP_SCRATCH ? new Int32Array(n + 1) : runScratch.length > n ? runScratch : (runScratch = new Int32Array(n + 1));
  let k = 0;
  let inside = 0;
  const boundaries = (from: number, to: number) => {
    for (let p = from; p < to; p++) {
      const v = invalid[p] === 0 ? 0 : 1;
      if (v !== inside) {
        runs[k++] = p;
        inside = v;
      }
    }
  };
  const words = invalid.byteOffset % 4 === 0 ? new Uint32Array(invalid.buffer, invalid.byteOffset, n >>> 2) : new Uint32Array(0);
  for (let w = 0; w < words.length; w++) {
    if (words[w] !== (inside === 0 ? 0 : 0x01010101)) boundaries(4 * w, 4 * w + 4);
  }
  boundaries(4 * words.length, n);
  if (inside) runs[k++] = n; // the last run reaches the end
  return runs.slice(0, k);
}
/** invalidRuns' working buffer, reused across calls (every image of a run has the same model frame). */
let runScratch = new Int32Array(0);

/** Separable Gaussian blur of one h x w plane with clamped (replicated) edges. */
export function gaussianBlur(plane: Float32Array, height: number, width: number, sigma: number): Float32Array {
  if (!(sigma > 0)) throw new RangeError(`blur sigma must be > 0, got ${sigma}`);
  const r = Math.ceil(3 * sigma);
  const kernel = new Float64Array(2 * r + 1);
  let ksum = 0;
  for (let k = -r; k <= r; k++) ksum += kernel[k + r] = Math.exp(-(k * k) / (2 * sigma * sigma));
  for (let k = 0; k < kernel.length; k++) kernel[k] /= ksum;
  // Horizontal pass over an edge-padded copy of each row (no clamping in the inner loop).
  const tmp = new Float64Array(height * width);
  const line = new Float64Array(width + 2 * r);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let i = 0; i < line.length; i++) line[i] = plane[row + Math.min(Math.max(i - r, 0), width - 1)];
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = 0; k < kernel.length; k++) s += kernel[k] * line[x + k];
      tmp[row + x] = s;
    }
  }
  // Vertical pass row by row: out[y] = Σ_k kernel[k] · tmp[clamp(y + k − r)], contiguous inner loop.
  const acc = new Float64Array(width);
  const out = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    for (let k = 0; k < kernel.length; k++) {
      const src = Math.min(Math.max(y + k - r, 0), height - 1) * width;
      const wk = kernel[k];
      for (let x = 0; x < width; x++) acc[x] += wk * tmp[src + x];
    }
    out.set(acc, y * width);
  }
  return out;
}

export function occlusionMetrics(
  originalLogits: Float32Array,
  occludedLogits: Float32Array,
  target: number,
  options: Pick<OcclusionOptions, 'probabilities'> = {},
): OcclusionResult {
  if (originalLogits.length !== occludedLogits.length) {
    throw new RangeError(`logits differ in length: ${originalLogits.length} vs ${occludedLogits.length}`);
  }
  if (!Number.isInteger(target) || target < 0 || target >= originalLogits.length) {
    throw new RangeError(`target ${target} is not a class index of ${originalLogits.length} outputs`);
  }
  const p0 = options.probabilities ? originalLogits : softmax(originalLogits);
  const p1 = options.probabilities ? occludedLogits : softmax(occludedLogits);
  return { occlusionDrop: p0[target] - p1[target], occlusionFlip: argmax(originalLogits) !== argmax(occludedLogits) ? 1 : 0 };
}

export interface OcclusionPlan {
  /** The occluded inputs that need a forward pass, in order. */
  inputs: Float32Array[];
  /** Per item: index into `inputs`, 'none' (no invalid mask → null), or 'unchanged' (empty mask → 0, 0). */
  slots: (number | 'none' | 'unchanged')[];
}

/** One image's counterfactual: 'none' without an invalid mask, 'unchanged' for an empty one, else the occluded input. */
export function occlusionInput(
  input: Float32Array,
  invalid: Uint8Array | null,
  shape: TensorShape,
  options: OcclusionOptions = {},
  into?: () => Float32Array | undefined,
): 'none' | 'unchanged' | Float32Array {
  if (!invalid) return 'none';
  if (invalid.indexOf(1) < 0 && !invalid.some((v) => v !== 0)) return 'unchanged'; // nothing to occlude: identical input (masks are 0/1: indexOf is the fast test)
  return occludeInput(input, shape, invalid, options, into?.());
}

export function occlusionInputs(items: readonly Pick<OcclusionItem, 'input' | 'invalid'>[], shape: TensorShape, options: OcclusionOptions = {}): OcclusionPlan {
  const plan: OcclusionPlan = { inputs: [], slots: [] };
  for (const { input, invalid } of items) {
    const occluded = occlusionInput(input, invalid, shape, options);
    if (typeof occluded === 'string') plan.slots.push(occluded);
    else {
      plan.slots.push(plan.inputs.length);
      plan.inputs.push(occluded);
    }
  }
  return plan;
}

export function occlusionResults(
  items: readonly Pick<OcclusionItem, 'logits' | 'target'>[],
  plan: OcclusionPlan,
  occludedLogits: readonly Float32Array[],
  options: Pick<OcclusionOptions, 'probabilities'> = {},
): (OcclusionResult | null)[] {
  if (occludedLogits.length !== plan.inputs.length) {
    throw new RangeError(`predict returned ${occludedLogits.length} outputs for ${plan.inputs.length} occluded inputs`);
  }
  return items.map((item, i) => {
    const slot = plan.slots[i];
    if (slot === 'none') return null;
    if (slot === 'unchanged') return { occlusionDrop: 0, occlusionFlip: 0 };
    return occlusionMetrics(item.logits, occludedLogits[slot], item.target, options);
  });
}

/** Builds the occluded inputs of a batch, runs them through `predict` in one call, returns per-item results. */
export async function runOcclusion(
  items: readonly OcclusionItem[],
  shape: TensorShape,
  predict: (inputs: Float32Array[]) => Promise<Float32Array[]>,
  options: OcclusionOptions = {},
): Promise<(OcclusionResult | null)[]> {
  const plan = occlusionInputs(items, shape, options);
  const logits = plan.inputs.length > 0 ? await predict(plan.inputs) : [];
  return occlusionResults(items, plan, logits, options);
}

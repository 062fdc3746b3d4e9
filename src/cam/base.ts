import type { GraphReduction } from './augment.ts';

/**
 * The shared interface of the CAM family (after pytorch-grad-cam's BaseCAM): a method turns one image's target-layer
 * activations A (and, for gradient methods, G = dScore/dA) into a raw map [h, w] after its ReLU. Channel-weight methods
 * implement `weights` and inherit the weighted sum; spatial methods implement `cam` directly.
 */
export interface FeatureMap {
  /** One image, channel-major: data[c * h * w + y * w + x]. */
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

/** Forward passes some methods need (Score-CAM, Ablation-CAM), batched by the explainer. */
export interface CamRunner {
  /** Target-class scores for a batch of whole-model inputs (one image each, in the model's layout). */
  scoresForInputs(inputs: Float32Array[], target: number): Promise<Float32Array>;
  /** Target-class scores for a batch of target-layer activations (channel-major, one image each) run through the head alone. */
  scoresForActivations(activations: Float32Array[], target: number): Promise<Float32Array>;
}

export interface CamInput {
  activations: FeatureMap;
  gradients?: FeatureMap;
  /** The preprocessed image (model layout) and the model-input size, for methods that re-run the model. */
  image?: Float32Array;
  /** Layout of `image`. */
  layout: 'NCHW' | 'NHWC';
  inputHeight: number;
  inputWidth: number;
  target: number;
  runner?: CamRunner;
}

export interface CamMethod {
  readonly name: string;
  readonly title: string;
  /** Paper and equation the implementation follows. */
  readonly citation: string;
  readonly usesGradients: boolean;
  /** Raw map [h*w] at the layer's resolution, after the method's ReLU. */
  compute(input: CamInput): Float32Array | Promise<Float32Array>;
  /**
   * The same map as ONNX nodes, optional: the explainer then reads [N, h, w] from the session and A and dA never
   * leave it (less copying, and the arithmetic runs on the execution provider). Must equal `compute`.
   */
  readonly graph?: GraphReduction;
}

/** Σ_c w[c]·A[c], then ReLU: the map of every channel-weight method. */
export function weightedSum(acts: FeatureMap, weights: ArrayLike<number>): Float32Array {
  const hw = acts.height * acts.width;
  const out = new Float64Array(hw);
  for (let c = 0; c < acts.channels; c++) {
    const w = weights[c];
    if (w === 0) continue;
    const base = c * hw;
    for (let i = 0; i < hw; i++) out[i] += w * acts.data[base + i];
  }
  return relu(out);
}

/** Σ_c f(A[c,i], G[c,i]) per pixel, then ReLU: the map of spatial methods (HiResCAM, LayerCAM, ...). */
export function spatialSum(acts: FeatureMap, grads: FeatureMap, term: (a: number, g: number) => number): Float32Array {
  const hw = acts.height * acts.width;
  const out = new Float64Array(hw);
  for (let c = 0; c < acts.channels; c++) {
    const base = c * hw;
    for (let i = 0; i < hw; i++) out[i] += term(acts.data[base + i], grads.data[base + i]);
  }
  return relu(out);
}

/** Per-channel reduction over the spatial positions. */
export function perChannel(map: FeatureMap, reduce: (data: Float32Array, start: number, end: number) => number): Float64Array {
  const hw = map.height * map.width;
  const out = new Float64Array(map.channels);
  for (let c = 0; c < map.channels; c++) out[c] = reduce(map.data, c * hw, (c + 1) * hw);
  return out;
}

export function relu(values: ArrayLike<number>): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] > 0 ? values[i] : 0;
  return out;
}

export function requireGradients(input: CamInput, method: string): FeatureMap {
  if (!input.gradients) throw new Error(`${method} needs gradients, but none were computed`);
  return input.gradients;
}

/** Small numeric helpers shared across layers (the explainer's confidences, the occlusion counterfactual). */

/**
 * Numerically stable softmax (max subtracted) into `out`: Float64Array by default; pass a Float32Array to get
 * float32 probabilities (the sum is accumulated in double either way).
 */
export function softmax<T extends Float32Array | Float64Array = Float64Array>(logits: ArrayLike<number>, out?: T): T {
  const p = (out ?? new Float64Array(logits.length)) as T;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < logits.length; i++) p[i] /= sum;
  return p;
}

/** Index of the largest value; the first one on ties. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

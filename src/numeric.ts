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

/** Deterministic uniform numbers in [0, 1) (mulberry32): the same stream in scripts/reference/faithfulness.py. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

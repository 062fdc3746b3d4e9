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

/**
 * A sorted copy of `values`, ascending, equal to `Float32Array.from(values).sort()`. Heatmaps are non-negative, and
 * the bit patterns of non-negative float32 values (+0 included) order as unsigned integers do: an LSD radix sort on
 * those bits (four 8-bit passes) is linear, several times faster than the comparison sort on a 224x224 map, which
 * every image's metrics need. Anything else (a negative value, -0, NaN) takes the comparison sort.
 */
export function sortedCopy(values: Float32Array): Float32Array {
  const n = values.length;
  const bits = new Uint32Array(Float32Array.from(values).buffer);
  for (let i = 0; i < n; i++) if (bits[i] >= 0x7f800001) return new Float32Array(bits.buffer).sort(); // sign bit or NaN
  let from = bits;
  let to = new Uint32Array(n);
  const counts = new Uint32Array(256);
  for (let shift = 0; shift < 32; shift += 8) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(from[i] >>> shift) & 255]++;
    if (counts[(from[0] >>> shift) & 255] === n) continue; // every value has the same byte here
    for (let b = 0, sum = 0; b < 256; b++) {
      const c = counts[b];
      counts[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) to[counts[(from[i] >>> shift) & 255]++] = from[i];
    [from, to] = [to, from];
  }
  return new Float32Array(from.buffer);
}

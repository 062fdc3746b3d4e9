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
 * those bits is linear, several times faster than the comparison sort on a 224x224 map, which every image's metrics
 * need. One read pass checks the input and counts all three digits (11, 11 and 10 bits); three scatter passes follow,
 * the first reading the input itself (no copy), and a pass whose digit is the same for every value is skipped. The
 * scratch buffers are kept between calls (only the result is new). Anything else (a negative value, -0, NaN) takes
 * the comparison sort.
 */
export function sortedCopy(values: Float32Array): Float32Array {
  const n = values.length;
  const out = new Float32Array(n);
  if (n === 0) return out;
  const input = new Uint32Array(values.buffer, values.byteOffset, n);
  const counts = radixCounts;
  counts.fill(0);
  for (let i = 0; i < n; i++) {
    const b = input[i];
    if (b >= 0x7f800001) {
      out.set(values);
      return out.sort(); // sign bit or NaN
    }
    counts[b & 0x7ff]++;
    counts[2048 + ((b >>> 11) & 0x7ff)]++;
    counts[4096 + (b >>> 22)]++;
  }
  const result = new Uint32Array(out.buffer);
  const scratch = n > KEEP_SCRATCH ? new Uint32Array(n) : radixScratch.length >= n ? radixScratch : (radixScratch = new Uint32Array(n));
  let from = input;
  for (let digit = 0; digit < 3; digit++) {
    const shift = digit * 11;
    const base = digit * 2048;
    if (counts[base + ((input[0] >>> shift) & 0x7ff)] === n) continue; // every value has the same digit here
    for (let d = base, sum = 0; d < base + 2048; d++) {
      const c = counts[d];
      counts[d] = sum;
      sum += c;
    }
    // Alternate out -> scratch -> out, starting from the input: with all three passes the last one lands in out.
    const to = from === result ? scratch : result;
    for (let i = 0; i < n; i++) {
      const b = from[i];
      to[counts[base + ((b >>> shift) & 0x7ff)]++] = b;
    }
    from = to;
  }
  if (from !== result) result.set(from.subarray(0, n));
  return out;
}

/** sortedCopy's digit counts and its second buffer, reused across calls (the per-image maps are the same size). */
const radixCounts = new Uint32Array(3 * 2048);
let radixScratch = new Uint32Array(0);
/** Maps larger than this (own-size inputs) get a buffer of their own, not kept: a few MB at most stay allocated. */
export const KEEP_SCRATCH = 1 << 20;

import { invalidParameter } from '../errors.ts';

/**
 * Bilinear resize of a single-channel row-major map with cv2.resize INTER_LINEAR semantics for float input:
 * half-pixel centres (align_corners=False), source position (o + 0.5) * in / out - 0.5 clamped to the edge
 * pixels, no antialiasing when shrinking. This is what pytorch-grad-cam's `scale_cam_image` uses.
 */
export function upsampleBilinear(map: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  for (const [name, value] of Object.entries({ h, w, outH, outW })) {
    if (!Number.isInteger(value) || value < 1) throw invalidParameter(name, 'a positive integer', value);
  }
  if (map.length !== h * w) throw invalidParameter('map length', `${h}*${w} = ${h * w}`, map.length);
  const cols = cachedTaps(w, outW);
  const rows = cachedTaps(h, outH);
  // cv2's order, x then y: the horizontal pass of each input row is computed once (float64, the same products and
  // sums as per pixel) and each output row blends two of them; bit-identical to interpolating pixel by pixel.
  const across = new Float64Array(h * outW);
  for (let r = 0; r < h; r++) {
    const row = r * w;
    for (let x = 0; x < outW; x++) {
      across[r * outW + x] = map[row + cols.i0[x]] * cols.w0[x] + map[row + cols.i1[x]] * cols.w1[x];
    }
  }
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const top = rows.i0[y] * outW, bottom = rows.i1[y] * outW, w0 = rows.w0[y], w1 = rows.w1[y];
    const o = y * outW;
    for (let x = 0; x < outW; x++) out[o + x] = across[top + x] * w0 + across[bottom + x] * w1;
  }
  return out;
}

type Taps = ReturnType<typeof linearTaps> & { w0: Float64Array };
/** The taps of the last few (n, out) pairs: every image of a run has the same CAM and model sizes. */
const tapCache = new Map<string, Taps>();
function cachedTaps(n: number, out: number): Taps {
  const key = `${n}>${out}`;
  let taps = tapCache.get(key);
  if (!taps) {
    const t = linearTaps(n, out);
    taps = { ...t, w0: t.w1.map((w) => 1 - w) };
    if (tapCache.size >= 8) tapCache.clear();
    tapCache.set(key, taps);
  }
  return taps;
}

/** Per output index: the two input indices and the weight of the second (cv2 INTER_LINEAR, edge clamp). */
export function linearTaps(n: number, out: number): { i0: Int32Array; i1: Int32Array; w1: Float64Array } {
  const taps = { i0: new Int32Array(out), i1: new Int32Array(out), w1: new Float64Array(out) };
  const scale = n / out;
  for (let o = 0; o < out; o++) {
    const p = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), n - 1);
    const i0 = Math.floor(p);
    taps.i0[o] = i0;
    taps.i1[o] = Math.min(i0 + 1, n - 1);
    taps.w1[o] = p - i0;
  }
  return taps;
}

/**
 * pytorch-grad-cam's `scale_cam_image` normalisation: (x - min) / (1e-7 + max(x - min)). A constant map gives
 * all zeros. NaN entries are ignored for min/max and stay NaN.
 */
export function normalizeMinMax(map: Float32Array): Float32Array {
  let min = Infinity;
  let max = -Infinity;
  for (const v of map) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const out = new Float32Array(map.length);
  if (min === Infinity) return out.fill(Number.NaN, 0, map.length);
  const denom = 1e-7 + (max - min);
  for (let i = 0; i < map.length; i++) out[i] = (map[i] - min) / denom;
  return out;
}

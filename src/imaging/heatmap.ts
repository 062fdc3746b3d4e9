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
  const cols = linearTaps(w, outW);
  const rows = linearTaps(h, outH);
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const r0 = rows.i0[y] * w, r1 = rows.i1[y] * w, wy = rows.w1[y];
    for (let x = 0; x < outW; x++) {
      const c0 = cols.i0[x], c1 = cols.i1[x], wx = cols.w1[x];
      const top = map[r0 + c0] * (1 - wx) + map[r0 + c1] * wx;
      const bottom = map[r1 + c0] * (1 - wx) + map[r1 + c1] * wx;
      out[y * outW + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
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

/**
 * Mask scans a word (4 pixels) at a time: region masks are mostly long runs of 0s (and of 1s), so a word of four 0s
 * (or four 1s) settles four pixels with one test. Pixels are still visited in order, so sums add the same terms in
 * the same order as a pixel loop. `words(mask, n)` views the first floor(n / 4) words; null when the mask's offset
 * does not allow a view (the callers then go pixel by pixel).
 */
function words(mask: Uint8Array, n: number): Uint32Array | null {
  return mask.byteOffset % 4 === 0 ? new Uint32Array(mask.buffer, mask.byteOffset, Math.min(n, mask.length) >>> 2) : null;
}

const ALL_ONES = 0x01010101;

/** Σ h over the pixels where mask is set. */
export function maskedSum(h: Float32Array, mask: Uint8Array): number {
  const w = words(mask, h.length);
  let s = 0;
  let i = 0;
  if (w) {
    for (let k = 0; k < w.length; k++) {
      const word = w[k];
      i = 4 * k;
      if (word === 0) continue;
      if (word === ALL_ONES) s = s + h[i] + h[i + 1] + h[i + 2] + h[i + 3];
      else for (let j = i; j < i + 4; j++) if (mask[j]) s += h[j];
    }
    i = 4 * w.length;
  }
  for (; i < h.length; i++) if (mask[i]) s += h[i];
  return s;
}

/** The number of set (non-zero) pixels of a mask. */
export function countSet(mask: Uint8Array): number {
  const w = words(mask, mask.length);
  let count = 0;
  let i = 0;
  if (w) {
    for (let k = 0; k < w.length; k++) {
      const word = w[k];
      if (word === 0) continue;
      if (word === ALL_ONES) count += 4;
      else for (let j = 4 * k; j < 4 * k + 4; j++) if (mask[j]) count++;
    }
    i = 4 * w.length;
  }
  for (; i < mask.length; i++) if (mask[i]) count++;
  return count;
}

/** Null for a missing or empty mask: metrics about a region need the region. */
export function nonEmpty(mask: Uint8Array | null): Uint8Array | null {
  if (!mask) return null;
  const w = words(mask, mask.length);
  let i = 0;
  if (w) {
    for (let k = 0; k < w.length; k++) if (w[k] !== 0) return mask;
    i = 4 * w.length;
  }
  for (; i < mask.length; i++) if (mask[i]) return mask;
  return null;
}

/** Σ h over a mask / Σ h, or null when Σ h = 0. */
export function massShare(h: Float32Array, total: number, mask: Uint8Array): number | null {
  return total > 0 ? maskedSum(h, mask) / total : null;
}

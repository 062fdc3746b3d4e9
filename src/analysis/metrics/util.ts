/** Σ h over the pixels where mask is set. */
export function maskedSum(h: Float32Array, mask: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < h.length; i++) if (mask[i]) s += h[i];
  return s;
}

/** Null for a missing or empty mask: metrics about a region need the region. */
export function nonEmpty(mask: Uint8Array | null): Uint8Array | null {
  if (!mask) return null;
  for (let i = 0; i < mask.length; i++) if (mask[i]) return mask;
  return null;
}

/** Σ h over a mask / Σ h, or null when Σ h = 0. */
export function massShare(h: Float32Array, total: number, mask: Uint8Array): number | null {
  return total > 0 ? maskedSum(h, mask) / total : null;
}

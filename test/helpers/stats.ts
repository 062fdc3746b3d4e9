/**
 * Pearson correlation of two maps. A constant map (e.g. an all-zero CAM after ReLU) has no pattern to correlate:
 * the result is NaN, so `expect(r).toBeGreaterThanOrEqual(0.999)` fails instead of passing two blank maps.
 */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`pearson: lengths differ (${a.length} vs ${b.length})`);
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  if (saa === 0 || sbb === 0) return NaN;
  return sab / Math.sqrt(saa * sbb);
}

/** Variance of a map (population); 0 for a constant map. */
export function variance(a: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < a.length; i++) mean += a[i];
  mean /= a.length;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - mean) ** 2;
  return s / a.length;
}

/**
 * Throws unless the map says something: some non-zero value and variance > 0. Reference tests call it on both maps
 * before correlating them, so a blank heatmap can never match a blank reference.
 */
export function assertNonDegenerate(map: ArrayLike<number>, what: string): void {
  let nonZero = false;
  for (let i = 0; i < map.length && !nonZero; i++) nonZero = map[i] !== 0;
  if (!nonZero) throw new Error(`${what}: the map is all zeros`);
  if (!(variance(map) > 0)) throw new Error(`${what}: the map is constant (variance 0)`);
}

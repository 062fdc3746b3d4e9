/**
 * The one registry of policy aggregates. Each works on the non-null values of one metric, sorted ascending.
 * `pNN` (e.g. p90, p99.5) is parsed here too, so the schema, the evaluator and the docs share one list.
 */
export interface AggregateDef {
  /** Shown in messages, e.g. "share of invalidMass > 0.5". */
  describe(metric: string, value?: number): string;
  /** True when the rule must give `value` (the per-image threshold). */
  needsValue: boolean;
  /** True when the result is a share in [0, 1] (shown as a percentage). */
  isShare: boolean;
  /** Which images push this aggregate up: those with high values (mean, pNN, shareAbove) or low (shareBelow). */
  raisedBy: 'high' | 'low';
  compute(sorted: Float64Array, value?: number): number;
}

const AGGREGATES: Readonly<Record<string, AggregateDef>> = {
  mean: {
    describe: (m) => `mean ${m}`,
    needsValue: false,
    isShare: false,
    raisedBy: 'high',
    compute: (v) => {
      let sum = 0;
      for (const x of v) sum += x;
      return sum / v.length;
    },
  },
  median: { describe: (m) => `median ${m}`, needsValue: false, isShare: false, raisedBy: 'high', compute: (v) => percentile(v, 50) },
  min: { describe: (m) => `min ${m}`, needsValue: false, isShare: false, raisedBy: 'high', compute: (v) => v[0] },
  max: { describe: (m) => `max ${m}`, needsValue: false, isShare: false, raisedBy: 'high', compute: (v) => v[v.length - 1] },
  shareAbove: {
    describe: (m, t) => `share of images with ${m} > ${t}`,
    needsValue: true,
    isShare: true,
    raisedBy: 'high',
    compute: (v, t) => (v.length - upperBound(v, t!)) / v.length,
  },
  shareBelow: {
    describe: (m, t) => `share of images with ${m} < ${t}`,
    needsValue: true,
    isShare: true,
    raisedBy: 'low',
    compute: (v, t) => lowerBound(v, t!) / v.length,
  },
};

/** Names accepted in `aggregate`, for messages and docs. */
export const AGGREGATE_NAMES: readonly string[] = [...Object.keys(AGGREGATES), 'pNN'];

const PERCENTILE = /^p(100|[0-9]{1,2}(\.[0-9]+)?)$/;

/** Looks up an aggregate by name (`mean`, `p90`, ...); undefined when unknown. */
export function aggregateFor(name: string): AggregateDef | undefined {
  if (Object.hasOwn(AGGREGATES, name)) return AGGREGATES[name];
  const match = PERCENTILE.exec(name);
  if (!match) return undefined;
  const q = Number(match[1]);
  return { describe: (m) => `${name} ${m}`, needsValue: false, isShare: false, raisedBy: 'high', compute: (v) => percentile(v, q) };
}

/**
 * Percentile q in [0, 100] of ascending `sorted` with linear interpolation between the closest ranks,
 * numpy's default (`method="linear"`): h = (n - 1) * q / 100, result = v[floor h] + (h - floor h) * (v[floor h + 1] - v[floor h]).
 */
export function percentile(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = ((n - 1) * q) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Index of the first element >= t. */
function lowerBound(v: Float64Array, t: number): number {
  let lo = 0;
  let hi = v.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element > t. */
function upperBound(v: Float64Array, t: number): number {
  let lo = 0;
  let hi = v.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

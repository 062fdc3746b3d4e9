import type { ClassSelector, Policy } from './policy.ts';
import type { ResultRecord } from './records.ts';

/** One image as the verdict and the report gallery show it. */
export interface ImageRef {
  image: string;
  /** The value of the metric it was ranked by. */
  value: number;
  classKey: string;
  className?: string;
  target?: number;
  predicted?: number;
  label?: number | null;
  confidence?: number;
  overlay?: string;
  metrics: Record<string, number | null>;
}

/** Non-null values of each metric in one slice (all images, or one class), sorted ascending. */
export interface SliceSummary {
  /** Images in the slice that were processed (no `error`). */
  count: number;
  values: Record<string, Float64Array>;
  /** How many images had the metric as null. */
  nulls: Record<string, number>;
}

export interface ClassSummary extends SliceSummary {
  /** Stable key: the class index as a string, or the class name when no index is known. */
  key: string;
  index?: number;
  name?: string;
}

export interface Summary {
  /** Lines in results.jsonl. */
  images: number;
  processed: number;
  errors: number;
  /** Images violating a per-image threshold (see `imageChecksFrom`). */
  failedImages: number;
  /** The first few failed images, for the report. */
  errorSamples: { image: string; error: string }[];
  overall: SliceSummary;
  classes: ClassSummary[];
  /** Every metric seen in any record (including ones that were always null). */
  metricNames: string[];
  /** Per slice key ('*' = all images, else ClassSummary.key) and metric: the `keep` highest and lowest images. */
  extremes: Record<string, Record<string, { high: ImageRef[]; low: ImageRef[] }>>;
  /**
   * Deletion/insertion curves (results.jsonl `curves`, when faithfulness ran) of the worst image (highest
   * deletionAuc: the map's order hurts the score least) and the median one; absent without curves.
   */
  curves?: { worst: CurveSample; median: CurveSample };
}

export interface CurveSample {
  image: string;
  deletionAuc: number;
  insertionAuc: number | null;
  deletion: number[];
  insertion: number[];
}

/** Slice key of all images in `Summary.extremes`. */
export const ALL = '*';

/**
 * A per-image check counted in `failedImages`: the image is bad when its metric is above `above` or below
 * `below` (strictly, as shareAbove / shareBelow count), optionally only for some classes.
 */
export interface ImageCheck {
  metric: string;
  above?: number;
  below?: number;
  atLeast?: number;
  atMost?: number;
  class?: ClassSelector;
}

/**
 * Per-image thresholds implied by a policy: each fail-severity shareAbove / shareBelow rule names the images
 * it counts as bad (above `value` when the share has a max, the complement when it has only a min).
 */
export function imageChecksFrom(policy: Policy): ImageCheck[] {
  const checks: ImageCheck[] = [];
  for (const rule of policy.rules) {
    if (rule.severity !== 'fail' || rule.value === undefined) continue;
    const t = rule.value;
    const boundsShare = rule.max !== undefined ? 'max' : 'min';
    let check: ImageCheck;
    if (rule.aggregate === 'shareAbove') check = boundsShare === 'max' ? { metric: rule.metric, above: t } : { metric: rule.metric, atMost: t };
    else if (rule.aggregate === 'shareBelow') check = boundsShare === 'max' ? { metric: rule.metric, below: t } : { metric: rule.metric, atLeast: t };
    else continue;
    if (rule.class !== undefined) check.class = rule.class;
    checks.push(check);
  }
  return checks;
}

/** Does a rule's `class` select this class? 'each' selects every class. */
export function classMatches(selector: ClassSelector, info: { key: string; index?: number; name?: string }): boolean {
  if (selector === 'each') return true;
  if (typeof selector === 'number') return info.index === selector;
  return info.name === selector || info.key === selector;
}

/** The value a metric name reads from a record; `accuracy` is `correct`, derived from the label if absent. */
export function metricKey(metric: string): string {
  return metric === 'accuracy' ? 'correct' : metric;
}

class ValueList {
  private data = new Float64Array(64);
  length = 0;
  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }
  sorted(): Float64Array {
    return this.data.slice(0, this.length).sort();
  }
}

class Slice {
  count = 0;
  readonly values = new Map<string, ValueList>();
  readonly nulls = new Map<string, number>();
  summary(): SliceSummary {
    const values: Record<string, Float64Array> = {};
    for (const [name, list] of this.values) values[name] = list.sorted();
    return { count: this.count, values, nulls: Object.fromEntries(this.nulls) };
  }
}

/** Keeps the `keep` highest and lowest entries seen; ties keep the earlier image. */
export class Extremes {
  readonly high: ImageRef[] = [];
  readonly low: ImageRef[] = [];
  constructor(private readonly keep: number) {}
  /** True when the entry made either list. */
  offer(make: () => ImageRef, value: number): boolean {
    if (this.keep <= 0) return false;
    const wantsHigh = this.high.length < this.keep || value > this.high[this.high.length - 1].value;
    const wantsLow = this.low.length < this.keep || value < this.low[this.low.length - 1].value;
    if (!wantsHigh && !wantsLow) return false;
    const ref = make();
    if (wantsHigh) insert(this.high, ref, (a, b) => b.value - a.value, this.keep);
    if (wantsLow) insert(this.low, ref, (a, b) => a.value - b.value, this.keep);
    return true;
  }
}

function insert(list: ImageRef[], ref: ImageRef, order: (a: ImageRef, b: ImageRef) => number, keep: number): void {
  let i = list.length;
  while (i > 0 && order(ref, list[i - 1]) < 0) i--;
  list.splice(i, 0, ref);
  if (list.length > keep) list.pop();
}

export interface AggregatorOptions {
  /** Images kept per metric and slice at each end of the distribution, for worst-image lists. Default 12. */
  keep?: number;
  /** Per-image thresholds counted in `failedImages` (e.g. `imageChecksFrom(policy)`). */
  imageChecks?: readonly ImageCheck[];
  /** Failed images remembered for the report. Default 20. */
  errorSamples?: number;
}

/**
 * Streaming aggregation of results.jsonl records: keeps one number list per metric and class, counts,
 * and a bounded set of extreme images, never the records themselves.
 */
export class Aggregator {
  private images = 0;
  private errors = 0;
  private failedImages = 0;
  private readonly errorSamples: { image: string; error: string }[] = [];
  private readonly classes = new Map<string, { index?: number; name?: string; slice: Slice }>();
  private readonly metricNames = new Set<string>();
  private readonly extremes = new Map<string, Map<string, Extremes>>();
  private readonly keep: number;
  private readonly checks: readonly ImageCheck[];
  private readonly maxErrorSamples: number;

  constructor(options: AggregatorOptions = {}) {
    this.keep = options.keep ?? 12;
    this.checks = options.imageChecks ?? [];
    this.maxErrorSamples = options.errorSamples ?? 20;
  }

  private readonly curveSamples: CurveSample[] = [];

  add(record: ResultRecord): void {
    this.images++;
    const curves = record.curves as { deletion?: unknown; insertion?: unknown } | undefined;
    const deletionAuc = record.metrics?.deletionAuc;
    if (curves && Array.isArray(curves.deletion) && Array.isArray(curves.insertion) && typeof deletionAuc === 'number') {
      const insertionAuc = record.metrics?.insertionAuc;
      this.curveSamples.push({
        image: record.image,
        deletionAuc,
        insertionAuc: typeof insertionAuc === 'number' ? insertionAuc : null,
        deletion: curves.deletion.map(Number),
        insertion: curves.insertion.map(Number),
      });
    }
    if (record.error !== undefined && record.error !== null) {
      this.errors++;
      if (this.errorSamples.length < this.maxErrorSamples) {
        this.errorSamples.push({ image: record.image, error: record.error });
      }
      return;
    }
    const index = record.target ?? record.predicted;
    const name = record.className;
    const key = recordClassKey(record);
    let cls = this.classes.get(key);
    if (!cls) {
      cls = { ...(index !== undefined && index !== null && { index }), ...(name !== undefined && { name }), slice: new Slice() };
      this.classes.set(key, cls);
    } else if (cls.name === undefined && name !== undefined) {
      cls.name = name;
    }
    cls.slice.count++;
    const metrics = recordMetrics(record);
    const info = { key, index: cls.index, name: cls.name };
    let bad = false;
    for (const [metric, value] of Object.entries(metrics)) {
      this.metricNames.add(metric);
      if (value === null) {
        cls.slice.nulls.set(metric, (cls.slice.nulls.get(metric) ?? 0) + 1);
        continue;
      }
      let list = cls.slice.values.get(metric);
      if (!list) cls.slice.values.set(metric, (list = new ValueList()));
      list.push(value);
      let made: ImageRef | undefined;
      const make = () => (made ??= imageRef(record, metrics, key, value));
      this.extremesFor(ALL, metric).offer(make, value);
      this.extremesFor(key, metric).offer(make, value);
      for (const check of this.checks) {
        if (check.metric !== metric || (check.class !== undefined && !classMatches(check.class, info))) continue;
        if (
          (check.above !== undefined && value > check.above) ||
          (check.below !== undefined && value < check.below) ||
          (check.atMost !== undefined && value <= check.atMost) ||
          (check.atLeast !== undefined && value >= check.atLeast)
        ) {
          bad = true;
        }
      }
    }
    if (bad) this.failedImages++;
  }

  private extremesFor(slice: string, metric: string): Extremes {
    let byMetric = this.extremes.get(slice);
    if (!byMetric) this.extremes.set(slice, (byMetric = new Map()));
    let e = byMetric.get(metric);
    if (!e) byMetric.set(metric, (e = new Extremes(this.keep)));
    return e;
  }

  /**
   * What the aggregator holds, by kind: image references kept for worst-image lists (bounded by `keep` per metric,
   * slice and end), error samples (bounded), classes, and stored metric values (one number per non-null value).
   * Nothing else grows with the number of records.
   */
  retained(): { imageRefs: number; errorSamples: number; classes: number; values: number } {
    let imageRefs = 0;
    for (const byMetric of this.extremes.values()) {
      for (const e of byMetric.values()) imageRefs += e.high.length + e.low.length;
    }
    let values = 0;
    for (const c of this.classes.values()) for (const list of c.slice.values.values()) values += list.length;
    return { imageRefs, errorSamples: this.errorSamples.length, classes: this.classes.size, values };
  }

  /** Sorted value lists overall and per class, counts and extremes. Cheap to call more than once. */
  summary(): Summary {
    const classes: ClassSummary[] = [...this.classes.entries()]
      .map(([key, c]) => ({
        key,
        ...(c.index !== undefined && { index: c.index }),
        ...(c.name !== undefined && { name: c.name }),
        ...c.slice.summary(),
      }))
      .sort((a, b) => (a.index ?? Infinity) - (b.index ?? Infinity) || a.key.localeCompare(b.key));
    // Overall lists are the class lists merged: each value is stored once.
    const overall: SliceSummary = { count: 0, values: {}, nulls: {} };
    for (const c of classes) {
      overall.count += c.count;
      for (const [metric, n] of Object.entries(c.nulls)) overall.nulls[metric] = (overall.nulls[metric] ?? 0) + n;
    }
    for (const metric of this.metricNames) {
      const parts = classes.map((c) => c.values[metric]).filter((v) => v !== undefined);
      if (parts.length === 0) continue;
      const merged = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
      let offset = 0;
      for (const part of parts) {
        merged.set(part, offset);
        offset += part.length;
      }
      overall.values[metric] = merged.sort();
    }
    const byDeletion = [...this.curveSamples].sort((a, b) => b.deletionAuc - a.deletionAuc || (a.image < b.image ? -1 : 1));
    const curves = byDeletion.length > 0 ? { worst: byDeletion[0], median: byDeletion[Math.floor((byDeletion.length - 1) / 2)] } : undefined;
    const extremes: Summary['extremes'] = {};
    for (const [slice, byMetric] of this.extremes) {
      extremes[slice] = {};
      for (const [metric, e] of byMetric) extremes[slice][metric] = { high: [...e.high], low: [...e.low] };
    }
    return {
      images: this.images,
      processed: this.images - this.errors,
      errors: this.errors,
      failedImages: this.failedImages,
      errorSamples: [...this.errorSamples],
      overall,
      classes,
      metricNames: [...this.metricNames].sort(),
      extremes,
      ...(curves && { curves }),
    };
  }
}

/** A record's class slice: the explained class index, else the class name. */
export function recordClassKey(record: ResultRecord): string {
  const index = record.target ?? record.predicted;
  return index !== undefined && index !== null ? String(index) : (record.className ?? 'unknown');
}

/** A record's metrics as the gate reads them: `correct` derived from the label when the record has none. */
export function recordMetrics(record: ResultRecord): Record<string, number | null> {
  const metrics: Record<string, number | null> = { ...(record.metrics ?? {}) };
  if (metrics.correct === undefined && record.label !== undefined && record.predicted !== undefined) {
    metrics.correct = record.label === null ? null : Number(record.label === record.predicted);
  }
  return metrics;
}

export function imageRef(record: ResultRecord, metrics: Record<string, number | null>, classKey: string, value: number): ImageRef {
  return {
    image: record.image,
    value,
    classKey,
    ...(record.className !== undefined && { className: record.className }),
    ...(record.target !== undefined && { target: record.target }),
    ...(record.predicted !== undefined && { predicted: record.predicted }),
    ...(record.label !== undefined && { label: record.label }),
    ...(record.confidence !== undefined && { confidence: record.confidence }),
    ...(record.overlay !== undefined && { overlay: record.overlay }),
    metrics,
  };
}

import { DEFAULT_POINTING_TOLERANCE } from '../analysis/metrics/context.ts';
import { DATA_SOURCES, metricNeeds } from '../analysis/metrics/registry.ts';
import { formatNumber as f, formatPercent as pct } from '../format.ts';
import type { InputNotice } from '../notices.ts';
import { ALL, classMatches, metricKey, type ClassSummary, type SliceSummary, type Summary } from './aggregator.ts';
import { aggregateFor, type AggregateDef } from './aggregates.ts';
import type { ChangeRule, Policy, PolicyRule, ValueRule } from './policy.ts';
import {
  tool,
  type Fingerprints,
  type GateCheck,
  type RuleResult,
  type Verdict,
  type VerdictAnalysis,
  type WorstImages,
} from './verdict.ts';

/** What to add so that a metric has data: the flags and policy keys that supply what it needs. */
function dataHint(metric: string): string {
  const needs = metricNeeds(metric);
  return needs ? `; ${metric} needs ${DATA_SOURCES[needs]}` : '';
}

/** Thresholds are inclusive; this much relative slack absorbs float rounding (0.1 + 0.2 + 0.3) / 3 > 0.2. */
const TOLERANCE = 1e-9;

export interface EvaluateOptions {
  fingerprints?: Partial<Fingerprints>;
  /** Images in each of the verdict's `galleries` (at most what the Aggregator kept). Default 12. */
  worstCount?: number;
  /** Defaults to the current time; fixed in tests. */
  now?: Date;
  /** Input notices collected by the pipeline, carried into verdict.json. */
  notices?: readonly InputNotice[];
  /** The model input's shorter side in pixels, when known (heatgate run): records the pointing tolerance in px. */
  inputShorterSide?: number;
}

interface Slot {
  label: string | number | null;
  key: string;
  current?: SliceSummary;
}

/**
 * Evaluates every rule of `policy` on `summary` (and `baseline` for change rules) and decides the verdict:
 * fail iff a fail-severity rule fails, fewer than `minImages` images were processed, or the error budget
 * is exceeded. Warnings and skipped rules never fail the gate.
 */
export function evaluatePolicy(policy: Policy, summary: Summary, baseline?: Summary, options: EvaluateOptions = {}): Verdict {
  const rules: RuleResult[] = [];
  for (const rule of [...policy.rules, ...policy.baseline]) {
    for (const slot of slotsFor(rule, summary)) {
      rules.push(rule.kind === 'value' ? evaluateValue(rule, slot) : evaluateChange(rule, slot, baseline));
    }
  }
  const checks = gateChecks(policy, summary);
  const reasons = [
    ...checks.filter((c) => c.outcome === 'fail').map((c) => c.message),
    ...rules.filter((r) => r.outcome === 'fail').map((r) => `${r.name}: ${r.message}`),
  ];
  const galleries = galleriesOf(policy, summary, rules, options.worstCount ?? 12);
  return {
    verdict: reasons.length === 0 ? 'pass' : 'fail',
    reasons,
    rules,
    skipped: rules.filter((r) => r.outcome === 'skipped').map((r) => ({ rule: r.name, reason: r.message })),
    notices: [...(options.notices ?? [])],
    analysis: analysisOf(policy, options.inputShorterSide),
    checks,
    counts: {
      images: summary.images,
      processed: summary.processed,
      errors: summary.errors,
      failedImages: summary.failedImages,
    },
    fingerprints: { model: null, data: null, ...options.fingerprints, policy: policy.source.sha256 },
    tool: tool(),
    policy: { ...policy.source, ...(policy.description !== undefined && { description: policy.description }) },
    // The first gallery, as verdicts had it before there were several.
    worstImages: galleries[0] ?? null,
    galleries,
    generatedAt: (options.now ?? new Date()).toISOString(),
  };
}

/** The pointing tolerance the policy asks for, as fraction and px (px only when the input size is known). */
function analysisOf(policy: Policy, shorterSide: number | undefined): VerdictAnalysis {
  const px = policy.analysis?.pointingTolerancePx;
  if (px !== undefined) {
    return { pointingTolerance: { fraction: shorterSide ? px / shorterSide : null, px } };
  }
  const fraction = policy.analysis?.pointingTolerance ?? DEFAULT_POINTING_TOLERANCE;
  return { pointingTolerance: { fraction, px: shorterSide ? fraction * shorterSide : null } };
}

function classLabel(c: ClassSummary): string | number {
  return c.name ?? c.index ?? c.key;
}

/** The slices a rule runs on: all images, one class, or every class (`each`). */
function slotsFor(rule: PolicyRule, summary: Summary): Slot[] {
  if (rule.class === undefined) return [{ label: null, key: ALL, current: summary.overall }];
  if (rule.class === 'each') {
    if (summary.classes.length === 0) return [{ label: 'each', key: 'each' }];
    return summary.classes.map((c) => ({ label: classLabel(c), key: c.key, current: c }));
  }
  const match = summary.classes.find((c) => classMatches(rule.class!, c));
  return [match ? { label: classLabel(match), key: match.key, current: match } : { label: rule.class, key: String(rule.class) }];
}

function base(rule: PolicyRule, slot: Slot, aggregate: AggregateDef) {
  return {
    name: rule.class === 'each' ? `${rule.name}[${slot.label}]` : rule.name,
    rule: rule.name,
    kind: rule.kind,
    metric: rule.metric,
    aggregate: rule.aggregate,
    ...(rule.value !== undefined && { value: rule.value }),
    class: slot.label,
    severity: rule.severity,
    ...(rule.description !== undefined && { description: rule.description }),
    ...(aggregate.isShare || rule.metric === 'accuracy' ? { isShare: true } : {}),
    minCoverage: rule.minCoverage,
    ifNoData: rule.ifNoData,
  };
}

const coverageOf = (data: SliceData) => ({ computed: data.computed, coverage: data.coverage });

/** A rule's data in one slice: the non-null values, how many images they cover, or why they are not enough. */
interface SliceData {
  values?: Float64Array;
  computed: number;
  coverage: number | null;
  why?: string;
}

/**
 * Non-null values of the rule's metric in a slice and their coverage of the slice's processed images; `why` when
 * there are none or they cover less than minCoverage ("not enough data": 3 masks among 200 images must not
 * become a verdict about 200 images).
 */
function dataOf(rule: PolicyRule, slice: SliceSummary | undefined, slot: Slot): SliceData {
  const key = metricKey(rule.metric);
  if (!slice) return { computed: 0, coverage: null, why: `no processed images of class ${JSON.stringify(slot.label)}` };
  if (slice.count === 0) return { computed: 0, coverage: null, why: 'no processed images' };
  const values = slice.values[key];
  const computed = values?.length ?? 0;
  const coverage = computed / slice.count;
  const what = key === 'correct' && rule.metric === 'accuracy' ? 'accuracy (correct)' : key;
  if (computed === 0) {
    const nulls = slice.nulls[key] ?? 0;
    const why =
      nulls > 0
        ? `${what} could not be computed for any of the ${slice.count} images`
        : `no image has metric ${what}`;
    return { computed, coverage, why: `${why}${dataHint(key)}` };
  }
  if (coverage < rule.minCoverage) {
    return {
      computed,
      coverage,
      why: `${what} computed on ${computed} of ${slice.count} images (${pct(coverage)}), below minCoverage ${pct(rule.minCoverage)}${dataHint(key)}`,
    };
  }
  return { values, computed, coverage };
}

/** Outcome of a rule without (enough) data: reported, never silently passed; fails unless `ifNoData: skip`. */
function noData(rule: PolicyRule, why: string): Pick<RuleResult, 'outcome' | 'message' | 'measured' | 'count'> {
  const fails = rule.ifNoData === 'fail';
  return {
    outcome: fails ? (rule.severity === 'fail' ? 'fail' : 'warn') : 'skipped',
    message: fails ? `no data: ${why}` : `skipped (ifNoData: skip): ${why}`,
    measured: null,
    count: 0,
  };
}

function bounds(lo: number | undefined, hi: number | undefined): Pick<RuleResult, 'threshold' | 'comparison'> {
  if (lo !== undefined && hi !== undefined) return { threshold: [lo, hi], comparison: 'between' };
  if (hi !== undefined) return { threshold: hi, comparison: '<=' };
  return { threshold: lo!, comparison: '>=' };
}

const above = (x: number, limit: number) => x > limit + TOLERANCE * Math.max(1, Math.abs(limit));
const below = (x: number, limit: number) => x < limit - TOLERANCE * Math.max(1, Math.abs(limit));

function evaluateValue(rule: ValueRule, slot: Slot): RuleResult {
  const aggregate = aggregateFor(rule.aggregate)!;
  const data = dataOf(rule, slot.current, slot);
  const head = { ...base(rule, slot, aggregate), ...bounds(rule.min, rule.max), ...coverageOf(data) };
  if (!data.values) return { ...head, ...noData(rule, data.why!) };
  const values = data.values;
  const measured = aggregate.compute(values, rule.value);
  // Shares and accuracy read better as percentages in messages; the JSON keeps fractions.
  const v = aggregate.isShare || rule.metric === 'accuracy' ? (x?: number) => `${f(x! * 100)} %` : f;
  const what = `${slot.label === null ? '' : `class ${slot.label}: `}${rule.metric === 'accuracy' ? 'accuracy' : aggregate.describe(rule.metric, rule.value)} = ${v(measured)}`;
  const tooHigh = rule.max !== undefined && above(measured, rule.max);
  const tooLow = rule.min !== undefined && below(measured, rule.min);
  const failed = tooHigh || tooLow;
  const message = tooHigh
    ? `${what}, above the maximum ${v(rule.max)}`
    : tooLow
      ? `${what}, below the minimum ${v(rule.min)}`
      : `${what} (${describeBounds(rule.min, rule.max, v)})`;
  return {
    ...head,
    measured,
    count: values.length,
    outcome: failed ? (rule.severity === 'fail' ? 'fail' : 'warn') : 'pass',
    message,
  };
}

function describeBounds(lo: number | undefined, hi: number | undefined, v: (x?: number) => string): string {
  if (lo !== undefined && hi !== undefined) return `range [${v(lo)}, ${v(hi)}]`;
  return hi !== undefined ? `max ${v(hi)}` : `min ${v(lo)}`;
}

function evaluateChange(rule: ChangeRule, slot: Slot, baseline: Summary | undefined): RuleResult {
  const aggregate = aggregateFor(rule.aggregate)!;
  const head = {
    ...base(rule, slot, aggregate),
    ...bounds(rule.maxDecrease === undefined ? undefined : -rule.maxDecrease, rule.maxIncrease),
    change: rule.change,
  };
  const data = dataOf(rule, slot.current, slot);
  const withData = { ...head, ...coverageOf(data) };
  if (!baseline) {
    return {
      ...withData,
      current: null,
      baseline: null,
      ...noData(rule, 'no baseline given (--baseline-model for heatgate run, --baseline-results for heatgate gate)'),
    };
  }
  if (!data.values) return { ...withData, current: null, baseline: null, ...noData(rule, data.why!) };
  const values = data.values;
  const current = aggregate.compute(values, rule.value);
  const baseSlice =
    slot.key === ALL ? baseline.overall : baseline.classes.find((c) => c.key === slot.key || (slot.label !== null && classMatches(slot.label, c)));
  const baseData = dataOf(rule, baseSlice, slot);
  if (!baseData.values) {
    return { ...withData, current, baseline: null, ...noData(rule, `baseline: ${baseData.why!}`) };
  }
  const baseValues = baseData.values;
  const before = aggregate.compute(baseValues, rule.value);
  const delta = current - before;
  const relative = rule.change === 'relative';
  const what = `${slot.label === null ? '' : `class ${slot.label}: `}${aggregate.describe(rule.metric, rule.value)} ${f(before)} -> ${f(current)}`;
  const result = { ...withData, current, baseline: before, count: values.length };
  if (relative && before === 0 && delta !== 0) {
    // A relative change from 0 is unbounded: it violates whichever bound points its way.
    const violated = delta > 0 ? rule.maxIncrease !== undefined : rule.maxDecrease !== undefined;
    return {
      ...result,
      measured: null,
      outcome: violated ? (rule.severity === 'fail' ? 'fail' : 'warn') : 'pass',
      message: `${what}: relative change from a baseline of 0 is unbounded`,
    };
  }
  const measured = relative ? (before === 0 ? 0 : delta / Math.abs(before)) : delta;
  const shown = relative ? `${f(measured * 100)} %` : `${measured >= 0 ? '+' : ''}${f(measured)}`;
  const tooHigh = rule.maxIncrease !== undefined && above(measured, rule.maxIncrease);
  const tooLow = rule.maxDecrease !== undefined && below(measured, -rule.maxDecrease);
  const limit = (x: number | undefined) => (relative ? `${f(x! * 100)} %` : f(x));
  const message = tooHigh
    ? `${what} (${shown}), more than the allowed increase ${limit(rule.maxIncrease)}`
    : tooLow
      ? `${what} (${shown}), more than the allowed decrease ${limit(rule.maxDecrease)}`
      : `${what} (${shown}), within the allowed change`;
  return {
    ...result,
    measured,
    outcome: tooHigh || tooLow ? (rule.severity === 'fail' ? 'fail' : 'warn') : 'pass',
    message,
  };
}

function gateChecks(policy: Policy, summary: Summary): GateCheck[] {
  const enough = summary.processed >= policy.minImages;
  const budget = policy.errorBudget;
  const checks: GateCheck[] = [
    {
      name: 'minImages',
      measured: summary.processed,
      threshold: policy.minImages,
      comparison: '>=',
      outcome: enough ? 'pass' : 'fail',
      message: enough
        ? `${summary.processed} images processed (minimum ${policy.minImages})`
        : `only ${summary.processed} images processed, the policy needs at least ${policy.minImages}`,
    },
  ];
  if ('maxCount' in budget) {
    const ok = summary.errors <= budget.maxCount;
    checks.push({
      name: 'errorBudget',
      measured: summary.errors,
      threshold: budget.maxCount,
      comparison: '<=',
      outcome: ok ? 'pass' : 'fail',
      message: `${summary.errors} of ${summary.images} images failed to process (${ok ? 'budget' : 'over the budget of'} ${budget.maxCount})`,
    });
  } else {
    const share = summary.images === 0 ? 0 : summary.errors / summary.images;
    const ok = !above(share, budget.maxShare);
    checks.push({
      name: 'errorBudget',
      measured: share,
      threshold: budget.maxShare,
      comparison: '<=',
      isShare: true,
      outcome: ok ? 'pass' : 'fail',
      message: `${summary.errors} of ${summary.images} images failed to process (${f(share * 100)} %, ${ok ? 'budget' : 'over the budget of'} ${f(budget.maxShare * 100)} %)`,
    });
  }
  return checks;
}

/**
 * One gallery per failed rule result, then one per warning (each in rule order), so the first gallery is the first
 * failure's; when no measured rule failed or warned, one for the first measured rule (a sample: its worst images).
 * Results without a measured value (no data) have nothing to rank and get none.
 */
function galleriesOf(policy: Policy, summary: Summary, results: RuleResult[], count: number): WorstImages[] {
  const measured = results.filter((r) => r.measured !== null);
  const flagged = [...measured.filter((r) => r.outcome === 'fail'), ...measured.filter((r) => r.outcome === 'warn')];
  const picks = flagged.length > 0 ? flagged : measured.slice(0, 1);
  return picks.map((pick) => worstImages(policy, summary, pick, count)).filter((g): g is WorstImages => g !== null);
}

/** The images behind one rule result, from the end of the distribution that pushes its aggregate towards (or past) its bound. */
function worstImages(policy: Policy, summary: Summary, pick: RuleResult, count: number): WorstImages | null {
  const rule = [...policy.rules, ...policy.baseline].find((r) => r.name === pick.rule)!;
  const aggregate = aggregateFor(rule.aggregate)!;
  const lo = Array.isArray(pick.threshold) ? pick.threshold[0] : pick.comparison === '>=' ? pick.threshold : undefined;
  // Towards the lower bound only when that is the bound at stake: violated, or the only one.
  const towardsLow =
    lo !== undefined && (pick.comparison === '>=' || (pick.measured !== null && below(pick.measured, lo)));
  const wantHigh = (aggregate.raisedBy === 'high') !== towardsLow;
  const sliceKey =
    pick.class === null ? ALL : (summary.classes.find((c) => classLabel(c) === pick.class)?.key ?? ALL);
  const ends = summary.extremes[sliceKey]?.[metricKey(rule.metric)];
  if (!ends) return null;
  return {
    rule: pick.name,
    metric: metricKey(rule.metric),
    class: pick.class,
    order: wantHigh ? 'highest' : 'lowest',
    images: (wantHigh ? ends.high : ends.low).slice(0, count),
  };
}

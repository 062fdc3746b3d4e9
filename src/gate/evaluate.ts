import { ALL, classMatches, metricKey, type ClassSummary, type SliceSummary, type Summary } from './aggregator.ts';
import { aggregateFor, type AggregateDef } from './aggregates.ts';
import type { ChangeRule, Policy, PolicyRule, ValueRule } from './policy.ts';
import {
  formatNumber as f,
  tool,
  type Fingerprints,
  type GateCheck,
  type RuleResult,
  type Verdict,
  type WorstImages,
} from './verdict.ts';

/** Why a metric may have no values: shown in the `skipped` message so the reader knows what to add. */
const NO_DATA_HINTS: Readonly<Record<string, string>> = {
  invalidMass: 'no invalid-pixel masks given?',
  invalidArea: 'no invalid-pixel masks given?',
  roiMass: 'no object masks given?',
  pointingGame: 'no object masks given?',
  energyPointingGame: 'no object masks given?',
  topKIoU: 'no object masks given?',
  correct: 'no labels given?',
  occlusionDrop: 'occlusion check not run?',
  occlusionFlip: 'occlusion check not run?',
};

/** Thresholds are inclusive; this much relative slack absorbs float rounding (0.1 + 0.2 + 0.3) / 3 > 0.2. */
const TOLERANCE = 1e-9;

export interface EvaluateOptions {
  fingerprints?: Partial<Fingerprints>;
  /** Images listed in `worstImages` (at most what the Aggregator kept). Default 12. */
  worstCount?: number;
  /** Defaults to the current time; fixed in tests. */
  now?: Date;
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
  return {
    verdict: reasons.length === 0 ? 'pass' : 'fail',
    reasons,
    rules,
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
    worstImages: worstImages(policy, summary, rules, options.worstCount ?? 12),
    generatedAt: (options.now ?? new Date()).toISOString(),
  };
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
  };
}

/** Non-null values of the rule's metric in a slice, or why there are none. */
function valuesOf(rule: PolicyRule, slice: SliceSummary | undefined, slot: Slot): Float64Array | string {
  if (!slice) return `no processed images of class ${JSON.stringify(slot.label)}`;
  const key = metricKey(rule.metric);
  const values = slice.values[key];
  if (values && values.length > 0) return values;
  const nulls = slice.nulls[key] ?? 0;
  const hint = NO_DATA_HINTS[key] ? ` (${NO_DATA_HINTS[key]})` : '';
  if (slice.count === 0) return 'no processed images';
  return nulls > 0
    ? `${key} could not be computed for any of the ${slice.count} images${hint}`
    : `no image has metric ${key}${hint}`;
}

/** Outcome of a rule without data: reported, never silently passed; `ifNoData: fail` makes it count. */
function noData(rule: PolicyRule, why: string): Pick<RuleResult, 'outcome' | 'message' | 'measured' | 'count'> {
  const fails = rule.ifNoData === 'fail';
  return {
    outcome: fails ? (rule.severity === 'fail' ? 'fail' : 'warn') : 'skipped',
    message: fails ? `no data: ${why}` : `skipped: ${why}`,
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
  const head = { ...base(rule, slot, aggregate), ...bounds(rule.min, rule.max) };
  const values = valuesOf(rule, slot.current, slot);
  if (typeof values === 'string') return { ...head, ...noData(rule, values) };
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
  if (!baseline) return { ...head, current: null, baseline: null, ...noData(rule, 'no baseline results given') };
  const values = valuesOf(rule, slot.current, slot);
  if (typeof values === 'string') return { ...head, current: null, baseline: null, ...noData(rule, values) };
  const current = aggregate.compute(values, rule.value);
  const baseSlice =
    slot.key === ALL ? baseline.overall : baseline.classes.find((c) => c.key === slot.key || (slot.label !== null && classMatches(slot.label, c)));
  const baseValues = valuesOf(rule, baseSlice, slot);
  if (typeof baseValues === 'string') {
    return { ...head, current, baseline: null, ...noData(rule, `baseline: ${baseValues}`) };
  }
  const before = aggregate.compute(baseValues, rule.value);
  const delta = current - before;
  const relative = rule.change === 'relative';
  const what = `${slot.label === null ? '' : `class ${slot.label}: `}${aggregate.describe(rule.metric, rule.value)} ${f(before)} -> ${f(current)}`;
  const result = { ...head, current, baseline: before, count: values.length };
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
 * The images behind the first failing rule (else the first warning, else the first evaluated rule), from the
 * end of the distribution that pushes that rule's aggregate towards (or past) its bound.
 */
function worstImages(policy: Policy, summary: Summary, results: RuleResult[], count: number): WorstImages | null {
  const pick =
    results.find((r) => r.outcome === 'fail' && r.measured !== null) ??
    results.find((r) => r.outcome === 'warn' && r.measured !== null) ??
    results.find((r) => r.measured !== null);
  if (!pick) return null;
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

// Public surface of the gate: re-exported by src/index.ts.
export { AGGREGATE_NAMES, aggregateFor, percentile } from './aggregates.ts';
export { Aggregator, imageChecksFrom, type ImageRef, type Summary, type SliceSummary, type ClassSummary } from './aggregator.ts';
export { writeFileAtomic } from '../storage/atomic.ts';
export { evaluatePolicy, type EvaluateOptions } from './evaluate.ts';
export {
  evaluateResults,
  resolvePolicy,
  summariseResults,
  type EvaluateResultsOptions,
  type EvaluatedResults,
} from './gate.ts';
export {
  BUILTIN_METRICS,
  MAX_POLICY_BYTES,
  PolicyError,
  checkPolicyMetrics,
  policyFormat,
  defaultPolicy,
  loadPolicy,
  parsePolicy,
  type Policy,
  type PolicyOptions,
  type PolicyRule,
  type ValueRule,
  type ChangeRule,
} from './policy.ts';
export { parseRecord, readResults, type ResultRecord } from './records.ts';
export type { Verdict, RuleResult, GateCheck, Fingerprints, Outcome, WorstImages, SkippedRule, VerdictAnalysis } from './verdict.ts';
export { formatNumber, formatPercent } from '../format.ts';

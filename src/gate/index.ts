// Public surface of the gate: re-exported by src/index.ts.
export { AGGREGATE_NAMES, aggregateFor, percentile } from './aggregates.ts';
export { Aggregator, imageChecksFrom, type ImageRef, type Summary, type SliceSummary, type ClassSummary } from './aggregator.ts';
export { writeFileAtomic } from '../storage/atomic.ts';
export { evaluatePolicy, type EvaluateOptions } from './evaluate.ts';
export { gateResults, summariseResults, type GateResultsOptions, type GateResult } from './gate.ts';
export { KFP_METRIC_NAME, kfpMetricName, kfpMetrics } from './kfp-metrics.ts';
export { writeGateOutputs, metricEntries, type GateOutputs } from './outputs.ts';
export {
  BUILTIN_METRICS,
  PolicyError,
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
export type { Verdict, RuleResult, GateCheck, Fingerprints, Outcome, WorstImages } from './verdict.ts';

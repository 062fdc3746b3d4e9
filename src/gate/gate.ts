import type { InputNotice } from '../notices.ts';
import { Aggregator, imageChecksFrom, type Summary } from './aggregator.ts';
import { evaluatePolicy } from './evaluate.ts';
import { BUILTIN_METRICS, checkPolicyMetrics, defaultPolicy, readPolicy, type Policy, type PolicyOptions } from './policy.ts';
import type { Storage } from '../storage/storage.ts';
import { readResults } from './records.ts';
import type { Fingerprints, GateCheck, Verdict } from './verdict.ts';

export interface EvaluateResultsOptions {
  /** results.jsonl of the model under test. */
  results: string;
  /**
   * The policy, parsed once by the caller (loadPolicy / parsePolicy / defaultPolicy), or a policy file to read
   * here (once); the default policy when absent.
   */
  policy?: Policy | string;
  /** results.jsonl of the baseline model on the same data, for `baseline` rules. */
  baselineResults?: string;
  /** Model / baseline / data hashes, when the caller knows them (the pipeline does). */
  fingerprints?: Partial<Pick<Fingerprints, 'model' | 'baseline' | 'data'>>;
  /** Extra metric names a policy may use (results.jsonl is an open map); see BUILTIN_METRICS. */
  metrics?: readonly string[];
  /** Class names a policy may use, checked when `policy` is a file name or absent. */
  classes?: readonly string[];
  /** Images in verdict.worstImages and the report gallery. Default 12. */
  worstCount?: number;
  /** Input notices collected by the pipeline: verdict.json, summary.md and report.html list them. */
  notices?: readonly InputNotice[];
  /** The model input's shorter side in pixels, when known: verdict.json records the pointing tolerance in px. */
  inputShorterSide?: number;
  /** Where the results and policy files are read from (local, file:// or s3://); default: defaultStorage(). */
  storage?: Storage;
  /** Checks decided outside the results (the policy's sanity check, run by `heatgate run`): a failed one fails the gate. */
  extraChecks?: readonly GateCheck[];
}

export interface EvaluatedResults {
  verdict: Verdict;
  summary: Summary;
  baseline?: Summary;
}

/** Streams a results.jsonl through an Aggregator; returns the summary and the file's sha256. */
export async function summariseResults(file: string, policy: Policy, keep = 12, storage?: Storage): Promise<{ summary: Summary; sha256: string }> {
  const aggregator = new Aggregator({ imageChecks: imageChecksFrom(policy), keep });
  const stream = readResults(file, storage);
  for await (const record of stream.records) aggregator.add(record);
  return { summary: aggregator.summary(), sha256: await stream.sha256 };
}

/** The policy of a gate run: the caller's, or a file read once, or the default policy. */
export async function resolvePolicy(policy: Policy | string | undefined, options: PolicyOptions = {}, storage?: Storage): Promise<Policy> {
  if (typeof policy === 'object') return policy;
  return policy === undefined ? defaultPolicy(options) : readPolicy(policy, options, storage);
}

/**
 * The gate's decision over an existing results.jsonl (and a baseline's): no file is written here (the report
 * side renders; see report/gate-results.ts). Bad policies throw ConfigError, malformed results InputError.
 */
export async function evaluateResults(options: EvaluateResultsOptions): Promise<EvaluatedResults> {
  const policy = await resolvePolicy(options.policy, options.classes ? { classes: options.classes } : {}, options.storage);
  const keep = options.worstCount ?? 12;
  const current = await summariseResults(options.results, policy, keep, options.storage);
  const baseline = options.baselineResults ? await summariseResults(options.baselineResults, policy, keep, options.storage) : undefined;
  // Metric names are checked once the data shows which (custom) metrics exist.
  checkPolicyMetrics(policy, [
    ...BUILTIN_METRICS,
    ...(options.metrics ?? []),
    ...current.summary.metricNames,
    ...(baseline?.summary.metricNames ?? []),
  ]);
  const verdict = evaluatePolicy(policy, current.summary, baseline?.summary, {
    worstCount: keep,
    ...(options.notices && { notices: options.notices }),
    ...(options.inputShorterSide !== undefined && { inputShorterSide: options.inputShorterSide }),
    fingerprints: {
      model: null,
      data: null,
      ...(options.baselineResults && { baseline: null }),
      ...options.fingerprints,
      results: current.sha256,
      ...(baseline && { baselineResults: baseline.sha256 }),
    },
  });
  for (const check of options.extraChecks ?? []) {
    verdict.checks.push(check);
    if (check.outcome === 'fail') {
      verdict.verdict = 'fail';
      verdict.reasons.push(check.message);
    }
  }
  return { verdict, summary: current.summary, ...(baseline && { baseline: baseline.summary }) };
}

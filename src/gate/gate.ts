import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.ts';
import type { InputNotice } from '../notices.ts';
import { Aggregator, imageChecksFrom, type Summary } from './aggregator.ts';
import { evaluatePolicy } from './evaluate.ts';
import { writeGateOutputs, type GateOutputs } from './outputs.ts';
import { BUILTIN_METRICS, DEFAULT_POLICY_FILE, parsePolicy, type Policy, type PolicyOptions } from './policy.ts';
import { readResults } from './records.ts';
import type { Fingerprints, Verdict } from './verdict.ts';

export interface GateResultsOptions {
  /** results.jsonl of the model under test. */
  results: string;
  /** Policy file (YAML or JSON); the default policy when absent. */
  policy?: string;
  /** results.jsonl of the baseline model on the same data, for `baseline` rules. */
  baselineResults?: string;
  outDir: string;
  /** Model / baseline / data hashes, when the caller knows them (the pipeline does). */
  fingerprints?: Partial<Pick<Fingerprints, 'model' | 'baseline' | 'data'>>;
  /** Extra metric names a policy may use (e.g. the analysis registry's); see BUILTIN_METRICS. */
  metrics?: readonly string[];
  /** Class names a policy may use; a rule naming another class is a ConfigError. */
  classes?: readonly string[];
  /** Images in verdict.worstImages and the report gallery. Default 12. */
  worstCount?: number;
  /** What the pipeline left out of the inputs and why; verdict.json, summary.md and report.html list them. */
  notices?: InputNotice[];
}

export interface GateResult {
  verdict: Verdict;
  summary: Summary;
  baseline?: Summary;
  outputs: GateOutputs;
}

/** Streams a results.jsonl through an Aggregator; returns the summary and the file's sha256. */
export async function summariseResults(file: string, policy: Policy, keep = 12): Promise<{ summary: Summary; sha256: string }> {
  const aggregator = new Aggregator({ imageChecks: imageChecksFrom(policy), keep });
  const stream = readResults(file);
  for await (const record of stream.records) aggregator.add(record);
  return { summary: aggregator.summary(), sha256: await stream.sha256 };
}

/**
 * `heatgate gate`: re-evaluates a policy over an existing results.jsonl (and a baseline's) and writes
 * verdict.json, metrics, summary.md and report.html to `outDir`. A failed gate is a result (`verdict.verdict`);
 * bad policies throw ConfigError, malformed results InputError.
 */
export async function gateResults(options: GateResultsOptions): Promise<GateResult> {
  const file = options.policy ?? 'default-policy.yaml';
  let text: string;
  try {
    text = readFileSync(options.policy ?? DEFAULT_POLICY_FILE, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read policy file (${(error as NodeJS.ErrnoException).code ?? error})`, file);
  }
  const base: PolicyOptions = { ...(options.classes && { classes: options.classes }) };
  // Validate before streaming (fail fast), then again once the data shows which metric names exist.
  let policy = parsePolicy(text, file, base);
  const keep = options.worstCount ?? 12;
  const current = await summariseResults(options.results, policy, keep);
  const baseline = options.baselineResults ? await summariseResults(options.baselineResults, policy, keep) : undefined;
  const known = [...BUILTIN_METRICS, ...(options.metrics ?? []), ...current.summary.metricNames, ...(baseline?.summary.metricNames ?? [])];
  policy = parsePolicy(text, file, { ...base, metrics: [...new Set(known)] });
  if (!options.policy) policy = { ...policy, source: { ...policy.source, file: 'default' } };
  const verdict = evaluatePolicy(policy, current.summary, baseline?.summary, {
    worstCount: keep,
    fingerprints: {
      model: null,
      data: null,
      ...(options.baselineResults && { baseline: null }),
      ...options.fingerprints,
      results: current.sha256,
      ...(baseline && { baselineResults: baseline.sha256 }),
    },
  });
  const outputs = await writeGateOutputs(options.outDir, verdict, current.summary);
  return { verdict, summary: current.summary, ...(baseline && { baseline: baseline.summary }), outputs };
}

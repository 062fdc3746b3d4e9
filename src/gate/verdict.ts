import { readFileSync } from 'node:fs';
import type { InputNotice } from '../notices.ts';
import type { ImageRef } from './aggregator.ts';

export { formatNumber } from '../format.ts';

/**
 * verdict.json (docs/outputs.md). Outcomes follow Evidently/deepchecks: a rule passes, fails, only
 * warns (severity warn), or is skipped with a reason when its metric has no values. A failed gate is data,
 * not an exception.
 */
export type Outcome = 'pass' | 'fail' | 'warn' | 'skipped';

export interface RuleResult {
  /** Policy rule name; a `class: each` rule gives one result per class, named `<rule>[<class>]`. */
  name: string;
  rule: string;
  kind: 'value' | 'change';
  metric: string;
  aggregate: string;
  /** Per-image threshold of shareAbove / shareBelow. */
  value?: number;
  /** The class the rule was evaluated on (name, or index when unnamed); null = all images. */
  class: string | number | null;
  /** The aggregate (value rules) or its change against the baseline (change rules); null when not computed. */
  measured: number | null;
  /** A bound, or [low, high] for a range. */
  threshold: number | [number, number];
  comparison: '<=' | '>=' | 'between';
  outcome: Outcome;
  severity: 'fail' | 'warn';
  message: string;
  description?: string;
  /** How many non-null values the aggregate used (0 when it was not computed). */
  count: number;
  /** On how many of the slice's processed images the metric was computed (not null). */
  computed: number;
  /** computed / processed images of the slice; null when the slice has no processed image. */
  coverage: number | null;
  /** The least coverage the rule accepts; below it the rule has "not enough data" and follows ifNoData. */
  minCoverage: number;
  /** What the rule does without (enough) data: fail (the default) or skip. */
  ifNoData: 'skip' | 'fail';
  /** Change rules: the aggregate on this model and on the baseline, and how the change is measured. */
  current?: number | null;
  baseline?: number | null;
  change?: 'absolute' | 'relative';
  /** Shares are shown as percentages in reports and Kubeflow metrics. */
  isShare?: boolean;
}

/** Gate-level checks that are not metric rules: evidence size and error budget. */
export interface GateCheck {
  /** sanity: the policy's model-parameter randomization test, run by `heatgate run` (pipeline/sanity-run.ts). */
  name: 'minImages' | 'errorBudget' | 'sanity';
  measured: number;
  threshold: number;
  comparison: '<=' | '>=';
  outcome: 'pass' | 'fail';
  message: string;
  /** The error budget as a share of all images (else a count). */
  isShare?: boolean;
}

export interface Fingerprints {
  /** sha256 of the model file; null when the gate was not told (e.g. `heatgate gate` without it). */
  model: string | null;
  baseline?: string | null;
  /** sha256 of the image data (as the pipeline computes it); null when not known. */
  data: string | null;
  /** sha256 of results.jsonl and the baseline's, when read from files. */
  results?: string;
  baselineResults?: string;
  policy: string;
}

/** A report gallery: the images behind one rule result, ranked by the rule's metric. */
export interface WorstImages {
  /** The rule result's name (`<rule>[<class>]` for a `class: each` rule). */
  rule: string;
  metric: string;
  class: string | number | null;
  /** 'highest': the images with the highest metric values, 'lowest' the opposite. */
  order: 'highest' | 'lowest';
  images: ImageRef[];
}

/** A rule result that did not count towards the verdict, and why (the rule had `ifNoData: skip`). */
export interface SkippedRule {
  rule: string;
  reason: string;
}

/** Analysis settings the numbers depend on, recorded so a verdict can be reproduced. */
export interface VerdictAnalysis {
  /**
   * The pointing game's tolerance: a fraction of the model input's shorter side and the pixels it came to; px is
   * null where the input size is unknown (`heatgate gate` over existing results), fraction null for a px policy.
   */
  pointingTolerance: { fraction: number | null; px: number | null };
}

export interface Verdict {
  verdict: 'pass' | 'fail';
  /** One line per reason the gate failed (empty on pass). */
  reasons: string[];
  rules: RuleResult[];
  /** Every skipped rule result and why: skipped rules never pass silently. */
  skipped: SkippedRule[];
  /** What heatgate noticed about its inputs (skipped files, unmatched labels, ...); empty when nothing. */
  notices: InputNotice[];
  analysis: VerdictAnalysis;
  checks: GateCheck[];
  counts: { images: number; processed: number; errors: number; failedImages: number };
  fingerprints: Fingerprints;
  tool: { name: string; version: string };
  policy: { file: string; sha256: string; description?: string };
  /** The first of `galleries` (null when there is none), kept for readers of verdicts before galleries. */
  worstImages: WorstImages | null;
  /**
   * One gallery per failed rule result, then one per warning, each in rule order; when no rule with a measured value
   * failed or warned, one for the first rule with a measured value (a sample: that rule's worst images). Results
   * without data have nothing to rank and no gallery; empty when no rule was measured.
   */
  galleries: WorstImages[];
  generatedAt: string;
}

let toolInfo: { name: string; version: string } | undefined;

/** name and version from package.json (two levels up from both src/gate and dist/gate). */
export function tool(): { name: string; version: string } {
  if (!toolInfo) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      name: string;
      version: string;
    };
    toolInfo = { name: pkg.name, version: pkg.version };
  }
  return toolInfo;
}

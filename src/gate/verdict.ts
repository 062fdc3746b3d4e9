import { readFileSync } from 'node:fs';
import type { ImageRef } from './aggregator.ts';

/**
 * verdict.json (ARCHITECTURE.md contract). Outcomes follow Evidently/deepchecks: a rule passes, fails, only
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
  /** How many non-null values the aggregate used. */
  count: number;
  /** Change rules: the aggregate on this model and on the baseline, and how the change is measured. */
  current?: number | null;
  baseline?: number | null;
  change?: 'absolute' | 'relative';
  /** Shares are shown as percentages in reports and Kubeflow metrics. */
  isShare?: boolean;
}

/** Gate-level checks that are not metric rules: evidence size and error budget. */
export interface GateCheck {
  name: 'minImages' | 'errorBudget';
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

export interface WorstImages {
  rule: string;
  metric: string;
  class: string | number | null;
  /** 'highest': the images with the highest metric values, 'lowest' the opposite. */
  order: 'highest' | 'lowest';
  images: ImageRef[];
}

export interface Verdict {
  verdict: 'pass' | 'fail';
  /** One line per reason the gate failed (empty on pass). */
  reasons: string[];
  rules: RuleResult[];
  checks: GateCheck[];
  counts: { images: number; processed: number; errors: number; failedImages: number };
  fingerprints: Fingerprints;
  tool: { name: string; version: string };
  policy: { file: string; sha256: string; description?: string };
  worstImages: WorstImages | null;
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

/** Compact number for messages: 4 significant digits, no trailing zeros. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return 'n/a';
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

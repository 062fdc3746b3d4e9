import { ConfigError } from '../../errors.ts';
import { correct } from './correct.ts';
import { energyPointingGame } from './energy-pointing-game.ts';
import { entropy } from './entropy.ts';
import { FAITHFULNESS_METRICS } from './faithfulness.ts';
import { invalidArea } from './invalid-area.ts';
import { invalidMass } from './invalid-mass.ts';
import { occlusionDrop, occlusionFlip } from './occlusion.ts';
import { pointingGame } from './pointing-game.ts';
import { roiMass } from './roi-mass.ts';
import { sparseness } from './sparseness.ts';
import { topKPrecision } from './top-k-precision.ts';
import type { Metric, MetricContext, MetricNeeds } from './types.ts';

/** The one list of per-image metrics: results.jsonl keys, policy names, docs and tests all come from here. */
export const METRICS: readonly Metric[] = [
  // invalid pixels (Borg et al. 2021)
  invalidMass,
  invalidArea,
  occlusionDrop,
  occlusionFlip,
  // localisation against the ROI
  roiMass,
  energyPointingGame,
  pointingGame,
  topKPrecision,
  // complexity of the map itself
  sparseness,
  entropy,
  // the prediction
  correct,
  // faithfulness of the map (extra forward passes; only when asked)
  ...FAITHFULNESS_METRICS,
];

const BY_NAME: ReadonlyMap<string, Metric> = new Map(METRICS.map((m) => [m.name, m]));

export const METRIC_NAMES: readonly string[] = METRICS.map((m) => m.name);

/** The metrics an analysis computes unless asked for more: everything without extra forward passes. */
export const DEFAULT_METRIC_NAMES: readonly string[] = METRICS.filter((m) => !m.extraPasses).map((m) => m.name);

/** True for metrics that cost extra forward passes (faithfulness). */
export function needsExtraPasses(name: string): boolean {
  return BY_NAME.get(name)?.extraPasses === true;
}

/** True for metrics that read the occlusion counterfactual (occlusionDrop, occlusionFlip). */
export function readsOcclusion(name: string): boolean {
  return BY_NAME.get(name)?.readsOcclusion === true;
}

/** Old metric names whose meaning was wrong: naming them is an error that says the new name. */
export const RENAMED_METRICS: Readonly<Record<string, string>> = { topKIoU: 'topKPrecision' };

/** Where the data a metric needs comes from, as the flags and policy keys that supply it. */
export const DATA_SOURCES: Readonly<Record<MetricNeeds, string>> = {
  invalid: 'invalid-pixel regions: --invalid-masks, --coco with regions.coco.invalid, or regions.static with role invalid',
  roi: 'object regions (ROI): --roi-masks, --coco with regions.coco.roi, or regions.static with role roi',
  label: 'labels: --labels, or --coco (labels from the annotated categories)',
};

/** The metric's declared range, or undefined for a name outside the registry (an open results.jsonl key). */
export function metricRange(name: string): readonly [number, number] | undefined {
  return BY_NAME.get(name)?.range;
}

/** True for metrics computed on regions (invalid or ROI): the gate's coverage default is stricter for them. */
export function isRegionMetric(name: string): boolean {
  const needs = BY_NAME.get(name)?.needs;
  return needs === 'invalid' || needs === 'roi';
}

/** What a metric needs (regions or labels), when the registry knows it. */
export function metricNeeds(name: string): MetricNeeds | undefined {
  return BY_NAME.get(name)?.needs;
}

export function getMetric(name: string): Metric {
  const metric = BY_NAME.get(name);
  if (!metric && Object.hasOwn(RENAMED_METRICS, name)) {
    throw new ConfigError(`metric ${JSON.stringify(name)} was renamed to ${RENAMED_METRICS[name]}`);
  }
  if (!metric) throw new ConfigError(`unknown metric ${JSON.stringify(name)}; known metrics: ${METRIC_NAMES.join(', ')}`);
  return metric;
}

/** Every (or the named) metric for one image; NaN or ±Infinity becomes null, never a number. */
export function computeMetrics(ctx: MetricContext, names: readonly string[] = METRIC_NAMES): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const name of names) {
    const value = getMetric(name).compute(ctx);
    out[name] = value !== null && Number.isFinite(value) ? value : null;
  }
  return out;
}

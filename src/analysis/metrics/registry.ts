import { ConfigError } from '../../errors.ts';
import { correct } from './correct.ts';
import { energyPointingGame } from './energy-pointing-game.ts';
import { entropy } from './entropy.ts';
import { invalidArea } from './invalid-area.ts';
import { invalidMass } from './invalid-mass.ts';
import { occlusionDrop, occlusionFlip } from './occlusion.ts';
import { pointingGame } from './pointing-game.ts';
import { roiMass } from './roi-mass.ts';
import { sparseness } from './sparseness.ts';
import { topKIoU } from './top-k-iou.ts';
import type { Metric, MetricContext } from './types.ts';

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
  topKIoU,
  // complexity of the map itself
  sparseness,
  entropy,
  // the prediction
  correct,
];

const BY_NAME: ReadonlyMap<string, Metric> = new Map(METRICS.map((m) => [m.name, m]));

export const METRIC_NAMES: readonly string[] = METRICS.map((m) => m.name);

export function getMetric(name: string): Metric {
  const metric = BY_NAME.get(name);
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

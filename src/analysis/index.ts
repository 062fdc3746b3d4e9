// Public surface of the analysis stage: regions per image, per-image metrics, the occlusion counterfactual.
export type { Analyser, AnalysedRecord, BatchItem } from './types.ts';
export { createAnalyser, OUTLINE_COLORS, type AnalyserOptions, type AnalysisExplainer, type RegionAnalyser } from './analyser.ts';
export { createRegionSource, type ImageRegions, type RegionConfig, type RegionSource, type RegionSourceOptions } from './regions.ts';
export type { RegionRole, StaticRegion } from './static-regions.ts';
export type { CocoRoleMap } from './coco.ts';
export { maskOutline, countOnes } from './masks.ts';
export { rleDecode, rleEncode, rleFromString, rleToString } from './rle.ts';
export { METRICS, METRIC_NAMES, computeMetrics, getMetric } from './metrics/registry.ts';
export {
  createMetricContext,
  DEFAULT_POINTING_TOLERANCE,
  DEFAULT_POINTING_TOLERANCE_PX,
  pointingTolerancePx,
  type MetricInput,
  type PointingTolerance,
} from './metrics/context.ts';
export type { Metric, MetricContext } from './metrics/types.ts';
export {
  occludeInput,
  occlusionInputs,
  occlusionMetrics,
  occlusionResults,
  runOcclusion,
  type OcclusionFill,
  type OcclusionItem,
  type OcclusionOptions,
  type OcclusionPlan,
  type OcclusionResult,
  type TensorLayout,
  type TensorShape,
} from './occlusion.ts';

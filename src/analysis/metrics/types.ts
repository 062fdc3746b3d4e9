import type { FaithfulnessResult } from '../faithfulness.ts';
import type { OcclusionResult } from '../occlusion.ts';

/**
 * What a metric sees for one image. Everything spatial is row-major in the model-input frame
 * (height x width), except the raw CAM.
 */
export interface MetricContext {
  /** Raw CAM at the target layer's resolution (camHeight x camWidth), after the method's ReLU. */
  readonly cam: Float32Array;
  readonly camHeight: number;
  readonly camWidth: number;
  /** Model-input frame size. */
  readonly height: number;
  readonly width: number;
  /**
   * The CAM min-max normalised then bilinearly upsampled to the model frame (pytorch-grad-cam's
   * scale_cam_image order), non-negative. Computed on first use and shared by all metrics.
   */
  readonly heatmap: Float32Array;
  /** Σ heatmap, computed on first use. */
  readonly heatSum: number;
  /** The heatmap's values sorted ascending, computed on first use (shared by rank and Gini metrics). */
  readonly sortedHeatmap: Float32Array;
  readonly roi: Uint8Array | null;
  readonly invalid: Uint8Array | null;
  readonly predicted: number;
  /** The class the CAM explains. */
  readonly target: number;
  /** Ground-truth class when known. */
  readonly label: number | null;
  /** Pointing-game tolerance in model-frame pixels. */
  readonly pointingTolerancePx: number;
  /** Counterfactual occlusion of the invalid pixels, when the pipeline ran it (occlusion.ts). */
  readonly occlusion: OcclusionResult | null;
  /** Deletion/insertion/ROAD curves, when the analyser ran them (../faithfulness.ts). */
  readonly faithfulness: FaithfulnessResult | null;
}

export type MetricNeeds = 'invalid' | 'roi' | 'label';

export interface Metric {
  /** Key in results.jsonl and in policies. */
  name: string;
  description: string;
  /** Plain-text formula, h = heatmap, s = mask. */
  formula: string;
  /** Paper / library the definition follows. */
  source: string;
  higherIsBetter: boolean;
  /**
   * Every value the metric can take, [lo, hi] (hi may be Infinity). The policy loader checks thresholds
   * against it: a bound outside the range makes a rule that can never fail (or never pass).
   */
  range: readonly [number, number];
  /**
   * The region or label the metric needs; without it the value is null. 'invalid' and 'roi' make it a
   * region metric (the gate's default minCoverage 0.9 applies).
   */
  needs?: MetricNeeds;
  /** Costs extra forward passes per image: computed only when a policy rule names it or the analysis asks. */
  extraPasses?: boolean;
  /** Reads the occlusion counterfactual (one more input per image in the session): run only when a rule names it. */
  readsOcclusion?: boolean;
  /** A number, or null when the metric cannot be computed for this image (never 0 in its place). */
  compute(ctx: MetricContext): number | null;
}

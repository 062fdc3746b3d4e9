import type { Explainer, Explanation } from '../cam/explainer.ts';
import type { PreparedImage } from '../imaging/index.ts';
import type { ImageRegions } from './regions.ts';

/**
 * The contract between the pipeline's batch loop (pipeline/explain.ts) and the analysis stage: the loop hands over
 * each batch's images, explanations and records; the analyser fills in metrics, regions and overlay outlines.
 * It lives here, below both, so analysis does not import the pipeline.
 */

/** The fields of a results.jsonl record that the analysis stage reads or writes. */
export interface AnalysedRecord {
  image: string;
  label?: number | null;
  metrics?: Record<string, number | null>;
  regions?: string[];
  /** The pipeline's record has more keys (predicted, className, ...). */
  [key: string]: unknown;
}

/** One image of a batch, as the analysis stage sees it. */
export interface BatchItem<R extends AnalysedRecord = AnalysedRecord> {
  image: string;
  prepared: PreparedImage;
  explanation: Explanation;
  record: R;
  /** 0/1 masks in the model-input frame to outline on the overlay. */
  outlines?: { mask: Uint8Array; color: [number, number, number] }[];
  /** Analyser.prepare's result, when the pipeline asked for it ahead of the batch's session call. */
  analysis?: PreparedAnalysis;
  /** The logits of `analysis.occlusion`, when it ran in the batch's own session call. */
  occludedLogits?: Float32Array;
}

/** What the analysis of one image needs before its session call: its regions and its occlusion counterfactual. */
export interface PreparedAnalysis {
  regions: ImageRegions;
  /**
   * The occlusion counterfactual: 'none' (no invalid mask: its metrics are null), 'unchanged' (an empty mask: the
   * input itself, drop 0), or the input with its invalid pixels filled, to run through the model. Absent when no rule
   * reads an occlusion metric, and once the analysis has used it (its array then holds a later image's copy).
   */
  occlusion?: 'none' | 'unchanged' | Float32Array;
}

/** The analysis stage of `heatgate run`: adds metrics to the records of a batch (may run extra forward passes). */
export interface Analyser {
  /**
   * Ahead of the image's session call (the pipeline calls it while it decodes ahead): loads its regions and builds the
   * occluded input, so the counterfactual runs in the same ONNX Runtime call as the explanation.
   */
  prepare?(image: string, prepared: PreparedImage, input: { channels: number; layout: 'NCHW' | 'NHWC' }): Promise<PreparedAnalysis>;
  analyse(items: BatchItem[], explainer: Explainer): Promise<void>;
  /** The region outlines of one image for an overlay drawn after the run (the report gallery); none without regions. */
  outlines?(image: string, geometry: PreparedImage['geometry']): Promise<BatchItem['outlines']>;
}

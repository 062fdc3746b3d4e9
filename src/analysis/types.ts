import type { Explainer, Explanation } from '../cam/explainer.ts';
import type { PreparedImage } from '../imaging/index.ts';

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
}

/** The analysis stage of `heatgate run`: adds metrics to the records of a batch (may run extra forward passes). */
export interface Analyser {
  analyse(items: BatchItem[], explainer: Explainer): Promise<void>;
  /** The region outlines of one image for an overlay drawn after the run (the report gallery); none without regions. */
  outlines?(image: string, geometry: PreparedImage['geometry']): Promise<BatchItem['outlines']>;
}

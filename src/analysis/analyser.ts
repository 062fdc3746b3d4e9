import type { Explainer } from '../cam/explainer.ts';
import type { Geometry } from '../imaging/geometry.ts';
import type { InputNotice } from '../notices.ts';
import type { PreparedImage } from '../imaging/index.ts';
import { SpareArrays } from '../spare-arrays.ts';
import type { Analyser, BatchItem, PreparedAnalysis } from './types.ts';
import { camHeatmap, createMetricContext, pointingTolerancePx, type PointingTolerance } from './metrics/context.ts';
import { computeMetrics, DEFAULT_METRIC_NAMES, getMetric, METRIC_NAMES, needsExtraPasses, readsOcclusion } from './metrics/registry.ts';
import { faithfulness, type FaithfulnessOptions, type FaithfulnessResult } from './faithfulness.ts';

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
import { occlusionInput, occlusionMetrics, type OcclusionFill, type OcclusionResult, type TensorShape } from './occlusion.ts';
import { createRegionSource, type ImageRegions, type RegionConfig, type RegionSource, type RegionSourceOptions } from './regions.ts';

/**
 * The analysis stage of `heatgate run` (the `Analyser` of ./types.ts): per batch, the regions of every image,
 * one batched forward for the occlusion counterfactual, then every metric into `record.metrics`. Region
 * outlines go to the overlay (roi green, invalid red).
 */

export interface AnalyserOptions {
  regions?: RegionConfig;
  regionOptions?: RegionSourceOptions;
  /** Metric names to compute (default: all). Unknown names are a ConfigError here, before any image. */
  metrics?: readonly string[];
  /** Pointing-game tolerance (policy analysis.pointingTolerance / pointingTolerancePx); default 15/224 of the shorter side. */
  pointingTolerance?: PointingTolerance;
  /** The occlusion counterfactual; on by default with the 'mean' fill; false turns it off. */
  occlusion?: false | { fill?: OcclusionFill; blurSigma?: number };
  /**
   * Deletion/insertion and ROAD (extra forward passes per image): run when given, or when `metrics` names one of
   * them; off by default (then those metrics are not computed). With `sample`, only that many images get them.
   */
  faithfulness?: FaithfulnessOptions & { sample?: number };
  /** The run's images, in the run's (sorted) order: which images `faithfulness.sample` picks depends on it. */
  images?: readonly string[];
}

/** What the analyser needs of the explainer: a batched forward, the input layout, the output kind. */
export type AnalysisExplainer = Pick<Explainer, 'predict' | 'inputShape'> & {
  readonly model: Pick<Explainer['model'], 'outputIsProbability'>;
};

export const OUTLINE_COLORS = { roi: [64, 220, 64], invalid: [255, 48, 48] } as const satisfies Record<string, [number, number, number]>;

/** The pipeline's Analyser, typed with the narrower explainer it really needs (so tests can pass a stub). */
export interface RegionAnalyser extends Analyser {
  analyse(items: BatchItem[], explainer: AnalysisExplainer): Promise<void>;
  /** Notices about the region inputs for the run's images (RegionSource.check); [] without regions. */
  inputNotices(images: readonly string[]): InputNotice[];
  outlines(image: string, geometry: Geometry): Promise<BatchItem['outlines']>;
  /**
   * The same analyser (same regions, loaded once) without the faithfulness passes: for a baseline model whose
   * faithfulness no rule reads.
   */
  withoutFaithfulness(): RegionAnalyser;
}

/** Region outlines for an overlay: roi green, invalid red. */
function outlinesOf({ roi, invalid }: Pick<ImageRegions, 'roi' | 'invalid'>): NonNullable<BatchItem['outlines']> {
  const outlines: NonNullable<BatchItem['outlines']> = [];
  if (roi) outlines.push({ mask: roi, color: [...OUTLINE_COLORS.roi] });
  if (invalid) outlines.push({ mask: invalid, color: [...OUTLINE_COLORS.invalid] });
  return outlines;
}

/**
 * `count` images spread evenly over `images` (the i-th of the middle of each of `count` equal runs), in their order;
 * all of them when there are no more than `count`. Deterministic, so the model and its baseline get the same ones and
 * a resumed run picks what the first try picked.
 */
export function sampleEvenly(images: readonly string[], count: number): string[] {
  if (images.length <= count) return [...images];
  return Array.from({ length: count }, (_, i) => images[Math.floor(((i + 0.5) * images.length) / count)]);
}

export async function createAnalyser(options: AnalyserOptions = {}): Promise<RegionAnalyser> {
  (options.metrics ?? []).forEach(getMetric); // fail fast on a typo
  const sample = options.faithfulness?.sample;
  if (sample !== undefined && !(Number.isInteger(sample) && sample >= 1)) throw new RangeError(`faithfulness sample must be a positive integer, got ${sample}`);
  if (sample !== undefined && !options.images) throw new RangeError('faithfulness sample needs the run\'s image list (AnalyserOptions.images)');
  const regions = options.regions ? await createRegionSource(options.regions, options.regionOptions) : null;
  return buildAnalyser(options, regions, options.faithfulness !== undefined || (options.metrics ?? []).some(needsExtraPasses));
}

function buildAnalyser(options: AnalyserOptions, regions: RegionSource | null, faithfulnessOn: boolean): RegionAnalyser {
  const names = faithfulnessOn
    ? options.metrics ?? METRIC_NAMES
    : options.metrics?.filter((n) => !needsExtraPasses(n)) ?? DEFAULT_METRIC_NAMES;
  const occlusion = options.occlusion === false ? null : { fill: 'mean' as const, ...options.occlusion };
  const wantsOcclusion = names.some(readsOcclusion);
  const { sample, ...faithfulnessOptions } = options.faithfulness ?? {};
  const sampled = sample !== undefined && options.images ? new Set(sampleEvenly(options.images, sample)) : null;

  // Occluded inputs of analysed batches, filled again by the next images (about the images in flight: two batches
  // ahead, two behind, one in the session).
  const spareCopies = new SpareArrays(64);
  const prepare = async (image: string, prepared: PreparedImage, input: { channels: number; layout: 'NCHW' | 'NHWC' }): Promise<PreparedAnalysis> => {
    const found = regions ? await regions.forImage(image, prepared.geometry) : { roi: null, invalid: null, sources: [] };
    if (!occlusion || !wantsOcclusion) return { regions: found };
    const { dstHeight: height, dstWidth: width } = prepared.geometry;
    const shape: TensorShape = { channels: input.channels, height, width, layout: input.layout === 'NCHW' ? 'CHW' : 'HWC' };
    return { regions: found, occlusion: occlusionInput(prepared.tensor, found.invalid, shape, occlusion, () => spareCopies.take(prepared.tensor.length)) };
  };

  return {
    prepare,
    inputNotices: (images) => regions?.check(images) ?? [],
    async outlines(image, geometry) {
      if (!regions) return undefined;
      const outlines = outlinesOf(await regions.forImage(image, geometry));
      return outlines.length > 0 ? outlines : undefined;
    },
    withoutFaithfulness: () => buildAnalyser(options, regions, false),
    async analyse(items: BatchItem[], explainer: AnalysisExplainer): Promise<void> {
      // Prepared ahead by the pipeline, or here (library callers, the gallery).
      const { channels, layout } = explainer.inputShape;
      const analysis = await Promise.all(items.map((item) => item.analysis ?? prepare(item.image, item.prepared, { channels, layout })));
      const found = analysis.map((a) => a.regions);

      // Occluded inputs that did not run in the batch's own session call: one logits-only forward for all of them.
      const occludedLogits = items.map((item) => item.occludedLogits);
      const pending = analysis.flatMap((a, i) => (a.occlusion instanceof Float32Array && !occludedLogits[i] ? [i] : []));
      if (pending.length > 0) {
        const logits = await explainer.predict(pending.map((i) => analysis[i].occlusion as Float32Array));
        pending.forEach((i, k) => (occludedLogits[i] = logits[k]));
      }
      const probabilities = explainer.model.outputIsProbability;
      const occluded: (OcclusionResult | null)[] = analysis.map(({ occlusion: o }, i) => {
        if (o === undefined || o === 'none') return null;
        if (o === 'unchanged') return { occlusionDrop: 0, occlusionFlip: 0 };
        return occlusionMetrics(items[i].explanation.logits, occludedLogits[i]!, items[i].explanation.target, { probabilities });
      });
      // The occluded inputs have run: nothing reads them again, so later images can fill them.
      for (const a of analysis) {
        if (a.occlusion instanceof Float32Array) spareCopies.give(a.occlusion);
        delete a.occlusion;
      }

      const heatmaps = items.map((item) => {
        const e = item.explanation;
        const g = item.prepared.geometry;
        return camHeatmap(e.cam, e.camHeight, e.camWidth, g.dstHeight, g.dstWidth);
      });
      let faithful: (FaithfulnessResult | null)[] = items.map(() => null);
      if (faithfulnessOn) {
        const { channels, height, width, layout } = explainer.inputShape;
        const shape: TensorShape = { channels, height, width, layout: layout === 'NCHW' ? 'CHW' : 'HWC' };
        // Images without a usable map (all-zero CAM: nothing to rank) get null, never a number; so do those outside the sample.
        const usable = items.map((item, i) =>
          (!sampled || sampled.has(item.image)) && item.explanation.cam.some((v) => v > 0) && heatmaps[i].length === height * width);
        const batch = items
          .map((item, i) => ({ input: item.prepared.tensor, heatmap: heatmaps[i], logits: item.explanation.logits, target: item.explanation.target }))
          .filter((_, i) => usable[i]);
        const results = await faithfulness(batch, shape, (inputs) => explainer.predict(inputs), {
          ...faithfulnessOptions,
          probabilities: explainer.model.outputIsProbability,
        });
        let next = 0;
        faithful = usable.map((u) => (u ? results[next++] : null));
      }

      items.forEach((item, i) => {
        const { roi, invalid, sources } = found[i];
        const e = item.explanation;
        const g = item.prepared.geometry;
        const ctx = createMetricContext({
          heatmap: heatmaps[i],
          faithfulness: faithful[i],
          cam: e.cam,
          camHeight: e.camHeight,
          camWidth: e.camWidth,
          height: g.dstHeight,
          width: g.dstWidth,
          roi,
          invalid,
          predicted: e.predicted,
          target: e.target,
          label: item.record.label ?? null,
          pointingTolerancePx: pointingTolerancePx(options.pointingTolerance, g.dstHeight, g.dstWidth),
          occlusion: occluded[i],
        });
        item.record.metrics = computeMetrics(ctx, names);
        const f = faithful[i];
        if (f) item.record.curves = { deletion: f.deletionCurve.map(round6), insertion: f.insertionCurve.map(round6) };
        if (sources.length > 0) item.record.regions = sources;
        const outlines = outlinesOf(found[i]);
        if (outlines.length > 0) item.outlines = [...(item.outlines ?? []), ...outlines];
      });
    },
  };
}

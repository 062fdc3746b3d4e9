import { normalizeMinMax, upsampleBilinear } from '../../imaging/index.ts';
import type { FaithfulnessResult } from '../faithfulness.ts';
import type { OcclusionResult } from '../occlusion.ts';
import type { MetricContext } from './types.ts';
import { sortedCopy } from '../../numeric.ts';

/**
 * The pointing game's tolerance as a share of the model input's shorter side: TorchRay's 15 px on ImageNet-sized
 * (224 px) inputs. A fixed 15 px would be 12 % of a 128-px input (almost two cells of a 16x16 CAM).
 */
export const DEFAULT_POINTING_TOLERANCE = 15 / 224;
/** TorchRay's tolerance in pixels at 224 px (the default fraction times 224). */
export const DEFAULT_POINTING_TOLERANCE_PX = 15;

/** A pointing-game tolerance: a fraction of the input's shorter side, or model-input pixels. */
export type PointingTolerance = { fraction: number } | { px: number };

/** The tolerance in model-input pixels for an input of height x width. */
export function pointingTolerancePx(tolerance: PointingTolerance | undefined, height: number, width: number): number {
  const t = tolerance ?? { fraction: DEFAULT_POINTING_TOLERANCE };
  return 'px' in t ? t.px : t.fraction * Math.min(height, width);
}

export interface MetricInput {
  cam: Float32Array;
  camHeight: number;
  camWidth: number;
  /** Model-input frame. */
  height: number;
  width: number;
  roi?: Uint8Array | null;
  invalid?: Uint8Array | null;
  predicted: number;
  target: number;
  label?: number | null;
  /** Pixels; default: DEFAULT_POINTING_TOLERANCE of the shorter side. */
  pointingTolerancePx?: number;
  occlusion?: OcclusionResult | null;
  faithfulness?: FaithfulnessResult | null;
  /** The model-frame heatmap when the caller already has it (e.g. for the overlay); else computed lazily. */
  heatmap?: Float32Array;
}

function checkCam(cam: Float32Array, camHeight: number, camWidth: number): void {
  if (cam.length !== camHeight * camWidth) {
    throw new RangeError(`cam has ${cam.length} values, expected ${camHeight}x${camWidth}`);
  }
}

/**
 * The model-frame heatmap of a CAM, pytorch-grad-cam's scale_cam_image order: min-max normalise at CAM resolution
 * (a copy), then resize. What a context computes on first use; for callers that need only the map.
 */
export function camHeatmap(cam: Float32Array, camHeight: number, camWidth: number, height: number, width: number): Float32Array {
  checkCam(cam, camHeight, camWidth);
  return upsampleBilinear(normalizeMinMax(cam), camHeight, camWidth, height, width);
}

/** Builds the per-image context; the heatmap and its sum are computed once, on first use. */
export function createMetricContext(input: MetricInput): MetricContext {
  const { cam, camHeight, camWidth, height, width } = input;
  checkCam(cam, camHeight, camWidth);
  for (const [name, mask] of [['roi', input.roi], ['invalid', input.invalid], ['heatmap', input.heatmap]] as const) {
    if (mask && mask.length !== height * width) {
      throw new RangeError(`${name} has ${mask.length} values, expected the model frame ${height}x${width}`);
    }
  }
  let heatmap = input.heatmap;
  let heatSum: number | undefined;
  let sorted: Float32Array | undefined;
  return {
    cam,
    camHeight,
    camWidth,
    height,
    width,
    roi: input.roi ?? null,
    invalid: input.invalid ?? null,
    predicted: input.predicted,
    target: input.target,
    label: input.label ?? null,
    pointingTolerancePx: input.pointingTolerancePx ?? pointingTolerancePx(undefined, height, width),
    occlusion: input.occlusion ?? null,
    faithfulness: input.faithfulness ?? null,
    get heatmap(): Float32Array {
      heatmap ??= camHeatmap(cam, camHeight, camWidth, height, width);
      return heatmap;
    },
    get heatSum(): number {
      if (heatSum === undefined) {
        const h = this.heatmap;
        let s = 0;
        for (let i = 0; i < h.length; i++) s += h[i];
        heatSum = s;
      }
      return heatSum;
    },
    get sortedHeatmap(): Float32Array {
      sorted ??= sortedCopy(this.heatmap);
      return sorted;
    },
  };
}

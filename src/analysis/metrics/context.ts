import { normalizeMinMax, upsampleBilinear } from '../../imaging/index.ts';
import type { OcclusionResult } from '../occlusion.ts';
import type { MetricContext } from './types.ts';

export const DEFAULT_POINTING_TOLERANCE_PX = 15;

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
  pointingTolerancePx?: number;
  occlusion?: OcclusionResult | null;
  /** The model-frame heatmap when the caller already has it (e.g. for the overlay); else computed lazily. */
  heatmap?: Float32Array;
}

/** Builds the per-image context; the heatmap and its sum are computed once, on first use. */
export function createMetricContext(input: MetricInput): MetricContext {
  const { cam, camHeight, camWidth, height, width } = input;
  if (cam.length !== camHeight * camWidth) {
    throw new RangeError(`cam has ${cam.length} values, expected ${camHeight}x${camWidth}`);
  }
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
    pointingTolerancePx: input.pointingTolerancePx ?? DEFAULT_POINTING_TOLERANCE_PX,
    occlusion: input.occlusion ?? null,
    get heatmap(): Float32Array {
      // pytorch-grad-cam's scale_cam_image order: min-max normalise at CAM resolution, then resize.
      heatmap ??= upsampleBilinear(normalizeMinMax(Float32Array.from(cam)), camHeight, camWidth, height, width);
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
      sorted ??= Float32Array.from(this.heatmap).sort();
      return sorted;
    },
  };
}

import { normalizeMinMax, upsampleBilinear } from '../imaging/index.ts';

/**
 * Several target layers (pytorch-grad-cam base_cam.aggregate_multi_layers): each layer's map is min-max scaled and
 * resized to a common size, then averaged. heatgate keeps raw maps at layer resolution, so the common size is the
 * largest layer's; a single layer passes through unchanged.
 */
export function combineLayers(maps: { map: Float32Array; height: number; width: number }[]): { map: Float32Array; height: number; width: number } {
  if (maps.length === 1) return maps[0];
  const height = Math.max(...maps.map((m) => m.height));
  const width = Math.max(...maps.map((m) => m.width));
  const sum = new Float32Array(height * width);
  for (const m of maps) {
    const scaled = upsampleBilinear(normalizeMinMax(m.map), m.height, m.width, height, width);
    for (let i = 0; i < sum.length; i++) sum[i] += scaled[i] / maps.length;
  }
  return { map: sum, height, width };
}

import { weightedSum, type CamMethod } from './base.ts';

/** Ablated copies per batched head run (pytorch-grad-cam's default batch_size). */
const BATCH = 32;

/**
 * Desai & Ramaswamy 2020 (WACV), eq. 3, as pytorch-grad-cam's ablation_cam.py does it: channel c is ablated (set to 0,
 * or to min(A) − 1e7 when the activations go below 0), the head re-scores the target, and
 * w_c = (S − S_c) / S with S the unablated score. The ablated activations run through the head alone.
 */
export const ablationCam: CamMethod = {
  name: 'ablationcam',
  title: 'Ablation-CAM',
  citation: 'Desai & Ramaswamy 2020, WACV, eq. 3',
  usesGradients: false,
  async compute(input) {
    const { activations: acts, runner } = input;
    if (!runner) throw new Error('ablationcam needs a model runner');
    const hw = acts.height * acts.width;
    let min = Infinity;
    for (const v of acts.data) min = Math.min(min, v);
    const ablated = min === 0 ? 0 : min - 1e7;
    const [original] = await runner.scoresForActivations([acts.data], input.target);
    const weights = new Float64Array(acts.channels);
    for (let start = 0; start < acts.channels; start += BATCH) {
      const batch: Float32Array[] = [];
      for (let c = start; c < Math.min(start + BATCH, acts.channels); c++) {
        const copy = Float32Array.from(acts.data);
        copy.fill(ablated, c * hw, (c + 1) * hw);
        batch.push(copy);
      }
      const scores = await runner.scoresForActivations(batch, input.target);
      scores.forEach((s, i) => (weights[start + i] = (original - s) / original));
    }
    return weightedSum(acts, weights);
  },
};

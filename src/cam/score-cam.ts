import { weightedSum, type CamMethod } from './base.ts';

/** Channels per batched forward pass (pytorch-grad-cam's default BATCH_SIZE). */
const BATCH = 16;

/**
 * Wang et al. 2020, https://arxiv.org/abs/1910.01279, eq. 3-6, as pytorch-grad-cam's score_cam.py does it: each
 * channel is upsampled to the input size (bilinear, align_corners=True), min-max scaled (1e-8), multiplied into the
 * input, and the target score of that masked input is the channel's weight after a softmax over channels.
 */
export const scoreCam: CamMethod = {
  name: 'scorecam',
  title: 'Score-CAM',
  citation: 'Wang et al. 2020, arXiv:1910.01279, eq. 3-6',
  usesGradients: false,
  async compute(input) {
    const { activations: acts, image, runner, inputHeight: H, inputWidth: W } = input;
    if (!image || !runner) throw new Error('scorecam needs the input image and a model runner');
    const hw = acts.height * acts.width;
    const pixels = H * W;
    const channelsPerPixel = image.length / pixels;
    const channelsLast = input.layout === 'NHWC';
    const scores = new Float64Array(acts.channels);
    for (let start = 0; start < acts.channels; start += BATCH) {
      const masked: Float32Array[] = [];
      for (let c = start; c < Math.min(start + BATCH, acts.channels); c++) {
        const mask = upsampleAlignCorners(acts.data.subarray(c * hw, (c + 1) * hw), acts.height, acts.width, H, W);
        let lo = Infinity;
        let hi = -Infinity;
        for (const v of mask) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        const scale = 1 / (hi - lo + 1e-8);
        const out = new Float32Array(image.length);
        for (let i = 0; i < image.length; i++) {
          const p = channelsLast ? Math.floor(i / channelsPerPixel) : i % pixels;
          out[i] = image[i] * (mask[p] - lo) * scale;
        }
        masked.push(out);
      }
      const batchScores = await runner.scoresForInputs(masked, input.target);
      scores.set(batchScores, start);
    }
    let max = -Infinity;
    for (const s of scores) max = Math.max(max, s);
    let sum = 0;
    const weights = scores.map((s) => Math.exp(s - max));
    for (const w of weights) sum += w;
    return weightedSum(acts, weights.map((w) => w / sum));
  },
};

/** torch.nn.UpsamplingBilinear2d: bilinear with align_corners=True (corner pixels map to corner pixels). */
export function upsampleAlignCorners(src: ArrayLike<number>, h: number, w: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(outH * outW);
  const sy = outH > 1 ? (h - 1) / (outH - 1) : 0;
  const sx = outW > 1 ? (w - 1) / (outW - 1) : 0;
  for (let y = 0; y < outH; y++) {
    const fy = y * sy;
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const dy = fy - y0;
    for (let x = 0; x < outW; x++) {
      const fx = x * sx;
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const dx = fx - x0;
      const top = src[y0 * w + x0] * (1 - dx) + src[y0 * w + x1] * dx;
      const bottom = src[y1 * w + x0] * (1 - dx) + src[y1 * w + x1] * dx;
      out[y * outW + x] = top * (1 - dy) + bottom * dy;
    }
  }
  return out;
}

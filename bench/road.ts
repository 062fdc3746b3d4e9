/**
 * ROAD's imputation cost per image: all 2 x |shares| noisy linear imputations (MoRF and LeRF, 3 channels) of one
 * image, with a Grad-CAM-like map (a 7x7 CAM bilinearly upsampled, ReLU zeros included) as faithfulness() runs them.
 * Reports CPU and wall milliseconds per image (median of --repeats after one warm-up image).
 *
 *   node --import tsx bench/road.ts [--size 224] [--repeats 3]
 */
import { parseArgs } from 'node:util';
import { DEFAULT_ROAD_SHARES, rankPixels, roadMask } from '../src/analysis/faithfulness.ts';
import { noisyLinearImpute } from '../src/analysis/linear-imputation.ts';
import { mulberry32 } from '../src/numeric.ts';

const { values } = parseArgs({ options: { size: { type: 'string', default: '224' }, repeats: { type: 'string', default: '3' } } });
const size = Number(values.size), repeats = Number(values.repeats);
const shape = { layout: 'CHW' as const, channels: 3, height: size, width: size };
const rand = mulberry32(5);
const input = Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i * 0.001) + 0.3 * rand());
const cam = Array.from({ length: 49 }, () => Math.max(0, rand() - 0.4));
const heatmap = new Float32Array(size * size);
for (let y = 0; y < size; y++) {
  for (let x = 0; x < size; x++) {
    const fy = Math.min(6, Math.max(0, ((y + 0.5) * 7) / size - 0.5)), fx = Math.min(6, Math.max(0, ((x + 0.5) * 7) / size - 0.5));
    const y0 = Math.floor(fy), x0 = Math.floor(fx), y1 = Math.min(6, y0 + 1), x1 = Math.min(6, x0 + 1), dy = fy - y0, dx = fx - x0;
    heatmap[y * size + x] = (1 - dy) * ((1 - dx) * cam[y0 * 7 + x0] + dx * cam[y0 * 7 + x1]) + dy * ((1 - dx) * cam[y1 * 7 + x0] + dx * cam[y1 * 7 + x1]);
  }
}
const masks = (['morf', 'lerf'] as const).flatMap((kind) => DEFAULT_ROAD_SHARES.map((r) => roadMask(heatmap, r, kind)));
rankPixels(heatmap);

function image(): { cpu: number; wall: number } {
  const cpu0 = process.cpuUsage(), wall0 = performance.now();
  const next = mulberry32(1);
  for (const mask of masks) noisyLinearImpute(input, shape, mask, 0.01, next);
  const cpu = process.cpuUsage(cpu0);
  return { cpu: (cpu.user + cpu.system) / 1000, wall: performance.now() - wall0 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
image();
const runs = Array.from({ length: repeats }, image);
console.log(
  `ROAD imputation, ${size}x${size}x3, ${masks.length} masks (MoRF + LeRF at ${DEFAULT_ROAD_SHARES.length} shares): ` +
    `${median(runs.map((r) => r.cpu)).toFixed(0)} ms CPU, ${median(runs.map((r) => r.wall)).toFixed(0)} ms wall per image (median of ${repeats})`,
);

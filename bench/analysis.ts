/**
 * Per-image cost of `heatgate run`'s analysis (everything but the forward passes): the heatmap (min-max normalise
 * and bilinear upsampling of the CAM), every default metric of the registry, and the occlusion 'mean' fill, each
 * kernel alone and the whole per image, for the current code next to the previous kernels (kept below as `legacy`),
 * measured in the same process, with a check that both give the same results (bit-identical, entropy within 1e-12
 * relative: it sums its terms in another order).
 *
 *   node --import tsx bench/analysis.ts [--count 64] [--reps 20] [--dir test-output/bench-images/1000]
 *
 * Inputs: the 7x7 CAMs of every method on mobilenet_v2's reference images (fixtures-build, 36), the rest synthesised
 * from a seed (a blob plus noise after a ReLU), the 224x224 model frame of mobilenet_v2, the real invalid masks of the bench frames (RGB PNG, warped as
 * `run` warps them; a synthetic one when the folder is missing), a box ROI, and random NCHW input tensors.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_BLUR_SIGMA, gaussianBlur, occlusionInputs, occludeInput, type TensorShape } from '../src/analysis/occlusion.ts';
import { createMetricContext } from '../src/analysis/metrics/context.ts';
import { computeMetrics, DEFAULT_METRIC_NAMES } from '../src/analysis/metrics/registry.ts';
import type { MetricContext } from '../src/analysis/metrics/types.ts';
import { entropy } from '../src/analysis/metrics/entropy.ts';
import { geometryFor } from '../src/imaging/geometry.ts';
import { linearTaps, normalizeMinMax, upsampleBilinear } from '../src/imaging/heatmap.ts';
import { warpMask } from '../src/imaging/mask.ts';
import { decodeNpy } from '../src/imaging/npy.ts';
import { mulberry32, sortedCopy } from '../src/numeric.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '64' },
    reps: { type: 'string', default: '20' },
    dir: { type: 'string', default: 'test-output/bench-images/1000' },
  },
});
const COUNT = Number(values.count);
const REPS = Number(values.reps);
const SIZE = 224;
const CAM = 7;
const SHAPE: TensorShape = { layout: 'CHW', channels: 3, height: SIZE, width: SIZE };
/** The blur fill costs tens of ms per image: it is checked and timed on the first few images, twice each. */
const BLUR_IMAGES = 8;

// ---- legacy: the kernels before this change, verbatim ----

function legacySortedCopy(values: Float32Array): Float32Array {
  const n = values.length;
  const bits = new Uint32Array(Float32Array.from(values).buffer);
  for (let i = 0; i < n; i++) if (bits[i] >= 0x7f800001) return new Float32Array(bits.buffer).sort();
  let from = bits;
  let to = new Uint32Array(n);
  const counts = new Uint32Array(256);
  for (let shift = 0; shift < 32; shift += 8) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(from[i] >>> shift) & 255]++;
    if (counts[(from[0] >>> shift) & 255] === n) continue;
    for (let b = 0, sum = 0; b < 256; b++) {
      const c = counts[b];
      counts[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) to[counts[(from[i] >>> shift) & 255]++] = from[i];
    [from, to] = [to, from];
  }
  return new Float32Array(from.buffer);
}

function legacyUpsample(map: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  const cols = linearTaps(w, outW);
  const rows = linearTaps(h, outH);
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const r0 = rows.i0[y] * w, r1 = rows.i1[y] * w, wy = rows.w1[y];
    for (let x = 0; x < outW; x++) {
      const c0 = cols.i0[x], c1 = cols.i1[x], wx = cols.w1[x];
      const top = map[r0 + c0] * (1 - wx) + map[r0 + c1] * wx;
      const bottom = map[r1 + c0] * (1 - wx) + map[r1 + c1] * wx;
      out[y * outW + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}

function legacyEntropy(ctx: MetricContext): number | null {
  const h = ctx.heatmap;
  let total = 0;
  for (let i = 0; i < h.length; i++) total += Math.abs(h[i]);
  if (!(total > 0)) return null;
  let e = 0;
  for (let i = 0; i < h.length; i++) {
    const p = Math.abs(h[i]) / total;
    if (p > 0) e -= p * Math.log(p);
  }
  return e;
}

function legacyOcclude(input: Float32Array, shape: TensorShape, invalid: Uint8Array): Float32Array {
  const out = Float32Array.from(input);
  const cs = shape.height * shape.width, ps = 1;
  const n = shape.height * shape.width;
  for (let c = 0; c < shape.channels; c++) {
    let sum = 0;
    let count = 0;
    for (let p = 0; p < n; p++) {
      if (!invalid[p]) {
        sum += input[c * cs + p * ps];
        count++;
      }
    }
    const mean = count > 0 ? sum / count : 0;
    for (let p = 0; p < n; p++) if (invalid[p]) out[c * cs + p * ps] = mean;
  }
  return out;
}

function legacyBlurFill(input: Float32Array, shape: TensorShape, invalid: Uint8Array, sigma: number): Float32Array {
  const out = Float32Array.from(input);
  const cs = shape.height * shape.width, ps = 1;
  const n = shape.height * shape.width;
  for (let c = 0; c < shape.channels; c++) {
    const plane = new Float32Array(n);
    for (let p = 0; p < n; p++) plane[p] = input[c * cs + p * ps];
    const blurred = gaussianBlur(plane, shape.height, shape.width, sigma);
    for (let p = 0; p < n; p++) if (invalid[p]) out[c * cs + p * ps] = blurred[p];
  }
  return out;
}

function legacyOcclusionInputs(input: Float32Array, invalid: Uint8Array): Float32Array[] {
  return invalid.some((v) => v !== 0) ? [legacyOcclude(input, SHAPE, invalid)] : [];
}

function legacyHeatmap(cam: Float32Array): Float32Array {
  return legacyUpsample(normalizeMinMax(Float32Array.from(cam)), CAM, CAM, SIZE, SIZE);
}

/** The old createMetricContext: the same lazy heatmap, heatSum and sorted copy, with the old kernels. */
function legacyContext(item: Item, heatmap?: Float32Array): MetricContext {
  const ctx = createMetricContext({ ...baseInput(item), heatmap: heatmap ?? new Float32Array(SIZE * SIZE) });
  let h = heatmap;
  let sum: number | undefined;
  let sorted: Float32Array | undefined;
  return Object.create(ctx, {
    heatmap: { get: () => (h ??= legacyHeatmap(item.cam)) },
    heatSum: {
      get() {
        if (sum === undefined) {
          const m: Float32Array = this.heatmap;
          let s = 0;
          for (let i = 0; i < m.length; i++) s += m[i];
          sum = s;
        }
        return sum;
      },
    },
    sortedHeatmap: { get() { return (sorted ??= legacySortedCopy(this.heatmap)); } },
  }) as MetricContext;
}

const NOT_ENTROPY = DEFAULT_METRIC_NAMES.filter((n) => n !== 'entropy');
function legacyMetrics(ctx: MetricContext): Record<string, number | null> {
  return { ...computeMetrics(ctx, NOT_ENTROPY), entropy: legacyEntropy(ctx) };
}

// ---- inputs ----

interface Item { cam: Float32Array; input: Float32Array; invalid: Uint8Array; roi: Uint8Array }

function baseInput(item: Item) {
  return { cam: item.cam, camHeight: CAM, camWidth: CAM, height: SIZE, width: SIZE, predicted: 1, target: 1, label: 1, roi: item.roi, invalid: item.invalid };
}

/** The 7x7 CAMs of every method on the reference images of mobilenet_v2, when the fixtures are built. */
function referenceCams(): Float32Array[] {
  const dir = 'fixtures-build/reference/mobilenet_v2/cams';
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.npy')).sort().flatMap((f) => {
    const { data, shape } = decodeNpy(readFileSync(path.join(dir, f)), f);
    if (shape.length !== 3 || shape[1] !== CAM || shape[2] !== CAM) return [];
    return Array.from({ length: shape[0] }, (_, i) => Float32Array.from(data.subarray(i * CAM * CAM, (i + 1) * CAM * CAM) as Float32Array));
  });
}

async function makeItems(): Promise<{ items: Item[]; masks: string; cams: string }> {
  const next = mulberry32(2024);
  const maskDir = path.join(values.dir!, 'invalid');
  const maskFiles = existsSync(maskDir) ? readdirSync(maskDir).filter((f) => f.endsWith('.png')).sort().slice(0, COUNT) : [];
  const geometry = geometryFor(640, 480, SIZE, SIZE, 'resize');
  const realCams = referenceCams();
  const items: Item[] = [];
  for (let i = 0; i < COUNT; i++) {
    const cx = next() * CAM, cy = next() * CAM, s = 1 + next() * 2;
    const cam = realCams[i] ?? Float32Array.from({ length: CAM * CAM }, (_, k) => {
      const x = k % CAM, y = Math.floor(k / CAM);
      return Math.max(0, Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s)) + 0.3 * next() - 0.1) * 7;
    });
    const input = Float32Array.from({ length: 3 * SIZE * SIZE }, () => next() * 4 - 2);
    let invalid: Uint8Array;
    if (maskFiles[i]) invalid = await warpMask(path.join(maskDir, maskFiles[i]), geometry);
    else invalid = Uint8Array.from({ length: SIZE * SIZE }, (_, p) => (p % SIZE < 40 + (i % 50) ? 1 : 0));
    const roi = new Uint8Array(SIZE * SIZE);
    const x0 = Math.floor(next() * 120), y0 = Math.floor(next() * 120), bw = 40 + Math.floor(next() * 60), bh = 40 + Math.floor(next() * 60);
    for (let y = y0; y < y0 + bh; y++) roi.fill(1, y * SIZE + x0, y * SIZE + x0 + bw);
    items.push({ cam, input, invalid, roi });
  }
  const masks = maskFiles.length === COUNT ? `${maskDir} (warped)` : 'synthetic (mask folder missing)';
  return { items, masks, cams: `${Math.min(realCams.length, COUNT)} of mobilenet_v2's reference CAMs (fixtures-build), the rest synthetic` };
}

// ---- checks ----

const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

function check(items: Item[]): void {
  for (const [i, item] of items.entries()) {
    const fail = (what: string) => { throw new Error(`image ${i}: ${what} differs from the legacy kernel`); };
    const heat = legacyHeatmap(item.cam);
    const ctx = createMetricContext(baseInput(item));
    if (!sameBits(ctx.heatmap, heat)) fail('heatmap');
    if (!sameBits(sortedCopy(heat), legacySortedCopy(heat))) fail('sortedCopy');
    if (!sameBits(occludeInput(item.input, SHAPE, item.invalid), legacyOcclude(item.input, SHAPE, item.invalid))) fail('occlusion fill');
    if (i < BLUR_IMAGES && !sameBits(occludeInput(item.input, SHAPE, item.invalid, { fill: 'blur' }), legacyBlurFill(item.input, SHAPE, item.invalid, DEFAULT_BLUR_SIGMA))) {
      fail('occlusion blur fill');
    }
    const now = computeMetrics(ctx, DEFAULT_METRIC_NAMES);
    const before = legacyMetrics(legacyContext(item));
    for (const name of DEFAULT_METRIC_NAMES) {
      const a = now[name], b = before[name];
      const ok = name === 'entropy' && a !== null && b !== null ? Math.abs(a - b) <= 1e-12 * Math.abs(b) : Object.is(a, b);
      if (!ok) fail(`${name} (${a} vs ${b})`);
    }
  }
}

// ---- timing ----

/**
 * CPU ms per image of `fn` over every item, REPS times, after one warm-up round. CPU time of this process (user +
 * system, GC threads included), not wall time: on a shared machine other processes' load would otherwise count.
 */
function time(items: Item[], fn: (item: Item) => unknown, reps = REPS): number {
  let sink = 0;
  for (const item of items) sink += fn(item) ? 1 : 0;
  const start = process.cpuUsage();
  for (let r = 0; r < reps; r++) for (const item of items) sink += fn(item) ? 1 : 0;
  const used = process.cpuUsage(start);
  const ms = (used.user + used.system) / 1000 / (reps * items.length);
  if (sink < 0) console.log(sink);
  return ms;
}

async function main(): Promise<void> {
  const { items, masks, cams } = await makeItems();
  check(items);
  const heatmaps = items.map((item) => legacyHeatmap(item.cam));
  const at = new Map(items.map((item, i) => [item, i]));
  const heatOf = (item: Item) => heatmaps[at.get(item)!];

  type Row = [string, (item: Item) => unknown, (item: Item) => unknown, subset?: Item[], reps?: number];
  const kernels: Row[] = [
    ['heatmap (normalise + upsample)', (it) => legacyHeatmap(it.cam), (it) => upsampleBilinear(normalizeMinMax(it.cam), CAM, CAM, SIZE, SIZE)],
    ['sortedCopy', (it) => legacySortedCopy(heatOf(it)), (it) => sortedCopy(heatOf(it))],
    ['entropy (heatmap, sum, sort given)', (it) => legacyEntropy(warmContext(it, true)), (it) => entropy.compute(warmContext(it, false))],
    ['occlusion mean fill', (it) => legacyOcclusionInputs(it.input, it.invalid), (it) => occlusionInputs([it], SHAPE).inputs],
    [
      `occlusion blur fill (${BLUR_IMAGES} images)`,
      (it) => legacyBlurFill(it.input, SHAPE, it.invalid, DEFAULT_BLUR_SIGMA),
      (it) => occludeInput(it.input, SHAPE, it.invalid, { fill: 'blur' }),
      items.slice(0, BLUR_IMAGES),
      2,
    ],
    [
      'metrics (heatmap given)',
      (it) => legacyMetrics(legacyContext(it, heatOf(it))),
      (it) => computeMetrics(createMetricContext({ ...baseInput(it), heatmap: heatOf(it) }), DEFAULT_METRIC_NAMES),
    ],
    [
      'whole: heatmap, metrics, fill',
      (it) => {
        // As the analyser does: a context for the heatmap, the occlusion fill, then the metrics' context.
        const heatmap = legacyContext(it).heatmap;
        legacyOcclusionInputs(it.input, it.invalid);
        return legacyMetrics(legacyContext(it, heatmap));
      },
      (it) => {
        const heatmap = createMetricContext(baseInput(it)).heatmap;
        occlusionInputs([it], SHAPE);
        return computeMetrics(createMetricContext({ ...baseInput(it), heatmap }), DEFAULT_METRIC_NAMES);
      },
    ],
  ];
  // Entropy alone: contexts whose heatmap, heatSum and sorted copy are already computed.
  const warm = new Map<string, MetricContext>();
  function warmContext(item: Item, legacy: boolean): MetricContext {
    const key = `${at.get(item)}:${legacy}`;
    let ctx = warm.get(key);
    if (!ctx) {
      ctx = legacy ? legacyContext(item, heatOf(item)) : createMetricContext({ ...baseInput(item), heatmap: heatOf(item) });
      void ctx.heatSum;
      void ctx.sortedHeatmap;
      warm.set(key, ctx);
    }
    return ctx;
  }

  console.log(`${items.length} images x ${REPS} reps, ${SIZE}x${SIZE} model frame, ${CAM}x${CAM} CAMs: ${cams}; invalid masks: ${masks}`);
  console.log('results checked: bit-identical to the legacy kernels (entropy within 1e-12 relative)');
  console.log(`${'kernel'.padEnd(36)} ${'legacy ms'.padStart(10)} ${'now ms'.padStart(10)} ${'now/legacy'.padStart(11)}`);
  for (const [name, legacy, now, subset = items, reps = REPS] of kernels) {
    // Alternate the two a few times so neither gets all the warm (or all the GC-heavy) rounds.
    let a = 0, b = 0;
    for (let round = 0; round < 3; round++) {
      a += time(subset, legacy, reps);
      b += time(subset, now, reps);
    }
    console.log(`${name.padEnd(36)} ${(a / 3).toFixed(3).padStart(10)} ${(b / 3).toFixed(3).padStart(10)} ${(b / a).toFixed(2).padStart(11)}`);
  }
}

await main();

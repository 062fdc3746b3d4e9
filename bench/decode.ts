/**
 * Per-image cost of heatgate's decode + preprocessing (prepareImage) next to the plain-inference decode
 * (`sharp(file).resize(224, 224).raw()`), single-image latency and the throughput of 16 concurrent decodes, and a
 * bit-identity check of the tensors against the previous two-pipeline implementation (kept below as `legacy`).
 *
 *   node --import tsx bench/decode.ts [--count 200] [--concurrency 16] [--dir /tmp/heatgate-decode-bench]
 *     [--vips-threads N] [--no-vips-cache] [--no-check] [--frames DIR] [--masks DIR] [--sets a,b]
 *
 * --frames DIR adds the images of DIR as a set (e.g. test-output/bench-images/1000/images, the whole-process bench's
 * 640x480 camera frames; the first --count of them); --masks DIR times mask warps (warpMask) of the files of DIR
 * (e.g. .../1000/invalid) against the previous implementation, and checks that both give the same masks.
 * --sets runs only the named sets (e.g. --sets frames; default all).
 *
 * Per prepare: "single" (one image at a time), "16 concurrent" wall time, CPU (all threads) and main-thread CPU ms per
 * image (the JS and the synchronous part of each sharp call: what decoding takes from the thread that also drives
 * ONNX Runtime), "now, keepRgb" being the two-step decode that overlays still use.
 *
 * --vips-threads sets sharp.concurrency (libvips threads per image; sharp's default is 1 on glibc Linux without
 * jemalloc, the core count elsewhere), --no-vips-cache sets sharp.cache(false), --no-check skips the identity check.
 *
 * Test images: the demo frames (examples/underpass/images) resized to 500x375 and 640x480 JPEG and 500x375 PNG,
 * each frame shifted and mirrored so no two files are the same; plus small ones (upscaled to the model size) for
 * the identity check only, and EXIF-rotated ones (orientation 6) for the identity check of sequential decoding.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { decodeRgb, type DecodedPixels } from '../src/imaging/decode.ts';
import { warpMask } from '../src/imaging/mask.ts';
import { resampleToModel } from '../src/imaging/resample.ts';
import { geometryFor, type Geometry, type ResizeMode } from '../src/imaging/geometry.ts';
import { normalizationPreset } from '../src/imaging/normalize.ts';
import { prepareImage, type PreprocessOptions } from '../src/imaging/preprocess.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '16' },
    dir: { type: 'string', default: '/tmp/heatgate-decode-bench' },
    'vips-threads': { type: 'string' },
    'no-vips-cache': { type: 'boolean', default: false },
    'no-check': { type: 'boolean', default: false },
    frames: { type: 'string' },
    masks: { type: 'string' },
    sets: { type: 'string' },
  },
});
const COUNT = Number(values.count);
const CONCURRENCY = Number(values.concurrency);
const DIR = values.dir!;
if (values['vips-threads']) sharp.concurrency(Number(values['vips-threads']));
if (values['no-vips-cache']) sharp.cache(false);
const SIZE = 224;

const OPTIONS: PreprocessOptions = {
  width: SIZE, height: SIZE, channels: 3, layout: 'NCHW', resize: 'resize', normalization: normalizationPreset('imagenet'),
};

/** name -> [width, height, format] of each test set. */
const SETS: Record<string, [number, number, 'jpeg' | 'png', orientation?: number]> = {
  'jpeg-500x375': [500, 375, 'jpeg'],
  'jpeg-640x480': [640, 480, 'jpeg'],
  'png-500x375': [500, 375, 'png'],
  'small-jpeg-150x100': [150, 100, 'jpeg'],
  'exif6-jpeg-500x375': [500, 375, 'jpeg', 6],
};

async function makeImages(): Promise<Record<string, string[]>> {
  const frames = readdirSync('examples/underpass/images').filter((f) => f.endsWith('.png')).sort()
    .map((f) => path.join('examples/underpass/images', f));
  const out: Record<string, string[]> = {};
  for (const [set, [w, h, format, orientation]] of Object.entries(SETS)) {
    const dir = path.join(DIR, set);
    mkdirSync(dir, { recursive: true });
    out[set] = [];
    for (let i = 0; i < COUNT; i++) {
      const file = path.join(dir, `${String(i).padStart(4, '0')}.${format === 'jpeg' ? 'jpg' : 'png'}`);
      out[set].push(file);
      if (existsSync(file)) continue;
      const frame = frames[i % frames.length];
      const meta = await sharp(frame).metadata();
      const shift = Math.floor(i / frames.length) % 8;
      let img = sharp(frame).extract({ left: shift, top: shift, width: meta.width! - 8, height: meta.height! - 8 })
        .resize(w, h, { fit: 'fill' });
      if (Math.floor(i / frames.length) % 2 === 1) img = img.flop();
      if (orientation) img = img.withMetadata({ orientation });
      await (format === 'jpeg' ? img.jpeg({ quality: 90 }) : img.png()).toFile(file);
    }
  }
  if (values.frames) {
    out['frames'] = readdirSync(values.frames).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().slice(0, COUNT)
      .map((f) => path.join(values.frames!, f));
  }
  return out;
}

// ---- The implementation before this change, for the identity check and the "before" numbers. ----

function legacyToTensor(hwc: Float32Array, o: PreprocessOptions): Float32Array {
  const n = o.normalization;
  const [ri, gi, bi] = o.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const plane = o.width * o.height;
  const tensor = new Float32Array(plane * o.channels);
  const a = [0, 1, 2].map((c) => n.scale / n.std[c]);
  const b = [0, 1, 2].map((c) => -n.mean[c] / n.std[c]);
  for (let i = 0; i < plane; i++) {
    const r = hwc[3 * i], g = hwc[3 * i + 1], bl = hwc[3 * i + 2];
    if (o.channels === 1) {
      tensor[i] = (0.299 * r + 0.587 * g + 0.114 * bl) * a[0] + b[0];
    } else if (o.layout === 'NCHW') {
      tensor[ri * plane + i] = r * a[0] + b[0];
      tensor[gi * plane + i] = g * a[1] + b[1];
      tensor[bi * plane + i] = bl * a[2] + b[2];
    } else {
      tensor[3 * i + ri] = r * a[0] + b[0];
      tensor[3 * i + gi] = g * a[1] + b[1];
      tensor[3 * i + bi] = bl * a[2] + b[2];
    }
  }
  return tensor;
}

/** decodeRgb as it was: random access (the whole image decoded into memory before the pipeline runs). */
async function legacyDecode(bytes: Buffer): Promise<DecodedPixels> {
  const { data, info } = await sharp(bytes, { failOn: 'error', ignoreIcc: true, autoOrient: true })
    .removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: 3 };
}

async function legacyPrepare(bytes: Buffer, o: PreprocessOptions): Promise<Float32Array> {
  const decoded = await legacyDecode(bytes);
  const g = geometryFor(decoded.width, decoded.height, o.width, o.height, o.resize);
  return legacyToTensor(await resampleToModel(decoded, g), o);
}

// ---- Measurement. ----

type Prepare = (bytes: Buffer, file: string) => Promise<unknown>;

const PREPARES: Record<string, Prepare> = {
  'plain script (sharp(file).resize(224,224).raw())': (_bytes, file) => sharp(file).resize(SIZE, SIZE).raw().toBuffer(),
  'heatgate before (two pipelines)': (bytes) => legacyPrepare(bytes, OPTIONS),
  'heatgate now, keepRgb (two-step, as overlays)': (bytes, file) => prepareImage(bytes, { ...OPTIONS, keepRgb: true }, file),
  'heatgate now (prepareImage, one call)': (bytes, file) => prepareImage(bytes, OPTIONS, file),
};

/** warpMask as it was: metadata, full-size decode (colour masks: JS max of R, G, B), resampleToModel's float frame, threshold. */
async function legacyWarpMask(bytes: Buffer, g: Geometry): Promise<Uint8Array> {
  const open = () => sharp(bytes, { failOn: 'error', ignoreIcc: true, autoOrient: true, sequentialRead: true });
  const meta = await open().metadata();
  let values: DecodedPixels;
  if ((meta.channels ?? 3) - (meta.hasAlpha ? 1 : 0) === 1) {
    const { data, info } = await open().removeAlpha().toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    values = { data, width: info.width, height: info.height, channels: 1 };
  } else {
    const { data: d, info } = await open().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    const out = Buffer.allocUnsafe(info.width * info.height);
    for (let i = 0, j = 0; i < out.length; i++, j += 3) out[i] = Math.max(d[j], d[j + 1], d[j + 2]);
    values = { data: out, width: info.width, height: info.height, channels: 1 };
  }
  const warped = await resampleToModel(values, g);
  const mask = new Uint8Array(warped.length);
  for (let i = 0; i < warped.length; i++) mask[i] = warped[i] > 127.5 ? 1 : 0;
  return mask;
}

/** Mask warps per second (16 concurrent, main-thread ms per mask beside it), before and now, and whether they agree. */
async function maskBench(dir: string): Promise<void> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.png')).sort().slice(0, COUNT).map((f) => path.join(dir, f));
  const bytes = await Promise.all(files.map((f) => readFile(f)));
  const meta = await sharp(bytes[0]).metadata();
  const g = geometryFor(meta.width!, meta.height!, SIZE, SIZE, 'resize');
  let differing = 0;
  for (let i = 0; i < files.length; i++) {
    const [a, b] = [await legacyWarpMask(bytes[i], g), await warpMask(bytes[i], g, files[i])];
    if (!Buffer.from(a).equals(Buffer.from(b))) differing++;
  }
  console.log(`\nmasks ${dir} (${files.length}, ${meta.width}x${meta.height} ${meta.channels}-channel ${meta.format} -> ${SIZE}x${SIZE}): `
    + (differing ? `${differing} masks DIFFER` : 'identical to the previous implementation'));
  const warps: Record<string, Prepare> = {
    'warpMask before': (b) => legacyWarpMask(b, g),
    'warpMask now': (b, f) => warpMask(b, g, f),
  };
  for (const [name, warp] of Object.entries(warps)) {
    await concurrent(warp, files.slice(0, 20), bytes.slice(0, 20)); // warm-up
    const [wall, cpu, main] = await concurrent(warp, files, bytes);
    console.log(`  ${name.padEnd(50)} ${(1000 / wall).toFixed(0)} masks/s, CPU ${cpu.toFixed(2)} ms/mask, main thread ${main.toFixed(2)} ms/mask`);
  }
}

/** Median ms per image, one image at a time. */
async function single(prepare: Prepare, files: string[], bytes: Buffer[]): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < files.length; i++) {
    const t0 = performance.now();
    await prepare(bytes[i], files[i]);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Wall ms per image with `CONCURRENCY` images in flight, CPU ms per image (this process, libvips threads
 * included): on a shared 2-core machine CPU time is the steadier number, and it is what decoding takes from ORT;
 * and main-thread CPU ms per image.
 */
async function concurrent(prepare: Prepare, files: string[], bytes: Buffer[]): Promise<[number, number, number]> {
  let next = 0;
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < files.length) {
      const i = next++;
      await prepare(bytes[i], files[i]);
    }
  }));
  const wall = (performance.now() - t0) / files.length;
  const cpu = process.cpuUsage(cpu0);
  return [wall, (cpu.user + cpu.system) / 1000 / files.length, (mainThreadCpuMs() - main0) / files.length];
}

/**
 * CPU ms of the main thread alone (Linux: /proc/self/task/<pid>/stat utime + stime, 10 ms ticks): the JS and the
 * synchronous part of each sharp call, without libvips' worker threads and, unlike event-loop busy time, without
 * the time other processes on a loaded machine take.
 */
function mainThreadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14 and 15), at USER_HZ 100
}

/** Stage costs of the current prepareImage path, median ms per image. */
async function stages(files: string[], bytes: Buffer[]): Promise<Record<string, number>> {
  const t: Record<string, number[]> = { 'legacy decodeRgb (full size, EXIF)': [], 'decodeRgb (sequentialRead)': [], 'legacy resample (sharp reduce + JS pass)': [], 'legacy toTensor': [] };
  for (let i = 0; i < files.length; i++) {
    let t0 = performance.now();
    const decoded = await legacyDecode(bytes[i]);
    t['legacy decodeRgb (full size, EXIF)'].push(performance.now() - t0);
    t0 = performance.now();
    await decodeRgb(bytes[i]);
    t['decodeRgb (sequentialRead)'].push(performance.now() - t0);
    const g = geometryFor(decoded.width, decoded.height, SIZE, SIZE, 'resize');
    t0 = performance.now();
    // The resampler itself did not change: resampleToModel is still its sharp reduce + JS pass.
    const px = await resampleToModel(decoded, g);
    t['legacy resample (sharp reduce + JS pass)'].push(performance.now() - t0);
    t0 = performance.now();
    legacyToTensor(px, OPTIONS);
    t['legacy toTensor'].push(performance.now() - t0);
  }
  return Object.fromEntries(Object.entries(t).map(([k, xs]) => [k, xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]]));
}

/** Counts tensors that differ (any element, bit for bit) between the legacy and the current implementation. */
async function identity(files: string[], bytes: Buffer[]): Promise<string[]> {
  const problems: string[] = [];
  const variants: PreprocessOptions[] = [];
  for (const resize of ['resize', 'center-crop', 'letterbox'] as ResizeMode[]) {
    variants.push({ ...OPTIONS, resize });
  }
  variants.push({ ...OPTIONS, layout: 'NHWC', channelOrder: 'bgr', normalization: normalizationPreset('caffe') });
  variants.push({ ...OPTIONS, channels: 1, resize: 'letterbox' });
  variants.push({ ...OPTIONS, width: 300, height: 200, resize: 'center-crop' });
  for (const o of variants) {
    let differing = 0;
    for (let i = 0; i < files.length; i++) {
      const [a, b] = [await legacyPrepare(bytes[i], o), (await prepareImage(bytes[i], o, files[i])).tensor];
      const same = a.length === b.length && Buffer.from(a.buffer).equals(Buffer.from(b.buffer));
      if (!same) differing++;
    }
    if (differing) problems.push(`${differing}/${files.length} differ for ${o.resize} ${o.width}x${o.height} ${o.layout} c=${o.channels}`);
  }
  return problems;
}

const sets = await makeImages();
console.log(`decode bench: ${COUNT} images per set, ${CONCURRENCY} concurrent, libvips threads ${sharp.concurrency()}, `
  + `libvips cache ${values['no-vips-cache'] ? 'off' : 'on'}, node ${process.version}`);
const only = values.sets?.split(',');
for (const [set, files] of Object.entries(sets)) {
  if (only && !only.includes(set)) continue;
  const bytes = await Promise.all(files.map((f) => readFile(f)));
  if (values['no-check']) {
    console.log(`\n${set}:`);
  } else {
    const problems = await identity(files, bytes);
    console.log(`\n${set}: tensors ${problems.length ? 'DIFFER: ' + problems.join('; ') : 'bit-identical to the previous implementation (6 option sets)'}`);
  }
  if (set.startsWith('small') || set.startsWith('exif')) continue;
  for (const [stage, ms] of Object.entries(await stages(files, bytes))) console.log(`  stage ${stage.padEnd(44)} ${ms.toFixed(2)} ms`);
  for (const [name, prepare] of Object.entries(PREPARES)) {
    await single(prepare, files.slice(0, 20), bytes.slice(0, 20)); // warm-up
    const s = await single(prepare, files, bytes);
    const [wall, cpu, main] = await concurrent(prepare, files, bytes);
    console.log(`  ${name.padEnd(50)} single ${s.toFixed(2)} ms/image, ${CONCURRENCY} concurrent ${wall.toFixed(2)} ms/image `
      + `(${(1000 / wall).toFixed(0)}/s), CPU ${cpu.toFixed(2)} ms/image, main thread ${main.toFixed(2)} ms/image`);
  }
}
if (values.masks) await maskBench(values.masks);

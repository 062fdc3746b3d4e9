#!/usr/bin/env node
// The baseline of the whole-process benchmark (bench/whole.ts): plain ONNX Runtime inference over a folder of images,
// written the way a user would write it, with nothing of heatgate. Plain JavaScript so no transpiling slows it down.
//
//   node bench/plain-inference.mjs --model m.onnx --images dir --out dir [--batch 8] [--threads 0] [--size 224]
//
// Like heatgate it decodes with sharp, resizes to the 224x224 NCHW input, normalises with the ImageNet mean/std,
// runs batches of 8 and decodes the next batch while the current one runs. It writes predictions.jsonl (image,
// predicted, confidence) to --out and, when $HEATGATE_TIMINGS names a file, appends one line of the same JSON shape
// as heatgate's (src/pipeline/timings.ts) so the benchmark reads both sides alike.
import { appendFileSync, createWriteStream, mkdirSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    images: { type: 'string' },
    out: { type: 'string' },
    batch: { type: 'string', default: '8' },
    threads: { type: 'string', default: '0' },
    size: { type: 'string', default: '224' },
  },
});
for (const flag of ['model', 'images', 'out']) {
  if (!values[flag]) {
    process.stderr.write(`plain-inference: --${flag} is required\n`);
    process.exit(2);
  }
}
const batchSize = Number(values.batch);
const size = Number(values.size);
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
const IMAGE = /\.(jpe?g|png|webp|tiff?|bmp)$/i;
const RSS_MARKS = [1_000, 10_000];

const images = readdirSync(values.images).filter((name) => IMAGE.test(name)).sort();
const session = await ort.InferenceSession.create(values.model, {
  graphOptimizationLevel: 'all',
  intraOpNumThreads: Number(values.threads),
  executionProviders: ['cpu'],
  logSeverityLevel: 3,
});

/** One image: decoded and resized by sharp, normalised into its slot of the NCHW batch. */
async function load(name, batch, slot) {
  const bytes = await readFile(path.join(values.images, name));
  const rgb = await sharp(bytes, { failOn: 'error', autoOrient: true }).removeAlpha().resize(size, size, { fit: 'fill' }).raw().toBuffer();
  const plane = size * size;
  const base = slot * 3 * plane;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) batch[base + c * plane + i] = (rgb[3 * i + c] / 255 - MEAN[c]) / STD[c];
  }
}

/** Decodes the images of the batch starting at `start`, all at once. */
async function loadBatch(start) {
  const names = images.slice(start, start + batchSize);
  const data = new Float32Array(names.length * 3 * size * size);
  await Promise.all(names.map((name, slot) => load(name, data, slot)));
  return { names, tensor: new ort.Tensor('float32', data, [names.length, 3, size, size]) };
}

mkdirSync(values.out, { recursive: true });
const predictions = createWriteStream(path.join(values.out, 'predictions.jsonl'));
const timings = { firstResultEpochMs: null, images: 0, sessionMs: 0, inputWaitMs: 0, afterSessionMs: 0, rssAtImages: {} };
let next = images.length > 0 ? loadBatch(0) : null;
for (let start = 0; next; start += batchSize) {
  let t = performance.now();
  const { names, tensor } = await next;
  timings.inputWaitMs += performance.now() - t;
  // The next batch decodes while this one runs.
  next = start + batchSize < images.length ? loadBatch(start + batchSize) : null;
  t = performance.now();
  const output = await session.run({ [session.inputNames[0]]: tensor });
  timings.sessionMs += performance.now() - t;
  t = performance.now();
  const logits = output[session.outputNames[0]].data;
  const classes = logits.length / names.length;
  const lines = names.map((image, b) => {
    const row = logits.subarray(b * classes, (b + 1) * classes);
    let predicted = 0;
    for (let k = 1; k < classes; k++) if (row[k] > row[predicted]) predicted = k;
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(row[k] - row[predicted]);
    return `${JSON.stringify({ image, predicted, confidence: 1 / sum })}\n`;
  });
  predictions.write(lines.join(''));
  timings.afterSessionMs += performance.now() - t;
  if (timings.firstResultEpochMs === null) timings.firstResultEpochMs = performance.timeOrigin + performance.now();
  const before = timings.images;
  timings.images += names.length;
  for (const mark of RSS_MARKS) if (before < mark && timings.images >= mark) timings.rssAtImages[mark] = process.memoryUsage.rss();
}
await new Promise((resolve, reject) => predictions.end((error) => (error ? reject(error) : resolve())));
if (process.env.HEATGATE_TIMINGS) {
  const report = { processStartEpochMs: performance.timeOrigin, ...timings, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
  appendFileSync(process.env.HEATGATE_TIMINGS, `${JSON.stringify(report)}\n`);
}
await session.release();

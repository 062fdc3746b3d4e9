/**
 * npm run bench, in two halves:
 * - in-session: images/s of plain ONNX Runtime inference vs heatgate Grad-CAM on the same model, batch and threads,
 *   and of torch autograd Grad-CAM (scripts/reference/torch_bench.py, the pytorch-grad-cam way) where Debian's
 *   python3-torch is installed. Ratios are taken within this process, so machine noise mostly cancels.
 * - whole process (bench/whole.ts): `heatgate explain` and `heatgate run` as whole processes against plain inference
 *   over the same --images camera frames at batch 8, interleaved --whole-repeats times, plus one explain over
 *   --long-images for the RSS at 10,000 images; then every target of issue 10, met or missed with its numbers.
 *
 *   npm run bench -- [--models resnet18,resnet50,mobilenet_v2] [--batch 1,8] [--repeats 10] [--threads 2] [--no-torch]
 *                    [--images 1000] [--whole-repeats 2] [--long-model mobilenet_v2] [--long-images 10000] [--no-long]
 *                    [--no-session] [--no-whole]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Explainer } from '../src/cam/explainer.ts';
import { openSession, ort } from '../src/onnx/session.ts';
import { runWholeBench, type WholeResult } from './whole.ts';
import { checkTargets, renderWholeTable, type InSessionRatio } from './whole-report.ts';

const OPTIONS = {
  models: { type: 'string', default: 'resnet18,resnet50,mobilenet_v2' },
  batch: { type: 'string', default: '1,8' },
  repeats: { type: 'string', default: '10' },
  threads: { type: 'string', default: String(os.availableParallelism()) },
  'no-torch': { type: 'boolean', default: false },
  fixtures: { type: 'string', default: 'fixtures-build/reference' },
  images: { type: 'string', default: '1000' },
  'whole-repeats': { type: 'string', default: '2' },
  'long-model': { type: 'string', default: 'mobilenet_v2' },
  'long-images': { type: 'string', default: '10000' },
  'no-long': { type: 'boolean', default: false },
  'no-session': { type: 'boolean', default: false },
  'no-whole': { type: 'boolean', default: false },
} as const;
function flags() {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (error) {
    console.error(`bench: ${(error as Error).message}`); // an unknown or malformed flag: one line, exit 2
    process.exit(2);
  }
}
const values = flags();
const models = values.models!.split(',');
const batches = values.batch!.split(',').map(Number);
const repeats = Number(values.repeats);
const threads = Number(values.threads);
const SIZE = 224;
/** The whole-process comparison runs at heatgate's default batch. */
const WHOLE_BATCH = 8;
for (const [flag, value] of [['--repeats', repeats], ['--threads', threads], ['--images', Number(values.images)], ['--whole-repeats', Number(values['whole-repeats'])], ['--long-images', Number(values['long-images'])]] as const) {
  if (!Number.isInteger(value) || value < (flag === '--threads' ? 0 : 1)) {
    console.error(`bench: ${flag} must be a ${flag === '--threads' ? 'non-negative' : 'positive'} integer`);
    process.exit(2);
  }
}

function ensureModels(): void {
  const wanted = values['no-whole'] || values['no-long'] ? models : [...new Set([...models, values['long-model']!])];
  const missing = wanted.filter((m) => !existsSync(path.join(values.fixtures!, m, 'model.onnx')));
  if (missing.length === 0) return;
  console.error(`bench: building ${missing.join(', ')} with scripts/reference/build.py`);
  const run = spawnSync('/usr/bin/python3', ['scripts/reference/build.py', '--out', values.fixtures!, '--models', missing.join(',')], { stdio: 'inherit' });
  if (run.status !== 0) throw new Error('scripts/reference/build.py failed: the benchmark models need Debian python3-torch, python3-torchvision, python3-onnx');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Median milliseconds per call after two warm-up calls. */
async function time(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  await fn();
  const ms: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

function images(batch: number): Float32Array[] {
  return Array.from({ length: batch }, (_, b) => Float32Array.from({ length: 3 * SIZE * SIZE }, (_, i) => Math.sin(i * 0.001 + b) * 1.5));
}

interface Row { model: string; batch: number; inference: number; gradcam: number; runOnly: number; torch?: number; torchInference?: number }

/** The in-session table (as before issue 10) and its Grad-CAM / inference ratios for the targets. */
async function inSession(): Promise<{ table: string; ratios: InSessionRatio[] }> {
  const rows: Row[] = [];
  for (const name of models) {
    const file = path.join(values.fixtures!, name, 'model.onnx');
    const plain = (await openSession(readFileSync(file), file, { threads })).session;
    const explainer = await Explainer.create(file, { method: 'gradcam', threads });
    for (const batch of batches) {
      const x = images(batch);
      const packed = new Float32Array(batch * 3 * SIZE * SIZE);
      x.forEach((img, i) => packed.set(img, i * img.length));
      const feeds = { [plain.inputNames[0]]: new ort.Tensor('float32', packed, [batch, 3, SIZE, SIZE]) };
      const targets = x.map(() => -1);
      // Interleave the two so drift in machine load hits both alike.
      const inference: number[] = [];
      const gradcam: number[] = [];
      for (let round = 0; round < 3; round++) {
        inference.push(await time(() => plain.run(feeds)));
        gradcam.push(await time(() => explainer.explain(x, targets)));
      }
      const runOnly = await time(() => explainer.explainRunOnly(x, targets));
      rows.push({ model: name, batch, inference: (1000 * batch) / median(inference), gradcam: (1000 * batch) / median(gradcam), runOnly: (1000 * batch) / runOnly });
      console.error(`bench: ${name} batch ${batch}: inference ${rows.at(-1)!.inference.toFixed(1)} img/s, heatgate Grad-CAM ${rows.at(-1)!.gradcam.toFixed(1)} img/s`);
    }
    await plain.release();
    await explainer.release();
  }
  const torchAvailable = !values['no-torch'] && spawnSync('/usr/bin/python3', ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;
  if (torchAvailable) {
    const run = spawnSync(
      '/usr/bin/python3',
      ['scripts/reference/torch_bench.py', '--models', models.join(','), '--batch', batches.join(','), '--threads', String(threads), '--repeats', String(repeats)],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    if (run.status !== 0) throw new Error(`torch_bench.py failed:\n${run.stderr}`);
    for (const line of run.stdout.split('\n').filter((l) => l.startsWith('{'))) {
      const r = JSON.parse(line) as { model: string; batch: number; mode: string; imagesPerSecond: number };
      const row = rows.find((x) => x.model === r.model && x.batch === r.batch);
      if (row && r.mode === 'gradcam') row.torch = r.imagesPerSecond;
      if (row && r.mode === 'inference') row.torchInference = r.imagesPerSecond;
    }
  }
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  const fmt = (v: number | undefined, d = 1) => (v === undefined ? 'n/a' : v.toFixed(d));
  const table = [
    `heatgate bench: ${os.cpus()[0]?.model ?? 'cpu'} x${os.availableParallelism()}, ${threads} threads, ${SIZE}x${SIZE}, median of ${repeats} (x3 interleaved), onnxruntime-node ${ort.env.versions?.common ?? ''}`,
    '',
    '| model | batch | ORT inference img/s | heatgate Grad-CAM img/s | Grad-CAM / inference | torch Grad-CAM img/s | heatgate / torch | torch inference img/s |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.model} | ${r.batch} | ${fmt(r.inference)} | ${fmt(r.gradcam)} | ${fmt(r.gradcam / r.inference, 2)} | ${fmt(r.torch)} | ${r.torch ? fmt(r.gradcam / r.torch, 2) : 'n/a'} | ${fmt(r.torchInference)} |`),
    '',
    `Peak RSS of this process (all models loaded in turn): ${peakMiB.toFixed(0)} MiB.`,
    `Grad-CAM without the CAM arithmetic (session run only) for reference: ${rows.map((r) => `${r.model}/b${r.batch} ${fmt(r.runOnly)}`).join(', ')} img/s.`,
  ].join('\n');
  console.log(table);
  return { table, ratios: rows.map((r) => ({ model: r.model, batch: r.batch, ratio: r.gradcam / r.inference })) };
}

async function main(): Promise<void> {
  const started = performance.now();
  ensureModels();
  const session = values['no-session'] ? { table: '', ratios: [] } : await inSession();
  let whole: WholeResult | undefined;
  let wholeText = '';
  if (!values['no-whole']) {
    const images = Number(values.images);
    const longImages = Number(values['long-images']);
    whole = await runWholeBench({
      models,
      fixtures: values.fixtures!,
      images,
      repeats: Number(values['whole-repeats']),
      threads,
      batch: WHOLE_BATCH,
      long: values['no-long'] ? null : { model: values['long-model']!, images: longImages },
    });
    const input = { ...whole, inSession: session.ratios };
    wholeText = [
      `Whole processes: ${images} camera frames (640x480 JPEG), batch ${WHOLE_BATCH}, ${threads} threads, median of ${values['whole-repeats']} interleaved repeats ` +
        `(plain, explain, run); explain with default outputs (overlays); run with the default policy, invalid masks and labels ` +
        `(${whole.runExtraPasses} extra forward pass${whole.runExtraPasses === 1 ? "" : "es"} per image); peak RSS from /usr/bin/time; RSS@10k from one explain over ${longImages} images on ${values['long-model']}.`,
      '',
      renderWholeTable(input, checkTargets(input)),
    ].join('\n');
    console.log(`\n${wholeText}`);
  }
  const minutes = (performance.now() - started) / 60_000;
  console.log(`\nbench: ${minutes.toFixed(1)} min in all`);
  mkdirSync('test-output', { recursive: true });
  writeFileSync('test-output/bench.md', `${[session.table, wholeText].filter(Boolean).join('\n\n')}\n`);
}

await main();

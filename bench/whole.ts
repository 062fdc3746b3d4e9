/**
 * The whole-process half of `npm run bench` (issue 10): times `heatgate explain` (default outputs) and `heatgate run`
 * (default policy) as whole processes against plain inference (bench/plain-inference.mjs) over the same images,
 * interleaved (plain, explain, run, plain, ...) on each model. Each process is measured from outside (spawn to exit,
 * /usr/bin/time's maximum RSS) and from its $HEATGATE_TIMINGS line (first result, input wait, RSS at 1k/10k images).
 * bench/whole-report.ts holds the medians, targets and table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { parse as parseYaml } from 'yaml';
import { parseTimings, summarise, type ProcessKind, type ProcessRun, type ProcessSummary } from './whole-report.ts';

export interface WholeOptions {
  models: string[];
  fixtures: string;
  images: number;
  repeats: number;
  threads: number;
  batch: number;
  /** The long run for RSS at 10,000 images: model and image count; null skips it. */
  long: { model: string; images: number } | null;
}

export interface WholeResult {
  whole: ProcessSummary[];
  long?: ProcessSummary;
  runExtraPasses: number;
}

const DEMO = 'examples/underpass';
const POLICY = 'src/gate/default-policy.yaml';
const CACHE = 'test-output/bench-images';
/** Camera-sized frames: the demo's 128x96 frames upscaled, so decoding costs what a real frame costs. */
const FRAME = { width: 640, height: 480 };
const HEATGATE = 'bin/heatgate.js';
const TIME = '/usr/bin/time';
/** Every measured process as one JSON line, written as it finishes: the raw numbers behind the table. */
export const RUNS_LOG = 'test-output/bench-runs.jsonl';

/** Metrics whose computation adds forward passes per image to Grad-CAM's one (analysis/analyser.ts: one occluded forward). */
const EXTRA_FORWARDS: Readonly<Record<string, string>> = { occlusionFlip: 'occlusion', occlusionDrop: 'occlusion' };

/** The forward passes per image the default policy's rules add (occlusion rules share one occluded forward). */
export function extraForwardPasses(policyYaml: string): number {
  const policy = parseYaml(policyYaml) as { rules?: { metric?: string }[] };
  const passes = new Set((policy.rules ?? []).map((r) => EXTRA_FORWARDS[r.metric ?? '']).filter(Boolean));
  return passes.size;
}

/** Rebuilds dist/ when a file under src/ is newer than the compiled CLI (the benchmark times the built CLI). */
export function ensureBuilt(): void {
  const built = path.join('dist', 'cli', 'main.js');
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs)));
  if (existsSync(built) && statSync(built).mtimeMs >= newest('src')) return;
  console.error('bench: dist/ is missing or older than src/: npm run build');
  const run = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  if (run.status !== 0) throw new Error('npm run build failed');
}

interface ImageSet {
  images: string;
  invalid: string;
  labels: string;
  count: number;
}

/**
 * `count` camera frames under test-output/bench-images/<count>/: the demo's frames upscaled to 640x480 JPEG and
 * hard-linked (copied where links fail) to `count` names, with their invalid-pixel masks under the same names and a
 * labels CSV. Built once and reused.
 */
export async function prepareImages(count: number): Promise<ImageSet> {
  const root = path.join(CACHE, String(count));
  const set = { images: path.join(root, 'images'), invalid: path.join(root, 'invalid'), labels: path.join(root, 'labels.csv'), count };
  const ready = path.join(root, 'ready');
  if (existsSync(ready)) return set;
  const frames = path.join(CACHE, 'frames');
  const names = readdirSync(path.join(DEMO, 'images')).filter((n) => n.endsWith('.png')).sort();
  if (!existsSync(path.join(frames, 'ready'))) {
    mkdirSync(frames, { recursive: true });
    for (const name of names) {
      const stem = name.replace(/\.png$/, '');
      await sharp(path.join(DEMO, 'images', name)).resize(FRAME.width, FRAME.height, { kernel: 'lanczos3' }).jpeg({ quality: 90 }).toFile(path.join(frames, `${stem}.jpg`));
      await sharp(path.join(DEMO, 'invalid', name)).resize(FRAME.width, FRAME.height, { kernel: 'nearest' }).png().toFile(path.join(frames, `${stem}.mask.png`));
    }
    writeFileSync(path.join(frames, 'ready'), '');
  }
  rmSync(root, { recursive: true, force: true });
  mkdirSync(set.images, { recursive: true });
  mkdirSync(set.invalid, { recursive: true });
  const place = (from: string, to: string) => {
    try {
      linkSync(from, to);
    } catch {
      copyFileSync(from, to);
    }
  };
  const rows = ['image,label'];
  for (let i = 0; i < count; i++) {
    const stem = names[i % names.length].replace(/\.png$/, '');
    const name = `img_${String(i).padStart(5, '0')}`;
    place(path.join(frames, `${stem}.jpg`), path.join(set.images, `${name}.jpg`));
    place(path.join(frames, `${stem}.mask.png`), path.join(set.invalid, `${name}.png`));
    // The reference models have random weights: any class will do, the accuracy rule only needs labels to count.
    rows.push(`${name}.jpg,0`);
  }
  writeFileSync(set.labels, `${rows.join('\n')}\n`);
  writeFileSync(ready, '');
  return set;
}

/** The process being measured: an interrupted benchmark stops it rather than leave it running. */
let measured: ReturnType<typeof spawn> | null = null;
/** The scratch folder of outputs (overlays of 10,000 images are gigabytes): removed on interruption too. */
let scratch: string | null = null;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    // Its own process group (detached), so /usr/bin/time's child goes too.
    if (measured?.pid) process.kill(-measured.pid, 'SIGTERM');
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

/** Runs one whole process and measures it; heatgate's exit 1 (gate failed) is a finished run. */
async function timeProcess(kind: ProcessKind, model: string, args: string[], work: string): Promise<ProcessRun> {
  const timingsFile = path.join(work, 'timings.jsonl');
  const rssFile = path.join(work, 'maxrss');
  const outside = existsSync(TIME);
  const [command, argv] = outside ? [TIME, ['-f', '%M', '-o', rssFile, process.execPath, ...args]] : [process.execPath, args];
  const spawnEpochMs = Date.now();
  const started = performance.now();
  const child = spawn(command, argv, { env: { ...process.env, HEATGATE_TIMINGS: timingsFile }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  measured = child;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const wallMs = performance.now() - started;
  measured = null;
  const ok = code === 0 || (kind === 'run' && code === 1);
  if (!ok) throw new Error(`${kind} on ${model} exited ${code}:\n${stderr}`);
  return {
    kind,
    model,
    spawnEpochMs,
    wallMs,
    outsidePeakRssBytes: outside ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1)) * 1024 : null,
    timings: parseTimings(readFileSync(timingsFile, 'utf8'), timingsFile),
  };
}

function argsFor(kind: ProcessKind, modelFile: string, set: ImageSet, out: string, options: WholeOptions): string[] {
  const common = ['--model', modelFile, '--images', set.images, '--out', out, '--batch', String(options.batch), '--threads', String(options.threads)];
  if (kind === 'plain') return ['bench/plain-inference.mjs', ...common];
  if (kind === 'explain') return [HEATGATE, 'explain', ...common, '--quiet'];
  return [HEATGATE, 'run', ...common, '--invalid-masks', set.invalid, '--labels', set.labels, '--quiet'];
}

export async function runWholeBench(options: WholeOptions): Promise<WholeResult> {
  ensureBuilt();
  const runExtraPasses = extraForwardPasses(readFileSync(POLICY, 'utf8'));
  const set = await prepareImages(options.images);
  const work = mkdtempSync(path.join(os.tmpdir(), 'heatgate-bench-'));
  scratch = work;
  writeFileSync(RUNS_LOG, '');
  let serial = 0;
  const once = async (kind: ProcessKind, model: string, images: ImageSet): Promise<ProcessRun> => {
    const dir = path.join(work, String(serial++));
    mkdirSync(dir);
    try {
      const run = await timeProcess(kind, model, argsFor(kind, path.join(options.fixtures, model, 'model.onnx'), images, path.join(dir, 'out'), options), dir);
      appendFileSync(RUNS_LOG, `${JSON.stringify({ ...run, images: images.count })}\n`);
      return run;
    } finally {
      rmSync(dir, { recursive: true, force: true }); // overlays of 10,000 images add up
    }
  };
  try {
    const whole: ProcessSummary[] = [];
    for (const model of options.models) {
      const runs: ProcessRun[] = [];
      for (let r = 0; r < options.repeats; r++) {
        for (const kind of ['plain', 'explain', 'run'] as const) {
          const run = await once(kind, model, set);
          runs.push(run);
          const t = run.timings[0];
          console.error(
            `bench: ${model} ${kind} ${r + 1}/${options.repeats}: ${((1000 * t.images) / run.wallMs).toFixed(1)} img/s, ` +
              `wall ${(run.wallMs / 1000).toFixed(1)} s, input wait ${t.inputWaitMs.toFixed(0)} ms`,
          );
        }
      }
      for (const kind of ['plain', 'explain', 'run'] as const) whole.push(summarise(runs.filter((x) => x.kind === kind)));
    }
    let long: ProcessSummary | undefined;
    if (options.long) {
      const longSet = await prepareImages(options.long.images);
      const run = await once('explain', options.long.model, longSet);
      console.error(`bench: ${options.long.model} explain over ${options.long.images} images: wall ${(run.wallMs / 1000).toFixed(1)} s`);
      long = summarise([run]);
    }
    return { whole, ...(long && { long }), runExtraPasses };
  } finally {
    rmSync(work, { recursive: true, force: true });
    scratch = null;
  }
}

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Analyser, BatchItem } from '../analysis/types.ts';
import { Explainer } from '../cam/explainer.ts';
import { ConfigError, InfrastructureError, InputError } from '../errors.ts';
import {
  encodeNpy,
  normalizationPreset,
  prepareImage,
  renderOverlay,
  type Normalization,
  type PreparedImage,
  type PreprocessOptions,
  type ResizeMode,
} from '../imaging/index.ts';
import type { ExecutionProvider } from '../onnx/session.ts';
import type { InputNotice } from '../notices.ts';
import { checkInputs, type CheckedInputs } from './inputs.ts';
import { labelsFromCoco, loadClassNames, readLabelRows, resolveLabels } from './labels.ts';
import { createProgress } from './progress.ts';
import { log } from '../log.ts';
import { errorText } from '../redact.ts';
import { writeFileAtomic } from '../storage/atomic.ts';
import { prepareOutDir } from '../storage/out-dir.ts';
import {
  assertSameRun,
  fileFingerprint,
  folderFingerprint,
  heatgateVersion,
  listFingerprint,
  MANIFEST_FILE,
  MANIFEST_VERSION,
  readManifest,
  sha256File,
  writeManifest,
  type RunContext,
  type RunManifest,
} from './run-manifest.ts';
import { ResultsSink, type ResultRecord } from './sink.ts';
import type { TokenOptions } from '../onnx/tokens.ts';

/** Which class each image is explained for. */
export type TargetSpec = { kind: 'predicted' } | { kind: 'class'; index: number } | { kind: 'labels' };

export interface ExplainRunOptions {
  model: string;
  images: string;
  out: string;
  layers?: string[];
  /** Transformer token layers: `--tokens-grid`, `--skip-tokens` (default: inferred from the graph). */
  tokens?: TokenOptions;
  method?: string;
  target?: TargetSpec;
  /** `image,label` CSV; with target kind 'labels' the label is the explained class. */
  labels?: string;
  /** Labels from COCO annotations when no --labels CSV is given (see labelsFromCoco). */
  cocoLabels?: { file: string; emptyClass?: string };
  classes?: string;
  batch?: number;
  saveRaw?: boolean;
  overlays?: boolean;
  resize?: ResizeMode;
  normalize?: 'imagenet' | 'unit' | 'raw';
  mean?: [number, number, number];
  std?: [number, number, number];
  provider?: ExecutionProvider;
  /** CUDA device ordinal. */
  deviceId?: number;
  threads?: number;
  resume?: boolean;
  quiet?: boolean;
  /** Sorted image list split: this run takes items i, i+n, i+2n, ... */
  shard?: { index: number; count: number };
  analyser?: Analyser;
  /** What the calling command adds to run-manifest.json (`run`: policy, masks, baseline); default: explain. */
  context?: RunContext;
  /** Refuse images above this many pixels (sharp's limitInputPixels); default sharp's 268402689. */
  maxPixels?: number;
  /** The inputs, already checked (runGate checks them once for the model and its baseline); else checked here. */
  inputs?: CheckedInputs;
  /** Called once the model's classes are known, before any image is read (runGate checks the policy's classes). */
  onModel?: (model: { classes: number; classNames?: string[] }) => void;
}

export type { Analyser, BatchItem };

export interface ExplainSummary {
  images: number;
  processed: number;
  resumed: number;
  errors: { image: string; error: string }[];
  seconds: number;
  modelSha256: string;
  /** sha256 over the sorted (image path, content sha256) list of the images in results.jsonl, resumed ones included. */
  dataSha256: string;
  /** `provider` runs the model; `providerReason` says why (auto's choice, or "requested"). */
  explainer: { method: string; layers: string[]; provider: string; providerReason: string; input: string };
  /** What was left out of the inputs, and why (skipped files, unmatched or repeated label rows). */
  notices: InputNotice[];
}

/**
 * The streaming core of `explain` and `run`: list → decode (next batch while this one runs) → one ORT run per batch
 * → CAM → analysis → heatmaps, overlays, then the results line. Memory stays flat in the number of images.
 * `--out` holds run-manifest.json: `--resume` continues only the run it describes.
 */
export async function explainImages(options: ExplainRunOptions): Promise<ExplainSummary> {
  const started = performance.now();
  const batchSize = options.batch ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`--batch must be a positive integer, got ${batchSize}`);
  const inputs =
    options.inputs ??
    (await checkInputs({ model: options.model, images: options.images, labels: options.labels, classes: options.classes, coco: options.cocoLabels?.file }));
  const explainer = await Explainer.create(options.model, {
    layers: options.layers,
    tokens: options.tokens,
    method: options.method,
    provider: options.provider,
    deviceId: options.deviceId,
    threads: options.threads,
  });
  // auto's choice is worth a line in the pipeline log; an explicit --provider is what was asked for.
  if (options.provider === 'auto') log.info(`provider: ${explainer.provider} (${explainer.providerReason})`, {
    event: 'provider',
    model: options.model,
    provider: explainer.provider,
    reason: explainer.providerReason,
  });
  try {
    const modelSha256 = await sha256File(options.model);
    const model = explainer.model;
    const classNames = await loadClassNames(options.classes, model.metadata.classes, model.classes);
    options.onModel?.({ classes: model.classes, ...(classNames && { classNames }) });
    const labels = options.labels
      ? resolveLabels(inputs.labels ?? (await readLabelRows(options.labels)), classNames, model.classes)
      : options.cocoLabels && (classNames || options.cocoLabels.emptyClass !== undefined)
        ? await labelsFromCoco(options.cocoLabels.file, classNames, options.cocoLabels.emptyClass)
        : undefined;
    const target = options.target ?? { kind: 'predicted' };
    if (target.kind === 'labels' && !labels) throw new ConfigError('--target labels needs --labels <csv>');
    if (target.kind === 'class' && (target.index < 0 || target.index >= model.classes || !Number.isInteger(target.index))) {
      throw new ConfigError(`--target ${target.index} is not a class index of the model (0..${model.classes - 1})`);
    }
    const normalization = resolveNormalization(options, model.metadata.normalize);
    const shape = explainer.inputShape;
    const preprocess = {
      width: shape.width,
      height: shape.height,
      channels: shape.channels as 1 | 3,
      layout: shape.layout,
      resize: options.resize ?? 'resize',
      normalization,
      ...(options.maxPixels !== undefined && { maxPixels: options.maxPixels }),
    };
    let all = inputs.images;
    if (options.shard) all = all.filter((_, i) => i % options.shard!.count === options.shard!.index);
    if (all.length === 0) throw new InputError(`no images in shard ${options.shard?.index}/${options.shard?.count}`, options.images);

    await prepareOutDir(options.out); // after the inputs are known good: a bad model leaves no folder behind
    const manifest = await buildManifest(options, { modelSha256, explainer, target, preprocess, images: all });
    await claimOutDir(options.out, manifest, options.resume ?? false);
    const sink = await ResultsSink.open(options.out, options.resume ?? false);
    const todo = all.filter((img) => !sink.done.has(img));
    const errors: { image: string; error: string }[] = [];
    const dataHashes = new Map<string, string>();
    for (const record of sink.done.values()) noteRecord(record, errors, dataHashes);
    const progress = createProgress('heatgate', { quiet: options.quiet });
    progress.start(all.length, all.length - todo.length);
    const effectiveBatch = Math.min(batchSize, explainer.maxBatch);
    const batches: string[][] = [];
    for (let i = 0; i < todo.length; i += effectiveBatch) batches.push(todo.slice(i, i + effectiveBatch));
    const step: BatchStep = {
      explainer,
      images: options.images,
      target,
      labels,
      labelSource: options.labels ? '--labels' : '--coco',
      classNames,
      layerName: explainer.layers.map((l) => l.tensor).join(','),
    };
    try {
      await forEachPrefetched(
        batches,
        (names) => Promise.all(names.map((image) => readImage(image, options.images, preprocess))),
        async (ready) => {
          const { items, failed } = await explainBatch(ready, step);
          if (options.analyser) await options.analyser.analyse(items, explainer);
          await Promise.all(items.map((item) => writeImageOutputs(item, options)));
          const records = [...items.map((i) => i.record), ...failed];
          await sink.append(records);
          for (const record of records) noteRecord(record, errors, dataHashes);
          progress.advance(ready.length);
        },
      );
    } finally {
      progress.stop();
      await sink.close();
    }
    return {
      images: all.length,
      processed: all.length - errors.length,
      resumed: all.length - todo.length,
      errors,
      seconds: (performance.now() - started) / 1000,
      modelSha256,
      dataSha256: createHash('sha256')
        .update([...dataHashes.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}\t${v}\n`).join(''))
        .digest('hex'),
      explainer: {
        method: explainer.method.name,
        layers: explainer.layers.map((l) => l.tensor),
        provider: explainer.provider,
        providerReason: explainer.providerReason,
        input: `${shape.layout} ${shape.channels}x${shape.height}x${shape.width}`,
      },
      notices: inputs.notices,
    };
  } finally {
    await explainer.release();
  }
}

/** Counts a record of results.jsonl (new or resumed) into the run's errors and data fingerprint. */
function noteRecord(record: ResultRecord, errors: { image: string; error: string }[], dataHashes: Map<string, string>): void {
  if (typeof record.error === 'string') errors.push({ image: record.image, error: record.error });
  if (typeof record.imageSha256 === 'string') dataHashes.set(record.image, record.imageSha256);
}

/**
 * Runs `consume` on each batch in order while the next batch is read. A read that fails while `consume` is running
 * (or throwing) is never an unhandled rejection: it is observed at once and rethrown when its turn comes.
 */
export async function forEachPrefetched<B, R>(batches: readonly B[], read: (batch: B) => Promise<R>, consume: (ready: R) => Promise<void>): Promise<void> {
  let next = batches.length > 0 ? read(batches[0]) : undefined;
  for (let b = 0; b < batches.length; b++) {
    const ready = await next!;
    next = b + 1 < batches.length ? read(batches[b + 1]) : undefined; // decode ahead while ORT runs
    next?.catch(() => {});
    await consume(ready);
  }
}

type ReadImage = { image: string; sha256?: string } & ({ prepared: PreparedImage } | { error: string });

/** errno codes of one image file that make an error record for that image (the run goes on). */
const IMAGE_FILE_PROBLEMS = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);

/** Reads and preprocesses one image; a problem with this file (unreadable, not an image) is returned, not thrown. */
async function readImage(image: string, root: string, preprocess: PreprocessOptions): Promise<ReadImage> {
  const file = path.join(root, image);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code && IMAGE_FILE_PROBLEMS.has(code)) return { image, error: `${file}: cannot read image (${code})` };
    throw new InfrastructureError(`cannot read image (${code ?? (error as Error).message})`, file);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  try {
    return { image, sha256, prepared: await prepareImage(bytes, preprocess, file) };
  } catch (error) {
    if (error instanceof InputError) return { image, sha256, error: errorText(error) };
    throw error;
  }
}

interface BatchStep {
  explainer: Explainer;
  images: string;
  target: TargetSpec;
  labels: Map<string, number> | undefined;
  labelSource: string;
  classNames: string[] | undefined;
  layerName: string;
}

/** One ORT run for the images of a batch that can be explained; the others become error records. */
async function explainBatch(ready: readonly ReadImage[], step: BatchStep): Promise<{ items: BatchItem<ResultRecord>[]; failed: ResultRecord[] }> {
  const { explainer, target, labels, classNames } = step;
  const failed: ResultRecord[] = [];
  const fail = (r: ReadImage, error: string) => failed.push({ image: r.image, error, ...(r.sha256 && { imageSha256: r.sha256 }) });
  const ok: { image: string; sha256?: string; prepared: PreparedImage; target: number }[] = [];
  for (const r of ready) {
    if ('error' in r) {
      fail(r, r.error);
    } else if (target.kind === 'labels' && labels!.get(r.image) === undefined) {
      fail(r, `${path.join(step.images, r.image)}: no label for this image in ${step.labelSource}`);
    } else {
      ok.push({ ...r, target: target.kind === 'class' ? target.index : target.kind === 'labels' ? labels!.get(r.image)! : -1 });
    }
  }
  const explanations = await explainer.explain(
    ok.map((r) => r.prepared.tensor),
    ok.map((r) => r.target),
  );
  const items: BatchItem<ResultRecord>[] = [];
  ok.forEach(({ image, sha256, prepared }, i) => {
    const e = explanations[i];
    if (e.problem) {
      fail({ image, sha256, prepared }, `${path.join(step.images, image)}: ${e.problem}`);
      return;
    }
    const label = labels?.get(image);
    items.push({
      image,
      prepared,
      explanation: e,
      record: {
        image,
        predicted: e.predicted,
        confidence: round(e.confidence),
        target: e.target,
        label: label ?? null,
        ...(classNames ? { className: classNames[e.predicted], targetClassName: classNames[e.target] } : {}),
        method: explainer.method.name,
        layer: step.layerName,
        ...(sha256 && { imageSha256: sha256 }),
      },
    });
  });
  return { items, failed };
}

/** Everything that decides this run's results, for run-manifest.json. */
async function buildManifest(
  options: ExplainRunOptions,
  run: { modelSha256: string; explainer: Explainer; target: TargetSpec; preprocess: PreprocessOptions; images: string[] },
): Promise<RunManifest> {
  const context = options.context ?? { command: 'explain' };
  const { preprocess, target } = run;
  return {
    manifestVersion: MANIFEST_VERSION,
    heatgate: { version: heatgateVersion() },
    command: context.command,
    createdAt: new Date().toISOString(),
    model: { file: options.model, sha256: run.modelSha256 },
    baselineModel: await fileFingerprint(context.baselineModel),
    data: {
      ...(await listFingerprint(options.images, run.images)),
      shard: options.shard ? `${options.shard.index}/${options.shard.count}` : null,
    },
    method: run.explainer.method.name,
    layers: run.explainer.layers.map((l) => l.tensor),
    target: target.kind === 'class' ? `class ${target.index}` : target.kind,
    preprocessing: {
      resize: preprocess.resize,
      normalize: options.normalize ?? 'default',
      scale: preprocess.normalization.scale,
      mean: [...preprocess.normalization.mean],
      std: [...preprocess.normalization.std],
      inputSize: [preprocess.height, preprocess.width],
      channels: preprocess.channels,
      layout: preprocess.layout,
    },
    inputs: {
      labels: await fileFingerprint(options.labels),
      classes: await fileFingerprint(options.classes),
      coco: await fileFingerprint(context.coco ?? options.cocoLabels?.file),
      invalidMasks: await folderFingerprint(context.invalidMasks),
      roiMasks: await folderFingerprint(context.roiMasks),
    },
    policy: context.policy ?? null,
  };
}

/**
 * Makes --out this run's folder. With --resume: the manifest there must describe the same run (else exit 2 naming the
 * fields); results without a manifest (an older heatgate's run) are exit 2 too; an empty folder starts fresh. Without
 * --resume an earlier run is replaced, and stderr says so.
 */
async function claimOutDir(out: string, manifest: RunManifest, resume: boolean): Promise<void> {
  const old = await readManifest(out);
  const hasResults = await stat(path.join(out, 'results.jsonl')).then((s) => s.size > 0, () => false);
  if (resume && old) {
    assertSameRun(old, manifest, out);
    return;
  }
  if (resume && hasResults) {
    throw new ConfigError(
      `--resume: results.jsonl is here but no ${MANIFEST_FILE} (a run by an older heatgate, or not a heatgate run), so heatgate cannot tell ` +
        'whether it is the same run; start it over without --resume',
      out,
    );
  }
  if (!resume && (old || hasResults)) {
    process.stderr.write(
      `heatgate: note: ${out} holds an earlier run${old ? ` (model ${old.model.sha256.slice(0, 12)}…, ${old.createdAt})` : ''}; ` +
        'starting over replaces its results (use --resume to continue it instead)\n',
    );
  }
  await writeManifest(out, manifest);
}

async function writeImageOutputs(item: BatchItem<ResultRecord>, options: ExplainRunOptions): Promise<void> {
  const { explanation: e, prepared, image } = item;
  const writes: Promise<void>[] = [];
  if (options.saveRaw) {
    const rel = `heatmaps/${image}.npy`;
    item.record.heatmap = rel;
    writes.push(writeFileAtomic(path.join(options.out, rel), encodeNpy(e.cam, [e.camHeight, e.camWidth]), { durable: false }));
  }
  if (options.overlays ?? true) {
    const rel = `overlays/${image}.png`;
    item.record.overlay = rel;
    writes.push(
      renderOverlay({
        rgb: prepared.rgb,
        width: prepared.width,
        height: prepared.height,
        heatmap: e.cam,
        heatmapHeight: e.camHeight,
        heatmapWidth: e.camWidth,
        geometry: prepared.geometry,
        outlines: item.outlines,
      }).then((png) => writeFileAtomic(path.join(options.out, rel), png, { durable: false })),
    );
  }
  await Promise.all(writes);
}

function resolveNormalization(options: ExplainRunOptions, fromModel: string | undefined): Normalization {
  if ((options.mean && !options.std) || (!options.mean && options.std)) throw new ConfigError('--mean and --std go together');
  const preset = options.normalize ?? (fromModel as ExplainRunOptions['normalize']) ?? 'imagenet';
  if (!['imagenet', 'unit', 'raw'].includes(preset)) {
    throw new ConfigError(`unknown normalisation "${preset}" (from ${options.normalize ? '--normalize' : 'the model metadata heatgate.normalize'}); expected imagenet, unit or raw`);
  }
  const base = normalizationPreset(preset);
  if (options.mean && options.std) {
    if (options.std.some((s) => s <= 0)) throw new ConfigError(`--std values must be > 0, got ${options.std.join(',')}`);
    return { ...base, mean: options.mean, std: options.std };
  }
  return base;
}


const round = (v: number) => Math.round(v * 1e6) / 1e6;

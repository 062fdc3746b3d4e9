import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Explainer, type Explanation } from '../cam/explainer.ts';
import { ConfigError, HeatgateError, InputError } from '../errors.ts';
import {
  encodeNpy,
  listImages,
  normalizationPreset,
  prepareImage,
  renderOverlay,
  type Normalization,
  type PreparedImage,
  type ResizeMode,
} from '../imaging/index.ts';
import type { ExecutionProvider } from '../onnx/session.ts';
import { labelsFromCoco, loadClassNames, loadLabels } from './labels.ts';
import { createProgress } from './progress.ts';
import { log } from '../log.ts';
import { errorText } from '../redact.ts';
import { writeFileAtomic } from '../storage/atomic.ts';
import { ResultsSink, type ResultRecord } from './sink.ts';

/** Which class each image is explained for. */
export type TargetSpec = { kind: 'predicted' } | { kind: 'class'; index: number } | { kind: 'labels' };

export interface ExplainRunOptions {
  model: string;
  images: string;
  out: string;
  layers?: string[];
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
}

/** One image of a batch, as the analysis stage sees it. */
export interface BatchItem {
  image: string;
  prepared: PreparedImage;
  explanation: Explanation;
  record: ResultRecord;
  /** 0/1 masks in the model-input frame to outline on the overlay. */
  outlines?: { mask: Uint8Array; color: [number, number, number] }[];
}

/** The analysis stage of `heatgate run`: adds metrics to the records of a batch (may run extra forward passes). */
export interface Analyser {
  analyse(items: BatchItem[], explainer: Explainer): Promise<void>;
}

export interface ExplainSummary {
  images: number;
  processed: number;
  resumed: number;
  errors: { image: string; error: string }[];
  seconds: number;
  modelSha256: string;
  /** sha256 over the sorted (image path, content sha256) list of the images processed in this run. */
  dataSha256: string;
  /** `provider` runs the model; `providerReason` says why (auto's choice, or "requested"). */
  explainer: { method: string; layers: string[]; provider: string; providerReason: string; input: string };
}

/**
 * The streaming core of `explain` and `run`: list → decode (next batch while this one runs) → one ORT run per batch
 * → CAM → analysis → heatmaps, overlays, then the results line. Memory stays flat in the number of images.
 */
export async function explainImages(options: ExplainRunOptions): Promise<ExplainSummary> {
  const started = performance.now();
  const batchSize = options.batch ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`--batch must be a positive integer, got ${batchSize}`);
  const explainer = await Explainer.create(options.model, {
    layers: options.layers,
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
    const model = explainer.model;
    const classNames = await loadClassNames(options.classes, model.metadata.classes, model.classes);
    const labels = options.labels
      ? await loadLabels(options.labels, classNames, model.classes)
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
    };
    let all = await listImages(options.images);
    if (options.shard) all = all.filter((_, i) => i % options.shard!.count === options.shard!.index);
    if (all.length === 0) throw new InputError('no images found (.jpg .jpeg .png .webp .tif .tiff)', options.images);

    const sink = await ResultsSink.open(options.out, options.resume ?? false);
    const todo = all.filter((img) => !sink.done.has(img));
    const progress = createProgress('heatgate', { quiet: options.quiet });
    progress.start(all.length, all.length - todo.length);
    const errors: { image: string; error: string }[] = [];
    const dataHashes = new Map<string, string>();
    const effectiveBatch = Math.min(batchSize, explainer.maxBatch);
    const batches: string[][] = [];
    for (let i = 0; i < todo.length; i += effectiveBatch) batches.push(todo.slice(i, i + effectiveBatch));

    const prepareBatch = (names: string[]) =>
      Promise.all(
        names.map(async (image) => {
          const file = path.join(options.images, image);
          try {
            const bytes = await readFile(file);
            dataHashes.set(image, createHash('sha256').update(bytes).digest('hex'));
            return { image, prepared: await prepareImage(bytes, preprocess, file) };
          } catch (error) {
            if (!(error instanceof HeatgateError)) throw error;
            return { image, error: errorText(error) };
          }
        }),
      );
    const layerName = explainer.layers.map((l) => l.tensor).join(',');
    try {
      let next = batches.length > 0 ? prepareBatch(batches[0]) : undefined;
      for (let b = 0; b < batches.length; b++) {
        const ready = await next!;
        next = b + 1 < batches.length ? prepareBatch(batches[b + 1]) : undefined; // decode ahead while ORT runs
        const ok = ready.filter((r): r is { image: string; prepared: PreparedImage } => 'prepared' in r && r.prepared !== undefined);
        const failed: ResultRecord[] = [];
        for (const r of ready) {
          if ('error' in r && r.error) {
            failed.push({ image: r.image, error: r.error });
            errors.push({ image: r.image, error: r.error });
          }
        }
        const targets = ok.map(({ image }) => {
          if (target.kind === 'class') return target.index;
          if (target.kind === 'labels') return labels!.get(image) ?? -1;
          return -1;
        });
        const explanations = await explainer.explain(
          ok.map((r) => r.prepared.tensor),
          targets,
        );
        const items: BatchItem[] = ok.map(({ image, prepared }, i) => {
          const e = explanations[i];
          const label = labels?.get(image);
          return {
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
              layer: layerName,
            },
          };
        });
        if (options.analyser) await options.analyser.analyse(items, explainer);
        await Promise.all(items.map((item) => writeImageOutputs(item, options)));
        await sink.append([...items.map((i) => i.record), ...failed]);
        progress.advance(ready.length);
      }
    } finally {
      progress.stop();
      await sink.close();
    }
    return {
      images: all.length,
      processed: todo.length - errors.length,
      resumed: all.length - todo.length,
      errors,
      seconds: (performance.now() - started) / 1000,
      modelSha256: await sha256File(options.model),
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
    };
  } finally {
    await explainer.release();
  }
}

async function writeImageOutputs(item: BatchItem, options: ExplainRunOptions): Promise<void> {
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

export async function sha256File(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

const round = (v: number) => Math.round(v * 1e6) / 1e6;

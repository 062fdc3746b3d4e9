import { createHash } from 'node:crypto';
import type { CocoIndex } from '../analysis/coco.ts';
import type { Analyser, BatchItem, PreparedAnalysis } from '../analysis/types.ts';
import { Explainer, type Explanation } from '../cam/explainer.ts';
import { ConfigError, InfrastructureError, InputError } from '../errors.ts';
import {
  normalizationPreset,
  prepareImage,
  type Normalization,
  type PreparedImage,
  type PreprocessOptions,
  type ResizeMode,
} from '../imaging/index.ts';
import { NORMALIZATION_PRESETS, PRESET_CHANNEL_ORDER, type ChannelOrder, type NormalizationPreset } from '../imaging/normalize.ts';
import type { ExecutionProvider } from '../onnx/session.ts';
import type { InputNotice } from '../notices.ts';
import { checkInputs, type CheckedInputs } from './inputs.ts';
import { labelsFromCoco, loadClassNames, readLabelRows, resolveLabels } from './labels.ts';
import { createProgress } from './progress.ts';
import { log } from '../log.ts';
import { errorText } from '../redact.ts';
import { storageProblem } from '../storage/errors.ts';
import { fetchAhead } from '../storage/fetch-ahead.ts';
import { joinLocation, joinUri, parseLocation, type Location } from '../storage/location.ts';
import { RESULTS_FILE, RESULTS_PARTS } from '../storage/output.ts';
import { defaultStorage, type Storage } from '../storage/storage.ts';
import {
  assertSameRun,
  fileFingerprint,
  folderFingerprint,
  heatgateVersion,
  listFingerprint,
  MANIFEST_FILE,
  MANIFEST_VERSION,
  readManifest,
  writeManifest,
  type RunContext,
  type RunManifest,
} from './run-manifest.ts';
import type { Policy } from '../gate/policy.ts';
import { DEFAULT_GALLERY_SIZE, GalleryCandidates, GalleryRenderer, ImageOutputWriter, overlayMode, sampleImages, type OverlayMode } from './image-outputs.ts';
import { ResultsSink, type ResultRecord } from './sink.ts';
import { RunTimings } from './timings.ts';
import { SpareArrays } from '../spare-arrays.ts';
import type { TokenOptions } from '../onnx/tokens.ts';

/** Which class each image is explained for. */
export type TargetSpec = { kind: 'predicted' } | { kind: 'class'; index: number } | { kind: 'labels' };

export interface ExplainRunOptions {
  /** Locations: a local path, file:// or s3://bucket/key (the model, the image folder or prefix, the output). */
  model: string;
  images: string;
  out: string;
  /** Reads every input and writes every output; default: defaultStorage() (S3 settings from the AWS environment). */
  storage?: Storage;
  layers?: string[];
  /** Transformer token layers: `--tokens-grid`, `--skip-tokens` (default: inferred from the graph). */
  tokens?: TokenOptions;
  method?: string;
  target?: TargetSpec;
  /** `image,label` CSV; with target kind 'labels' the label is the explained class. */
  labels?: string;
  /** Labels from COCO annotations when no --labels CSV is given (see labelsFromCoco). */
  /** `index`: the file already being parsed (runGate shares one parse between the model and its baseline). */
  cocoLabels?: { file: string; emptyClass?: string; index?: Promise<CocoIndex> };
  classes?: string;
  batch?: number;
  saveRaw?: boolean;
  /** `--overlays`: worst (default), all or none (image-outputs.ts); true and false are all and none. */
  overlays?: OverlayMode | boolean;
  /** Images in the gallery (`worst`): explain's sample, run's worst images. Default 12. */
  gallerySize?: number;
  /** `run --overlays worst`: the policy whose rules pick the gallery, so the candidates' raw maps are kept. */
  galleryPolicy?: Pick<Policy, 'rules' | 'baseline'>;
  resize?: ResizeMode;
  normalize?: NormalizationPreset;
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
  /** Issue 9 (model forms): the classifier output, the input size for symbolic H/W, the channel order. */
  output?: string;
  inputSize?: { height: number; width: number };
  channels?: ChannelOrder;
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
  /** `run --overlays worst`: renders the overlays of the images the gate picks, from the kept raw maps. */
  gallery?: GalleryRenderer;
}

/**
 * The streaming core of `explain` and `run`: list → decode (next batch while this one runs) → one ORT run per batch
 * → CAM → analysis → heatmaps, overlays, then the results line, the last three beside the next batch's ORT run.
 * Memory stays flat in the number of images.
 * `--out` holds run-manifest.json: `--resume` continues only the run it describes.
 */
export async function explainImages(options: ExplainRunOptions): Promise<ExplainSummary> {
  const started = performance.now();
  const batchSize = options.batch ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`--batch must be a positive integer, got ${batchSize}`);
  const mode = overlayMode(options.overlays);
  const gallerySize = options.gallerySize ?? DEFAULT_GALLERY_SIZE;
  if (!Number.isInteger(gallerySize) || gallerySize < 0) throw new ConfigError(`--gallery-size must be a non-negative integer, got ${gallerySize}`);
  const storage = options.storage ?? defaultStorage();
  const out = parseLocation(options.out, '--out');
  const inputs =
    options.inputs ??
    (await checkInputs(
      { model: options.model, images: options.images, labels: options.labels, classes: options.classes, coco: options.cocoLabels?.file },
      storage,
    ));
  const explainer = await Explainer.create(options.model, {
    storage,
    layers: options.layers,
    tokens: options.tokens,
    method: options.method,
    provider: options.provider,
    deviceId: options.deviceId,
    threads: options.threads,
    output: options.output,
    ...options.inputSize,
  });
  for (const note of explainer.model.notes) log.info(note, { event: 'model', model: options.model });
  // auto's choice is worth a line in the pipeline log; an explicit --provider is what was asked for.
  if (options.provider === 'auto') log.info(`provider: ${explainer.provider} (${explainer.providerReason})`, {
    event: 'provider',
    model: options.model,
    provider: explainer.provider,
    reason: explainer.providerReason,
  });
  try {
    const model = explainer.model;
    const modelSha256 = model.loaded.sha256; // the bytes the session was built from: no second read
    const classNames = await loadClassNames(options.classes, model.metadata.classes, model.classes, storage);
    options.onModel?.({ classes: model.classes, ...(classNames && { classNames }) });
    const labels = options.labels
      ? resolveLabels(inputs.labels ?? (await readLabelRows(options.labels, '--labels', storage)), classNames, model.classes)
      : options.cocoLabels && (classNames || options.cocoLabels.emptyClass !== undefined)
        ? await labelsFromCoco(options.cocoLabels.index ?? options.cocoLabels.file, classNames, options.cocoLabels.emptyClass, storage)
        : undefined;
    const target = options.target ?? { kind: 'predicted' };
    if (target.kind === 'labels' && !labels) throw new ConfigError('--target labels needs --labels <csv>');
    if (target.kind === 'class' && (target.index < 0 || target.index >= model.classes || !Number.isInteger(target.index))) {
      throw new ConfigError(`--target ${target.index} is not a class index of the model (0..${model.classes - 1})`);
    }
    const normalization = resolveNormalization(options, model.metadata);
    const shape = explainer.inputShape;
    const preprocess = {
      width: shape.width,
      height: shape.height,
      channels: shape.channels as 1 | 3,
      layout: shape.layout,
      resize: options.resize ?? 'resize',
      normalization,
      channelOrder: channelOrderFor(options, model.metadata),
      ...(model.sizeFromImages && { ownSize: { height: model.input.height, width: model.input.width } }),
      ...(options.maxPixels !== undefined && { maxPixels: options.maxPixels }),
    };
    let all = inputs.images;
    if (options.shard) all = all.filter((_, i) => i % options.shard!.count === options.shard!.index);
    if (all.length === 0) throw new InputError(`no images in shard ${options.shard?.index}/${options.shard?.count}`, options.images);

    // After the inputs are known good: a bad model leaves no folder behind. The manifest is the first write, so an
    // unusable --out fails here with one line.
    const manifest = await buildManifest(options, storage, { modelSha256, explainer, target, preprocess, images: all, imageSizes: inputs.imageSizes });
    await claimOutDir(storage, out, options.out, manifest, options.resume ?? false);
    const sink = await ResultsSink.open(storage, out, options.resume ?? false);
    const todo = all.filter((img) => !sink.done.has(img));
    const errors: { image: string; error: string }[] = [];
    const dataHashes = new Map<string, string>();
    for (const record of sink.done.values()) noteRecord(record, errors, dataHashes);
    const progress = createProgress('heatgate', { quiet: options.quiet });
    progress.start(all.length, all.length - todo.length);
    const effectiveBatch = Math.min(batchSize, explainer.maxBatch);
    const step: BatchStep = {
      explainer,
      maxInputs: effectiveBatch,
      images: options.images,
      target,
      labels,
      labelSource: options.labels ? '--labels' : '--coco',
      classNames,
      layerName: explainer.layers.map((l) => l.tensor).join(','),
    };
    // Images download and decode up to two batches ahead while the current batch runs, as many at once as a batch holds (up
    // to IMAGE_FETCH_CONCURRENCY); nothing is fetched all at once.
    // `worst`: explain renders a fixed sample while streaming; run keeps the candidates' raw maps for its gallery.
    const candidates = mode === 'worst' && options.galleryPolicy ? new GalleryCandidates(options.galleryPolicy, gallerySize) : undefined;
    const writer = new ImageOutputWriter(sink, {
      overlays: mode,
      saveRaw: options.saveRaw ?? false,
      ...(mode === 'worst' && !candidates && { sample: sampleImages(all, gallerySize) }),
      ...(candidates && { candidates }),
    });
    // The full-size pixels are decoded only for the images that get an overlay while streaming. The analysis of each
    // image (its regions, its occluded input) is prepared as it arrives, so the counterfactual can run in the batch's
    // own session call.
    const imagesRoot = parseLocation(options.images, '--images');
    const analyser = options.analyser;
    const analysisInput = { channels: shape.channels, layout: shape.layout };
    // Tensors of written batches are filled again by the next images (about the images in flight).
    const spareTensors = new SpareArrays(64);
    const tensorBuffer = (length: number) => spareTensors.take(length);
    const fetched = fetchAhead(todo, async (image) => {
      const read = await readImage(storage, image, imagesRoot, options.images, { ...preprocess, keepRgb: writer.wantsOverlay(image), tensorBuffer });
      if (!analyser?.prepare || !('prepared' in read)) return read;
      const analysis = analyser.prepare(image, read.prepared, analysisInput);
      analysis.catch(() => {}); // awaited by the batch, which reports its failure in order
      return { ...read, analysis };
    }, {
      concurrency: Math.min(effectiveBatch, IMAGE_FETCH_CONCURRENCY),
      maxAhead: 2 * effectiveBatch,
    });
    const timings = new RunTimings();
    // Batches overlap: while ONNX Runtime (native threads) runs batch n+1, batch n is analysed, its files written
    // and its results lines appended. At most MAX_BATCHES_AFTER_SESSION batches wait behind the session; lines are
    // appended in order, each after its own files, so resume semantics are those of the sequential loop.
    const after: Promise<void>[] = [];
    let appended: Promise<void> = Promise.resolve();
    const finishBatch = async (explained: { items: BatchItem<ResultRecord>[]; failed: ResultRecord[] }, count: number) => {
      const { items, failed } = explained;
      const t = performance.now();
      // This batch's lines go after the previous batch's, whichever finishes its analysis first: the chain is taken
      // now, in batch order. A failed batch fails the ones after it too, so no line is appended past a gap.
      const previous = appended;
      let settle!: { resolve: () => void; reject: (error: unknown) => void };
      appended = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      appended.catch(() => {}); // the failure surfaces through the batch's own promise
      let records: ResultRecord[];
      try {
        if (options.analyser) for (const [sized, group] of await bySize(explainer, items)) await options.analyser.analyse(group, sized);
        await writer.write(items);
        records = [...items.map((i) => i.record), ...failed];
        await previous;
        await sink.append(records);
        settle.resolve();
        // The batch is written: nothing reads its tensors again.
        for (const item of items) spareTensors.give(item.prepared.tensor);
      } catch (error) {
        settle.reject(error);
        throw error;
      }
      timings.afterSession(performance.now() - t);
      timings.resultsWritten(records.length);
      for (const record of records) noteRecord(record, errors, dataHashes);
      progress.advance(count);
    };
    try {
      try {
        for await (const ready of timings.measureWait(inBatches(fetched, effectiveBatch))) {
          const explained = await timings.session(() => explainBatch(ready, step));
          const batchDone = finishBatch(explained, ready.length);
          batchDone.catch(() => {}); // awaited below, in order
          after.push(batchDone);
          while (after.length > MAX_BATCHES_AFTER_SESSION) await timings.measureOutputWait(after.shift()!);
        }
        while (after.length > 0) await timings.measureOutputWait(after.shift()!);
      } catch (error) {
        // Let the batches already started settle before the sink closes; an earlier batch's failure is the one a
        // sequential run would have stopped at, so it is the one reported.
        for (const settled of await Promise.allSettled(after)) if (settled.status === 'rejected') throw settled.reason;
        throw error;
      }
      await sink.finish();
      timings.imageOutputs(writer.stats);
      timings.writeIfRequested();
    } finally {
      progress.stop();
      await sink.close();
    }
    const gallery =
      candidates &&
      new GalleryRenderer({ storage, out, candidates, read: (image) => readImage(storage, image, imagesRoot, options.images, { ...preprocess, keepRgb: true }), analyser: options.analyser });
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
      ...(gallery && { gallery }),
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

/** Batches analysed and written while the next one runs in the session; more makes the loop wait (flat memory). */
const MAX_BATCHES_AFTER_SESSION = 2;

/** At most this many images are fetched and decoded at once. */
const IMAGE_FETCH_CONCURRENCY = 16;

/** Groups `items` into arrays of `size` (the last may be shorter), pulling no more than one group ahead. */
async function* inBatches<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

type ReadImage = { image: string; sha256?: string } & ({ prepared: PreparedImage; analysis?: Promise<PreparedAnalysis> } | { error: string });

/** Local errno codes that the storage reports as an outage but that concern this one file (the run goes on). */
const IMAGE_FILE_PROBLEMS = new Set(['ELOOP', 'ENAMETOOLONG']);

/**
 * Reads and preprocesses one image; a problem with this file (missing, refused, not an image) is returned, not
 * thrown. Storage that does not answer (exit 4) is thrown.
 */
async function readImage(storage: Storage, image: string, root: Location, rootText: string, preprocess: PreprocessOptions): Promise<ReadImage> {
  const file = joinUri(rootText, image);
  let bytes: Buffer;
  try {
    bytes = await storage.read(joinLocation(root, image));
  } catch (error) {
    const problem = storageProblem(error);
    if (error instanceof InputError || IMAGE_FILE_PROBLEMS.has(problem)) return { image, error: `${file}: cannot read image (${problem})` };
    if (error instanceof InfrastructureError) throw new InfrastructureError(`cannot read image (${problem})`, file);
    throw error;
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
  /** Inputs per ONNX Runtime call: --batch (images and the occluded copies that run along with them). */
  maxInputs: number;
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
  const ok: { image: string; sha256?: string; prepared: PreparedImage; target: number; analysis?: Promise<PreparedAnalysis> }[] = [];
  for (const r of ready) {
    if ('error' in r) {
      fail(r, r.error);
    } else if (target.kind === 'labels' && labels!.get(r.image) === undefined) {
      fail(r, `${joinUri(step.images, r.image)}: no label for this image in ${step.labelSource}`);
    } else {
      ok.push({ ...r, target: target.kind === 'class' ? target.index : target.kind === 'labels' ? labels!.get(r.image)! : -1 });
    }
  }
  const analyses = await Promise.all(ok.map((r) => r.analysis));
  const explained = await explainBySize(explainer, ok.map((r, i) => ({ ...r, analysis: analyses[i] })), step.maxInputs);
  const items: BatchItem<ResultRecord>[] = [];
  ok.forEach(({ image, sha256, prepared }, i) => {
    const { explanation: e, analysis, occludedLogits } = explained[i];
    if (e.problem) {
      fail({ image, sha256, prepared }, `${joinUri(step.images, image)}: ${e.problem}`);
      return;
    }
    const label = labels?.get(image);
    items.push({
      image,
      prepared,
      explanation: e,
      ...(analysis && { analysis }),
      ...(occludedLogits && { occludedLogits }),
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

/**
 * Groups a batch by its images' model-input size (one group unless the model runs each image at its own size) with
 * the explainer for that size (Explainer.atSize), in first-seen order.
 */
async function bySize<T extends { prepared: PreparedImage }>(explainer: Explainer, items: readonly T[]): Promise<[Explainer, T[]][]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = `${item.prepared.geometry.dstHeight}x${item.prepared.geometry.dstWidth}`;
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  const out: [Explainer, T[]][] = [];
  for (const group of groups.values()) {
    const { dstHeight, dstWidth } = group[0].prepared.geometry;
    out.push([await explainer.atSize(dstHeight, dstWidth), group]);
  }
  return out;
}

/**
 * The ORT runs of a batch, in the batch's order: one per input size, with the occluded inputs the analysis prepared
 * after the images they belong to. A run holds at most `maxInputs` inputs (--batch, or less where the model takes less),
 * so the counterfactual splits a batch into runs of images + their occluded copies, and memory stays that of --batch
 * inputs; an occluded input that fits no run (a batch of one) is left to the analysis' own forward.
 */
async function explainBySize<T extends { prepared: PreparedImage; target: number; analysis?: PreparedAnalysis }>(
  explainer: Explainer,
  ok: readonly T[],
  maxInputs: number,
): Promise<{ explanation: Explanation; analysis?: PreparedAnalysis; occludedLogits?: Float32Array }[]> {
  const results = new Map<unknown, { explanation: Explanation; analysis?: PreparedAnalysis; occludedLogits?: Float32Array }>();
  for (const [sized, group] of await bySize(explainer, ok)) {
    const limit = Math.min(maxInputs, sized.maxBatch);
    // With room for two inputs per run, an image's occluded copy runs beside it.
    const copyOf = (r: T) => (limit >= 2 && r.analysis?.occlusion instanceof Float32Array ? r.analysis.occlusion : undefined);
    for (let start = 0; start < group.length; ) {
      const run: T[] = [];
      for (let inputs = 0; start < group.length; start++) {
        const needs = copyOf(group[start]) ? 2 : 1;
        if (run.length > 0 && inputs + needs > limit) break;
        run.push(group[start]);
        inputs += needs;
      }
      const withCopy = run.filter((r) => copyOf(r));
      const { explanations, extraLogits } = await sized.explainAlong(
        run.map((r) => r.prepared.tensor),
        run.map((r) => r.target),
        withCopy.map((r) => copyOf(r)!),
      );
      run.forEach((r, i) => results.set(r, { explanation: explanations[i], ...(r.analysis && { analysis: r.analysis }) }));
      withCopy.forEach((r, k) => (results.get(r)!.occludedLogits = extraLogits[k]));
    }
  }
  return ok.map((r) => results.get(r)!);
}

/** Everything that decides this run's results, for run-manifest.json. */
async function buildManifest(
  options: ExplainRunOptions,
  storage: Storage,
  run: {
    modelSha256: string;
    explainer: Explainer;
    target: TargetSpec;
    preprocess: PreprocessOptions;
    images: string[];
    imageSizes?: ReadonlyMap<string, number>;
  },
): Promise<RunManifest> {
  const context = options.context ?? { command: 'explain' };
  const { preprocess, target } = run;
  return {
    manifestVersion: MANIFEST_VERSION,
    heatgate: { version: heatgateVersion() },
    command: context.command,
    createdAt: new Date().toISOString(),
    model: { file: options.model, sha256: run.modelSha256 },
    baselineModel: await fileFingerprint(context.baselineModel, storage),
    data: {
      ...(await listFingerprint(options.images, run.images, storage, run.imageSizes)),
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
      channelOrder: preprocess.channelOrder ?? 'rgb',
      ...(preprocess.ownSize && { ownSize: true }),
      output: run.explainer.model.output.output,
      ...(options.tokens && (options.tokens.grid || options.tokens.skip !== undefined) && {
        tokens: {
          grid: options.tokens.grid ? [options.tokens.grid.height, options.tokens.grid.width] : null,
          skip: options.tokens.skip ?? null,
        },
      }),
    },
    inputs: {
      labels: await fileFingerprint(options.labels, storage),
      classes: await fileFingerprint(options.classes, storage),
      coco: await fileFingerprint(context.coco ?? options.cocoLabels?.file, storage),
      invalidMasks: await folderFingerprint(context.invalidMasks, storage),
      roiMasks: await folderFingerprint(context.roiMasks, storage),
    },
    policy: context.policy ?? null,
  };
}

/**
 * Makes --out this run's folder. With --resume: the manifest there must describe the same run (else exit 2 naming the
 * fields); results without a manifest (an older heatgate's run) are exit 2 too; an empty folder starts fresh. Without
 * --resume an earlier run is replaced, and stderr says so.
 */
async function claimOutDir(storage: Storage, outLoc: Location, out: string, manifest: RunManifest, resume: boolean): Promise<void> {
  const old = await readManifest(outLoc, storage);
  const present = async (rel: string) => (await storage.stat(joinLocation(outLoc, rel)).catch(() => undefined)) !== undefined;
  const hasResults =
    (await storage.stat(joinLocation(outLoc, RESULTS_FILE)).then((s) => (s?.size ?? 0) > 0, () => false)) || (await present(RESULTS_PARTS));
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
  await writeManifest(outLoc, manifest, storage);
}

/** The options that choose pixel preprocessing; `explain`/`run` and the sanity check read them the same way. */
export type PreprocessingOptions = Pick<ExplainRunOptions, 'model' | 'normalize' | 'mean' | 'std' | 'channels'>;

export function resolveNormalization(options: PreprocessingOptions, metadata: Record<string, string>): Normalization {
  if ((options.mean && !options.std) || (!options.mean && options.std)) throw new ConfigError('--mean and --std go together');
  const preset = options.normalize ?? (metadata.normalize as PreprocessingOptions['normalize']) ?? 'imagenet';
  const presets = Object.keys(NORMALIZATION_PRESETS);
  if (!presets.includes(preset)) {
    throw new ConfigError(`unknown normalisation "${preset}" (from ${options.normalize ? '--normalize' : 'the model metadata heatgate.normalize'}); expected ${presets.join(', ')}`);
  }
  const base = normalizationPreset(preset);
  if (options.mean && options.std) {
    if (options.std.some((s) => s <= 0)) throw new ConfigError(`--std values must be > 0, got ${options.std.join(',')}`);
    return { ...base, mean: options.mean, std: options.std };
  }
  // The model's own mean/std (heatgate.mean, heatgate.std: "r,g,b" on the preset's pixel scale) when no flag is given.
  if (!options.normalize && metadata.mean !== undefined && metadata.std !== undefined) {
    const triple = (key: 'mean' | 'std') => {
      const parts = metadata[key].split(',').map(Number);
      if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p)) || (key === 'std' && parts.some((p) => p <= 0))) {
        throw new InputError(`metadata heatgate.${key} must be three numbers r,g,b${key === 'std' ? ' > 0' : ''}, got "${metadata[key]}"`, options.model);
      }
      return parts as [number, number, number];
    };
    return { ...base, mean: triple('mean'), std: triple('std') };
  }
  return base;
}

/** --channels, else the model's heatgate.channels metadata, else the preset's (caffe: bgr), else rgb. */
export function channelOrderFor(options: PreprocessingOptions, metadata: Record<string, string>): ChannelOrder {
  if (options.channels) return options.channels;
  if (metadata.channels !== undefined) {
    const order = metadata.channels.toLowerCase();
    if (order !== 'rgb' && order !== 'bgr') throw new InputError(`metadata heatgate.channels must be rgb or bgr, got "${metadata.channels}"`, options.model);
    return order;
  }
  const preset = options.normalize ?? (metadata.normalize as NormalizationPreset | undefined);
  return (preset && PRESET_CHANNEL_ORDER[preset]) ?? 'rgb';
}

const round = (v: number) => Math.round(v * 1e6) / 1e6;

import { BugError, ConfigError, InfrastructureError, InputError, singleLine } from '../errors.ts';
import type { Storage } from '../storage/storage.ts';
import { inspectModel, type InspectedModel } from '../onnx/inspect.ts';
import { releaseWeights } from '../onnx/model.ts';
import { chooseLayers, type LayerCandidate } from '../onnx/layers.ts';
import type { TokenOptions } from '../onnx/tokens.ts';
import { nonFinite, probeImages, probeTensors, sampleDisagreement } from '../onnx/probe.ts';
import { errorText } from '../redact.ts';
import { openSession, ort, type ConcreteProvider, type ExecutionProvider } from '../onnx/session.ts';
import { augmentModel, CLASS_OUTPUT, cutHead, TARGET_INPUT, type AugmentedModel } from './augment.ts';
import type { CamMethod, CamRunner, FeatureMap } from './base.ts';
import { methodFor } from './methods.ts';
import { combineLayers } from './combine.ts';
import { argmax, softmax } from '../numeric.ts';
import { SpareArrays } from '../spare-arrays.ts';

export interface ExplainerOptions {
  /** Target-layer tensor names; default: heatgate's automatic choice. Several are averaged. */
  layers?: string[];
  method?: string;
  provider?: ExecutionProvider;
  /** CUDA device ordinal. */
  deviceId?: number;
  threads?: number;
  /** Let a method with an in-graph reduction (Grad-CAM) compute its map inside the session; default true. */
  inGraph?: boolean;
  /** Input size for models whose spatial dims are symbolic. */
  height?: number;
  width?: number;
  /** Where the model file is read from (local, file:// or s3://); default: defaultStorage(). */
  storage?: Storage;
  /** The classifier output to explain (`--output`); default: the first float class-vector output. */
  output?: string;
  /** Transformer token layers: `--tokens-grid HxW` and `--skip-tokens n` (default: inferred). */
  tokens?: TokenOptions;
  /**
   * When the model's shapes came from the graph (no probe run), run one synthetic image through the new session
   * before returning, so that a model with NaN/Inf logits or one ONNX Runtime cannot run fails here (exit 3, naming
   * the model) before any output is written. Default true; the sanity check's randomized copies skip it.
   */
  checkOutputs?: boolean;
}

export interface Explanation {
  logits: Float32Array;
  /** Softmax of the logits (or the output itself when the model ends in Softmax). */
  probabilities: Float32Array;
  predicted: number;
  confidence: number;
  target: number;
  /** Raw map at the (first) target layer's resolution, after the method's ReLU; several layers are averaged. */
  cam: Float32Array;
  camHeight: number;
  camWidth: number;
  /**
   * Set when the numbers cannot be used: "model output is NaN" (or "... is infinite") for non-finite logits, then
   * `cam` is empty; "heatmap is NaN" (or infinite) for a non-finite map. The pipeline records it as the image's error.
   */
  problem?: string;
}

/**
 * One model, one augmented session: explains batches of preprocessed images. Built once per run; per batch it is
 * one ONNX Runtime call plus the CAM arithmetic.
 */
export class Explainer {
  private constructor(
    readonly model: InspectedModel,
    readonly layers: LayerCandidate[],
    readonly method: CamMethod,
    /** The augmented graph's outputs; its bytes are not kept (ONNX Runtime holds the weights once the session exists). */
    private readonly augmented: Omit<AugmentedModel, 'bytes'>,
    private readonly session: ort.InferenceSession,
    readonly provider: ConcreteProvider,
    /** Why this provider (auto's choice and reason, or "requested"). */
    readonly providerReason: string,
    private readonly runner: CamRunner,
  ) {}

  private providerOptions: { provider?: ExecutionProvider; deviceId?: number; threads?: number } = {};
  /** The head cut out as its own model (target activation → logits), opened on first use. */
  private head: Promise<ort.InferenceSession> | undefined;
  /** How it was created, and the same model at other input sizes (atSize). */
  private createOptions: ExplainerOptions = {};
  private siblings = new Map<string, Promise<Explainer>>();
  /** Batch input buffers of finished runs (two: the batch's, and a shorter last batch or a logits-only forward). */
  private readonly spareInputs = new SpareArrays(2);
  /** Every buffer inputBuffer made: only those go back to spareInputs (the head's feeds are the caller's). */
  private readonly pooledInputs = new WeakSet<Float32Array>();

  static async create(file: string, options: ExplainerOptions = {}): Promise<Explainer> {
    methodFor(options.method ?? 'gradcam'); // an unknown method fails before the model is read
    const model = await inspectModel(file, { height: options.height, width: options.width, output: options.output, tokens: options.tokens }, { storage: options.storage });
    const explainer = await Explainer.fromModel(model, options);
    // This explainer read the model itself, so nothing else holds it. When every map comes out of the session, no
    // later graph is built from it (atSize reads the file again; only the CAM arithmetic outside the session cuts a
    // head), and ONNX Runtime's copy of the weights is the only one needed.
    if (explainer.augmented.layers.every((l) => l.cam)) releaseWeights(model.loaded);
    return explainer;
  }

  /**
   * An explainer over a model already inspected, e.g. an in-memory copy with other weights (the sanity check's
   * randomized models: shapes and candidates do not depend on the weights).
   */
  static async fromModel(model: InspectedModel, options: ExplainerOptions = {}): Promise<Explainer> {
    const method = methodFor(options.method ?? 'gradcam');
    const file = model.loaded.file;
    const layers = chooseLayers(model.candidates, options.layers, file);
    if ((options.tokens?.grid || options.tokens?.skip !== undefined) && !layers.some((l) => l.layout === 'tokens')) {
      const flags = [options.tokens.grid && `--tokens-grid ${options.tokens.grid.height}x${options.tokens.grid.width}`, options.tokens.skip !== undefined && `--skip-tokens ${options.tokens.skip}`];
      throw new ConfigError(`${flags.filter(Boolean).join(' ')} fits no token layer of ${file} (the target is ${layers[0].tensor}); run "heatgate layers ${file}" to see the token counts`);
    }
    // Token layers leave the session as A and dA: the class token is dropped and the grid read here (featureMap).
    const inGraph = (options.inGraph ?? true) && !layers.some((l) => l.layout === 'tokens');
    const { bytes, ...augmented } = augmentModel(model, layers, method.usesGradients, inGraph ? method.graph : undefined);
    const providerOptions = { provider: options.provider, deviceId: options.deviceId, threads: options.threads, origin: 'heatgate' as const };
    const { session, provider, reason } = await openSession(bytes, file, providerOptions).catch((error: unknown) => blameModel(model, error));
    const explainer: Explainer = new Explainer(model, layers, method, augmented, session, provider, reason, {
      scoresForInputs: (inputs, target) => explainer.scoresForInputs(inputs, target),
      scoresForActivations: (activations, target) => explainer.scoresForActivations(activations, target),
    });
    // The head runs where the main session does (auto has already chosen).
    explainer.providerOptions = { threads: options.threads, provider, deviceId: provider === 'cuda' ? options.deviceId : undefined };
    explainer.createOptions = options;
    try {
      if ((options.checkOutputs ?? true) && model.shapeSource.from === 'graph') await explainer.checkOutputs();
      if (model.batchUnchecked) await explainer.checkBatching();
    } catch (error) {
      await explainer.release();
      throw error;
    }
    return explainer;
  }

  /**
   * What the probe run established before shapes came from the graph: the model runs, and its logits are finite on
   * a deterministic synthetic image (the probe's input). One batch-1 run of the augmented session.
   */
  private async checkOutputs(): Promise<void> {
    const { channels, height, width } = this.inputShape;
    const image = probeImages(1, channels * height * width);
    const file = this.model.loaded.file;
    let logits: Float32Array;
    try {
      [logits] = await this.logitsOf([image]);
    } catch (error) {
      if (error instanceof InfrastructureError) throw error;
      return blameModel(this.model, new BugError(`ONNX Runtime failed to run the graph heatgate built from the model: ${singleLine(errorText(error))}`, file));
    }
    const bad = nonFinite(logits);
    if (bad) {
      throw new InputError(`the model outputs ${bad} logits ("${this.model.output.output}") on a ${height}x${width} probe batch: its weights or its arithmetic are broken`, file);
    }
  }

  /**
   * A fixed-batch export made symbolic (inspect.ts): on this session, a batch of two images must give each the
   * outputs it gets alone (relative 1e-4), or the explainer runs one image at a time, with a note. The probe used to
   * answer this with sessions of its own.
   */
  private async checkBatching(): Promise<void> {
    const { channels, height, width } = this.inputShape;
    const per = channels * height * width;
    const pair = probeImages(2, per);
    const [first, second] = [pair.subarray(0, per), pair.subarray(per)];
    // Logits first, so a model that mixes its samples is named by its output.
    const names = [this.augmented.logits, ...this.session.outputNames.filter((n) => n !== this.augmented.logits)];
    let reason: string | undefined;
    try {
      const both = await this.run(this.session, this.feeds([first, second], [-1, -1]), names);
      for (const [n, image] of [first, second].entries()) {
        const alone = await this.run(this.session, this.feeds([image], [-1]), names);
        reason ??= names.map((name) => sampleDisagreement(name, n, alone[name], both[name])).find((r) => r !== undefined);
      }
    } catch (error) {
      if (error instanceof InfrastructureError) throw error;
      reason = singleLine((error as Error).message);
    }
    // Settled on the model, so explainers built later from it (the sanity check's randomized copies) inherit it.
    delete this.model.batchUnchecked;
    if (reason === undefined) return;
    this.model.oneImagePerRun = true;
    this.model.notes.push(`batch: "${this.model.input.name}" was exported with a fixed batch of 1 and does not run batched (${reason}); one image per run`);
  }

  /**
   * This explainer at another input size, created once per size: a model with symbolic height/width runs each image
   * at its own size, and the backward pass bakes spatial sizes into constants, so each size has its own session.
   */
  async atSize(height: number, width: number): Promise<Explainer> {
    if (height === this.model.height && width === this.model.width) return this;
    const key = `${height}x${width}`;
    let sibling = this.siblings.get(key);
    if (!sibling) {
      const { provider, deviceId } = this.providerOptions;
      sibling = Explainer.create(this.model.loaded.file, { ...this.createOptions, provider, deviceId, height, width, layers: this.layers.map((l) => l.tensor) });
      sibling.catch(() => {}); // observed by the caller that awaits it
      this.siblings.set(key, sibling);
    }
    return sibling;
  }

  get inputShape(): { channels: number; height: number; width: number; layout: 'NCHW' | 'NHWC' } {
    const { input, height, width } = this.model;
    return { channels: input.channels, height, width, layout: input.layout };
  }

  /** Largest batch the model accepts (1 when the export fixed it). */
  get maxBatch(): number {
    return this.model.probeBatch === 1 || this.model.oneImagePerRun ? 1 : Number.POSITIVE_INFINITY;
  }

  /** `images`: preprocessed tensors in the model's layout; `targets[i]` < 0 means the predicted class. */
  async explain(images: readonly Float32Array[], targets: readonly number[]): Promise<Explanation[]> {
    return (await this.explainAlong(images, targets, [])).explanations;
  }

  /**
   * `explain`, plus the logits of `extra` inputs (the occlusion counterfactuals) from the same ONNX Runtime call: one
   * batch of the images followed by the extras. The extras' maps come out of the session too and are dropped (the
   * head's backward is a small part of a run). The caller keeps images + extra within maxBatch.
   */
  async explainAlong(
    images: readonly Float32Array[],
    targets: readonly number[],
    extra: readonly Float32Array[],
  ): Promise<{ explanations: Explanation[]; extraLogits: Float32Array[] }> {
    const n = images.length;
    if (n === 0) return { explanations: [], extraLogits: await this.logitsOf(extra) };
    const classes = this.model.classes;
    for (const t of targets) {
      if (!Number.isInteger(t) || t >= classes) throw new InputError(`target class ${t} is outside the model's ${classes} classes`, this.model.loaded.file);
    }
    const outputs = await this.run(this.session, this.feeds([...images, ...extra], [...targets, ...extra.map(() => -1)]));
    const logitsAll = outputs[this.augmented.logits].data as Float32Array;
    const extraLogits = extra.map((_, j) => logitsAll.slice((n + j) * classes, (n + j + 1) * classes));
    const chosen = this.augmented.withGradients ? (outputs[CLASS_OUTPUT].data as BigInt64Array) : undefined;
    const results: Explanation[] = [];
    for (let i = 0; i < n; i++) {
      const logits = logitsAll.slice(i * classes, (i + 1) * classes);
      const badLogits = nonFinite(logits);
      if (badLogits) {
        // No CAM on garbage: Score-/Ablation-CAM would spend extra runs, and an SVD of NaNs proves nothing.
        results.push({ logits, probabilities: logits, predicted: -1, confidence: NaN, target: targets[i], cam: new Float32Array(0), camHeight: 0, camWidth: 0, problem: `model output is ${badLogits}` });
        continue;
      }
      // A single logit z is scored [-z, z]: softmax of half of that is [1 - sigmoid(z), sigmoid(z)].
      const probabilities = this.model.outputIsProbability
        ? logits
        : softmax(this.model.output.kind === 'binary-logit' ? logits.map((v) => v / 2) : logits, new Float32Array(logits.length));
      const predicted = argmax(logits);
      const target = chosen ? Number(chosen[i]) : targets[i] < 0 ? predicted : targets[i];
      const maps: { map: Float32Array; height: number; width: number }[] = [];
      for (const l of this.augmented.layers) {
        const { height, width } = l.layer;
        if (l.cam) {
          maps.push({ map: (outputs[l.cam].data as Float32Array).slice(i * height * width, (i + 1) * height * width), height, width });
          continue;
        }
        const activations = featureMap(outputs[l.activation], i, l.layer);
        const gradients = l.gradient ? featureMap(outputs[l.gradient], i, l.layer) : undefined;
        const map = await this.method.compute({
          activations,
          gradients,
          image: images[i],
          layout: this.model.input.layout,
          inputHeight: this.model.height,
          inputWidth: this.model.width,
          target,
          runner: this.runner,
        });
        maps.push({ map, height: activations.height, width: activations.width });
      }
      const combined = combineLayers(maps);
      const badMap = nonFinite(combined.map);
      results.push({
        logits,
        probabilities,
        predicted,
        confidence: probabilities[predicted],
        target,
        cam: combined.map,
        camHeight: combined.height,
        camWidth: combined.width,
        ...(badMap && { problem: `heatmap is ${badMap}` }),
      });
    }
    return { explanations: results, extraLogits };
  }

  async release(): Promise<void> {
    for (const sibling of this.siblings.values()) await (await sibling.catch(() => undefined))?.release();
    await this.session.release();
    await (await this.head)?.release();
  }

  private feeds(images: readonly Float32Array[], targets: readonly number[]): Record<string, ort.Tensor> {
    const { channels, height, width, layout } = this.inputShape;
    const size = channels * height * width;
    const batch = this.inputBuffer(images.length * size);
    images.forEach((img, i) => {
      if (img.length !== size) throw new Error(`image tensor has ${img.length} values, expected ${size}`);
      batch.set(img, i * size);
    });
    const dims = layout === 'NCHW' ? [images.length, channels, height, width] : [images.length, height, width, channels];
    const feeds: Record<string, ort.Tensor> = { [this.model.input.name]: new ort.Tensor('float32', batch, dims) };
    if (this.augmented.withGradients) {
      feeds[TARGET_INPUT] = new ort.Tensor('int64', BigInt64Array.from(targets, (t) => BigInt(t)), [targets.length]);
    }
    return feeds;
  }

  /** The ONNX Runtime call of `explain` alone, for profiling (bench/run.ts). */
  async explainRunOnly(images: readonly Float32Array[], targets: readonly number[]): Promise<void> {
    await this.run(this.session, this.feeds(images, targets));
  }

  /** Logits only (counterfactual checks): one run, no CAM arithmetic. */
  async predict(images: readonly Float32Array[]): Promise<Float32Array[]> {
    return this.logitsOf(images);
  }

  private async logitsOf(images: readonly Float32Array[]): Promise<Float32Array[]> {
    if (images.length > this.maxBatch) {
      const out: Float32Array[] = [];
      for (let i = 0; i < images.length; i += this.maxBatch) out.push(...(await this.logitsOf(images.slice(i, i + this.maxBatch))));
      return out;
    }
    if (images.length === 0) return [];
    // Fetching the logits alone, ORT runs the forward only: no backward, no CAM nodes (resnet50: 40 % less time).
    const outputs = await this.run(this.session, this.feeds(images, images.map(() => -1)), [this.augmented.logits]);
    const logits = outputs[this.augmented.logits].data as Float32Array;
    const classes = this.model.classes;
    return images.map((_, i) => logits.slice(i * classes, (i + 1) * classes));
  }

  /**
   * One ONNX Runtime call. Running out of memory is infrastructure (4: a retry with a smaller --batch or a bigger
   * machine helps); any other failure of a graph heatgate built, after the model passed its probe, stays a bug (70).
   */
  private async run(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, fetches?: string[]): Promise<ort.InferenceSession.ReturnType> {
    try {
      return await (fetches ? session.run(feeds, fetches) : session.run(feeds));
    } catch (error) {
      const message = singleLine((error as Error).message);
      if (/bad_alloc|failed to allocate|out of memory/i.test(message)) {
        throw new InfrastructureError(`ONNX Runtime ran out of memory (try a smaller --batch): ${message}`, this.model.loaded.file);
      }
      throw error;
    } finally {
      // The run is over (ONNX Runtime reads its inputs during the call and keeps none): the batch buffer can be reused.
      for (const tensor of Object.values(feeds)) {
        const data = tensor.data as Float32Array;
        if (this.pooledInputs.has(data)) this.spareInputs.give(data);
      }
    }
  }

  /**
   * A batch input buffer of `length` values: a spare one from an earlier run when one fits, else a new one. A new
   * multi-megabyte array per run is external memory that makes V8 mark-compact every few batches.
   */
  private inputBuffer(length: number): Float32Array {
    const spare = this.spareInputs.take(length);
    if (spare) return spare;
    const buffer = new Float32Array(length);
    this.pooledInputs.add(buffer);
    return buffer;
  }

  /** Target scores of head-only runs (Ablation-CAM): channel-major activations of the first target layer. */
  private async scoresForActivations(activations: Float32Array[], target: number): Promise<Float32Array> {
    const layer = this.layers[0];
    if (this.layers.length > 1) throw new ConfigError(`${this.method.name} takes one target layer, got ${this.layers.length}`);
    if (layer.layout === 'tokens') {
      throw new ConfigError(`${this.method.name} runs the head on ablated activations, which heatgate does not do for transformer token layers (${layer.tensor}); use gradcam or another gradient method`);
    }
    this.head ??= openSession(cutHead(this.model, layer), this.model.loaded.file, { ...this.providerOptions, origin: 'heatgate' }).then((s) => s.session);
    const session = await this.head;
    const { channels, height, width, layout } = layer;
    const size = channels * height * width;
    const batch = new Float32Array(activations.length * size);
    activations.forEach((a, i) => batch.set(layout === 'NCHW' ? a : toChannelsLast(a, channels, height * width), i * size));
    const dims = layout === 'NCHW' ? [activations.length, channels, height, width] : [activations.length, height, width, channels];
    const outputs = await this.run(session, { [layer.tensor]: new ort.Tensor('float32', batch, dims) });
    const logits = outputs[this.model.logits].data as Float32Array;
    const classes = this.model.classes;
    return Float32Array.from(activations, (_, i) => logits[i * classes + target]);
  }

  /** Target scores of whole-model runs (Score-CAM), batched as the caller gives them. */
  private async scoresForInputs(inputs: Float32Array[], target: number): Promise<Float32Array> {
    const outputs = await this.run(this.session, this.feeds(inputs, inputs.map(() => target)));
    const logits = outputs[this.augmented.logits].data as Float32Array;
    const classes = this.model.classes;
    return Float32Array.from(inputs, (_, i) => logits[i * classes + target]);
  }
}

/**
 * ONNX Runtime failed on the graph heatgate built. When no session has run the user's model yet (shapes came from
 * the graph), the model may be at fault (an invalid graph, an absurd initializer): one probe of the model alone
 * tells, and its refusal is input data (exit 3). Otherwise `error` stands.
 */
async function blameModel(model: InspectedModel, error: unknown): Promise<never> {
  if (error instanceof BugError && model.shapeSource.from === 'graph') {
    const { input, height, width, probeBatch } = model;
    const fault = await probeTensors(model.loaded.model, model.loaded.file, input, { height, width, batch: probeBatch }, []).then(() => undefined, (e: unknown) => e);
    if (fault) throw fault;
  }
  throw error;
}

/**
 * Image `i` of a batched layer output as a channel-major map (NHWC layers are transposed). Token layers [N, T, C]
 * drop their leading non-patch tokens and read the rest as an H x W grid, pytorch-grad-cam's reshape_transform.
 */
export function featureMap(tensor: ort.Tensor, i: number, layer: LayerCandidate): FeatureMap {
  const { channels, height, width, layout } = layer;
  const size = channels * height * width;
  const all = tensor.data as Float32Array;
  if (layout === 'NCHW') return { data: all.subarray(i * size, (i + 1) * size), channels, height, width };
  const data = new Float32Array(size);
  const perImage = layer.tokens ? layer.tokens.count * channels : size;
  const offset = layer.tokens ? layer.tokens.skip * channels : 0;
  const src = all.subarray(i * perImage + offset, i * perImage + offset + size);
  const hw = height * width;
  for (let p = 0; p < hw; p++) for (let c = 0; c < channels; c++) data[c * hw + p] = src[p * channels + c];
  return { data, channels, height, width };
}

function toChannelsLast(data: Float32Array, channels: number, hw: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let c = 0; c < channels; c++) for (let p = 0; p < hw; p++) out[p * channels + c] = data[c * hw + p];
  return out;
}

import { ConfigError, InputError, singleLine } from '../errors.ts';
import { foldConstants } from './fold.ts';
import { attr, GraphIndex } from './graph.ts';
import { makeTensor } from './builder.ts';
import type { onnx } from './proto.ts';
import { layerCandidates, type LayerCandidate } from './layers.ts';
import type { TokenOptions } from './tokens.ts';
import { loadModel, type LoadedModel, type LoadModelOptions } from './model.ts';
import { batchDisagreement, imageInput, probeTensors, type ImageInput, type TensorInfo } from './probe.ts';
import { toNumber } from './proto.ts';
import { chooseScores, type ScoreOutput } from './scores.ts';
import { inferShapes } from './shapes.ts';
import { upgradeToWorkingOpset } from './upgrade.ts';

/** Spatial size the layer list is probed at when the model's input height/width are symbolic and no size is given. */
export const DEFAULT_INPUT_SIZE = 224;

/** What heatgate learns about a classifier once per model: its input, logits, tensor shapes and layer candidates. */
export interface InspectedModel {
  loaded: LoadedModel;
  index: GraphIndex;
  input: ImageInput;
  height: number;
  width: number;
  /** The [N, classes] score tensor: the chosen output, or heatgate's view of it (scores.ts). */
  logits: string;
  classes: number;
  /** True when the output already is a probability vector (the graph ends in Softmax or Sigmoid). */
  outputIsProbability: boolean;
  /** Which output was taken and what it holds. */
  output: ScoreOutput;
  /** The batch the shapes were observed at: 2, or 1 when the export fixed the batch at 1. */
  probeBatch: number;
  shapes: Map<string, TensorInfo>;
  /**
   * Where `shapes` came from: the graph (shapes.ts; no session ran, so NaN logits are found by the Explainer's first
   * run), or probe runs of the model, and why the graph did not do.
   */
  shapeSource: { from: 'graph' } | { from: 'probe'; reason: string };
  candidates: LayerCandidate[];
  /** heatgate.* metadata_props the exporter stored (normalize, classes, input_size, channels, mean, std). */
  metadata: Record<string, string>;
  /** Choices heatgate made that the user should see (which output, which input size): one line each. */
  notes: string[];
  /** Symbolic height/width and no size given: each image runs at its own size. */
  sizeFromImages: boolean;
  /**
   * An export with a fixed batch of 1, made symbolic and followed at batch 2 without a probe: the Explainer checks
   * on its own session that a batch gives each image what it gets alone, and runs one image at a time if not.
   */
  batchUnchecked?: true;
  /** Set by that check when a batch mixes the images: the model runs one image at a time. */
  oneImagePerRun?: true;
}

export async function inspectModel(
  file: string,
  size: { height?: number; width?: number; output?: string; tokens?: TokenOptions } = {},
  options: LoadModelOptions = {},
): Promise<InspectedModel> {
  const loaded = await foldConstants(upgradeToWorkingOpset(await loadModel(file, options)));
  const graph = loaded.model.graph!;
  const input = imageInput(loaded.model, file);
  const metadata: Record<string, string> = {};
  for (const p of loaded.model.metadataProps ?? []) if (p.key?.startsWith('heatgate.')) metadata[p.key.slice(9)] = p.value ?? '';
  if ((size.height && input.height && size.height !== input.height) || (size.width && input.width && size.width !== input.width)) {
    throw new ConfigError(`--input-size ${size.height}x${size.width} does not fit ${file}: its input "${input.name}" is fixed at ${input.height}x${input.width}`);
  }
  const notes: string[] = [];
  const fromMetadata = metadata.input_size === undefined ? undefined : parseInputSize(metadata.input_size, 'metadata heatgate.input_size', file);
  const givenHeight = input.height ?? size.height ?? fromMetadata?.height;
  const givenWidth = input.width ?? size.width ?? fromMetadata?.width;
  const sizeFromImages = givenHeight === undefined || givenWidth === undefined;
  if (sizeFromImages) {
    notes.push(
      `input: "${input.name}" has a symbolic ${givenHeight === undefined ? 'height' : 'width'} and neither --input-size nor heatgate.input_size ` +
        'metadata gives one; each image runs at its own size (images of one size batched together)',
    );
  }
  // With sizeFromImages the layer list is probed at this size; explain runs each image at its own (Explainer.atSize).
  const height = givenHeight ?? DEFAULT_INPUT_SIZE;
  const width = givenWidth ?? DEFAULT_INPUT_SIZE;

  // Shapes come from the graph (no session) when it can be followed; else from probe runs. An export with a fixed
  // batch of 1 is made symbolic first and followed at batch 2; whether it really runs batched is a question of
  // values, which the Explainer's first run of the augmented session answers (batchUnchecked).
  let probeBatch = 2;
  let shapes: Map<string, TensorInfo>;
  let shapeSource: InspectedModel['shapeSource'];
  const restoreBatch = input.dynamicBatch ? undefined : makeBatchSymbolic(loaded);
  const inferred = inferShapes(new GraphIndex(graph), input, loaded.opset, { batch: probeBatch, height, width });
  if ('shapes' in inferred) {
    shapes = inferred.shapes;
    shapeSource = { from: 'graph' };
  } else {
    restoreBatch?.();
    ({ shapes, probeBatch } = await probeShapes(loaded, input, { height, width }, notes));
    shapeSource = { from: 'probe', reason: inferred.unknown };
  }
  const index = new GraphIndex(graph); // the graph as it will run (a fixed batch made symbolic or not)
  const chosen = chooseScores(graph, index.producers, shapes, size.output, file);
  const outputInfo = shapes.get(chosen.output)!;
  if (outputInfo.nonFinite) {
    throw new InputError(
      `the model outputs ${outputInfo.nonFinite} logits ("${chosen.output}") on a ${height}x${width} probe batch: its weights or its arithmetic are broken`,
      file,
    );
  }
  // The score tensor, when heatgate derives one (4-D or single-logit outputs), becomes an extra graph output.
  if (chosen.scores !== chosen.output) {
    graph.node = [...(graph.node ?? []), ...chosen.nodes];
    graph.initializer = [...(graph.initializer ?? []), ...chosen.initializers];
    graph.output = [...(graph.output ?? []), { name: chosen.scores }];
    for (const [name, info] of chosen.shapes) shapes.set(name, info);
  }
  const scoreIndex = chosen.scores === chosen.output ? index : new GraphIndex(graph);
  const logits = chosen.scores;
  if (chosen.note) notes.push(chosen.note);
  return {
    loaded,
    index: scoreIndex,
    input: { ...input, dynamicBatch: probeBatch > 1 },
    ...(restoreBatch && shapeSource.from === 'graph' && { batchUnchecked: true as const }),
    height,
    width,
    logits,
    classes: chosen.classes,
    outputIsProbability: chosen.kind === 'probabilities' || chosen.kind === 'binary-probability',
    output: chosen,
    probeBatch,
    shapes,
    shapeSource,
    candidates: layerCandidates(scoreIndex, input, logits, shapes, { batch: probeBatch, height, width, tokens: size.tokens }),
    metadata,
    notes,
    sizeFromImages,
  };
}

/**
 * Shapes from probe runs of the model (every node output as an extra output). Exports with a fixed batch of 1 are
 * common; they are tried at batch 2 with the batch made symbolic (Reshape targets [1, ...] read as [0, ...]), and
 * batch 2 is kept only when each sample gets what it gets alone.
 */
async function probeShapes(
  loaded: LoadedModel,
  input: ImageInput,
  size: { height: number; width: number },
  notes: string[],
): Promise<{ shapes: Map<string, TensorInfo>; probeBatch: number }> {
  const { file } = loaded;
  const { height, width } = size;
  const all = (loaded.model.graph!.node ?? []).flatMap((n) => n.output ?? []).filter((o) => o);
  let probeBatch = 2;
  let shapes: Map<string, TensorInfo> | undefined;
  const restore = input.dynamicBatch ? undefined : makeBatchSymbolic(loaded);
  let atTwo: unknown;
  try {
    shapes = await probeTensors(loaded.model, file, input, { height, width, batch: probeBatch }, all);
  } catch (error) {
    if (!restore) throw error;
    atTwo = error;
  }
  if (restore && shapes) {
    const disagreement = await batchDisagreement(loaded.model, file, input, { height, width });
    if (disagreement) {
      atTwo = new Error(disagreement);
      shapes = undefined;
    }
  }
  if (!shapes) {
    restore!();
    probeBatch = 1;
    try {
      shapes = await probeTensors(loaded.model, file, input, { height, width, batch: probeBatch }, all);
    } catch (atOne) {
      // Both reasons: the batch-2 failure may be the real one (the retry at 1 only suits exports with a fixed batch).
      throw new InputError(`the model failed at batch 2 (${reason(atTwo, file)}) and at batch 1 (${reason(atOne, file)})`, file);
    }
    notes.push(`batch: "${input.name}" was exported with a fixed batch of 1 and does not run batched (${reason(atTwo, file)}); one image per run`);
  }
  return { shapes, probeBatch };
}

/**
 * "HxW" (e.g. 48x192) as positive integers; `what` names the flag or metadata key in the error, which is a usage
 * error (2) for a flag and an input-data error (3) naming the model `file` for metadata.
 */
export function parseInputSize(value: string, what: string, file?: string): { height: number; width: number } {
  const m = /^\s*(\d+)\s*x\s*(\d+)\s*$/i.exec(value);
  const height = m ? Number(m[1]) : NaN, width = m ? Number(m[2]) : NaN;
  if (!m || height < 1 || width < 1 || height > 65535 || width > 65535) {
    const message = `${what} must be HxW (height x width in pixels, e.g. 224x224), got "${value}"`;
    throw file ? new InputError(message, file) : new ConfigError(message);
  }
  return { height, width };
}

/** An error's message without the `file: ` prefix a HeatgateError adds (the caller names the file once). */
function reason(error: unknown, file: string): string {
  const message = singleLine(error instanceof Error ? error.message : String(error));
  return message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message;
}

/**
 * Replaces a fixed leading dim of the input and outputs with "N", and Reshape targets [1, ...] (constant, no
 * allowzero) with [0, ...]: at batch 1 they are the same (0 copies the input's leading dim), at batch N they keep
 * the batch when the Reshape's input leads with it, which batchDisagreement checks. Returns an undo.
 */
function makeBatchSymbolic(loaded: LoadedModel): () => void {
  const graph = loaded.model.graph!;
  if (loaded.source) loaded.source.stale = true; // the file's bytes no longer say what the graph is
  const undo: (() => void)[] = [];
  for (const value of [...(graph.input ?? []), ...(graph.output ?? [])]) {
    const dim = value.type?.tensorType?.shape?.dim?.[0];
    if (!dim || (dim.dimValue !== undefined && dim.dimValue !== null && toNumber(dim.dimValue) !== 1)) continue;
    const saved = { dimValue: dim.dimValue, dimParam: dim.dimParam };
    dim.dimValue = null;
    dim.dimParam = 'N';
    undo.push(() => Object.assign(dim, saved));
  }
  const index = new GraphIndex(graph);
  const added: onnx.ITensorProto[] = [];
  (graph.node ?? []).forEach((node, i) => {
    if (node.opType !== 'Reshape' || attr(node, 'allowzero', 'int') === 1) return;
    const target = index.constantNumbers(node.input?.[1] ?? '');
    if (!target || target[0] !== 1 || !node.input) return;
    const inputs = node.input;
    const saved = inputs[1];
    const name = `heatgate_batch/reshape_${i}`;
    added.push(makeTensor(name, 'int64', [target.length], [0, ...target.slice(1)]));
    inputs[1] = name;
    undo.push(() => (inputs[1] = saved));
  });
  if (added.length > 0) {
    const before = graph.initializer ?? [];
    graph.initializer = [...before, ...added];
    undo.push(() => (graph.initializer = before));
  }
  return () => undo.reverse().forEach((u) => u());
}

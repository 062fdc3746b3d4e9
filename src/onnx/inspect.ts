import { InputError, singleLine } from '../errors.ts';
import { GraphIndex } from './graph.ts';
import { layerCandidates, type LayerCandidate } from './layers.ts';
import type { TokenOptions } from './tokens.ts';
import { loadModel, type LoadedModel } from './model.ts';
import { imageInput, probeTensors, type ImageInput, type TensorInfo } from './probe.ts';
import { toNumber } from './proto.ts';

/** Spatial size used when the model's input height/width are symbolic and the user gives none. */
export const DEFAULT_INPUT_SIZE = 224;

/** What heatgate learns about a classifier once per model: its input, logits, tensor shapes and layer candidates. */
export interface InspectedModel {
  loaded: LoadedModel;
  index: GraphIndex;
  input: ImageInput;
  height: number;
  width: number;
  /** The classifier output: the model's first graph output, [N, classes]. */
  logits: string;
  classes: number;
  /** True when the output already is a probability vector (the graph ends in Softmax). */
  outputIsProbability: boolean;
  /** The batch the shapes were observed at: 2, or 1 when the export fixed the batch at 1. */
  probeBatch: number;
  shapes: Map<string, TensorInfo>;
  candidates: LayerCandidate[];
  /** heatgate.* metadata_props the exporter stored (normalize, classes). */
  metadata: Record<string, string>;
}

export async function inspectModel(
  file: string,
  size: { height?: number; width?: number; tokens?: TokenOptions } = {},
): Promise<InspectedModel> {
  const loaded = await loadModel(file);
  const graph = loaded.model.graph!;
  const input = imageInput(loaded.model, file);
  const height = input.height ?? size.height ?? DEFAULT_INPUT_SIZE;
  const width = input.width ?? size.width ?? DEFAULT_INPUT_SIZE;
  if ((size.height && input.height && size.height !== input.height) || (size.width && input.width && size.width !== input.width)) {
    throw new InputError(`the model's input is fixed at ${input.height}x${input.width}; --size cannot change it`, file);
  }
  const logits = graph.output?.[0]?.name;
  if (!logits) throw new InputError('the model has no outputs', file);
  const index = new GraphIndex(graph);
  const all = (graph.node ?? []).flatMap((n) => n.output ?? []).filter((o) => o);

  // Exports with a fixed batch of 1 are common; try them at batch 2 with the batch made symbolic.
  let probeBatch = 2;
  let shapes: Map<string, TensorInfo>;
  const restore = input.dynamicBatch ? undefined : makeBatchSymbolic(loaded);
  try {
    shapes = await probeTensors(loaded.model, file, input, { height, width, batch: probeBatch }, all);
  } catch (atTwo) {
    if (!restore) throw atTwo;
    restore();
    probeBatch = 1;
    try {
      shapes = await probeTensors(loaded.model, file, input, { height, width, batch: probeBatch }, all);
    } catch (atOne) {
      // Both reasons: the batch-2 failure may be the real one (the retry at 1 only suits exports with a fixed batch).
      throw new InputError(`the model failed at batch 2 (${reason(atTwo, file)}) and at batch 1 (${reason(atOne, file)})`, file);
    }
  }
  const logitsInfo = shapes.get(logits);
  if (logitsInfo?.nonFinite) {
    throw new InputError(
      `the model outputs ${logitsInfo.nonFinite} logits ("${logits}") on a ${height}x${width} probe batch: its weights or its arithmetic are broken`,
      file,
    );
  }
  if (!logitsInfo || logitsInfo.dims.length !== 2 || logitsInfo.dtype !== 'float32') {
    throw new InputError(`the first output "${logits}" must be float32 [batch, classes], found ${logitsInfo?.dtype} [${logitsInfo?.dims}]`, file);
  }
  const metadata: Record<string, string> = {};
  for (const p of loaded.model.metadataProps ?? []) if (p.key?.startsWith('heatgate.')) metadata[p.key.slice(9)] = p.value ?? '';
  return {
    loaded,
    index,
    input: { ...input, dynamicBatch: probeBatch > 1 },
    height,
    width,
    logits,
    classes: logitsInfo.dims[1],
    outputIsProbability: index.producers.get(logits)?.opType === 'Softmax',
    probeBatch,
    shapes,
    candidates: layerCandidates(index, input, logits, shapes, { batch: probeBatch, height, width, tokens: size.tokens }),
    metadata,
  };
}

/** An error's message without the `file: ` prefix a HeatgateError adds (the caller names the file once). */
function reason(error: unknown, file: string): string {
  const message = singleLine(error instanceof Error ? error.message : String(error));
  return message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message;
}

/** Replaces a fixed leading dim of the input and outputs with "N"; returns an undo. */
function makeBatchSymbolic(loaded: LoadedModel): () => void {
  const graph = loaded.model.graph!;
  const undo: (() => void)[] = [];
  for (const value of [...(graph.input ?? []), ...(graph.output ?? [])]) {
    const dim = value.type?.tensorType?.shape?.dim?.[0];
    if (!dim || (dim.dimValue !== undefined && dim.dimValue !== null && toNumber(dim.dimValue) !== 1)) continue;
    const saved = { dimValue: dim.dimValue, dimParam: dim.dimParam };
    dim.dimValue = null;
    dim.dimParam = 'N';
    undo.push(() => Object.assign(dim, saved));
  }
  return () => undo.forEach((u) => u());
}

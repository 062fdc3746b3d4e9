import { InputError, singleLine } from '../errors.ts';
import { encodeModel } from './model.ts';
import type { onnx} from './proto.ts';
import { DataType, toNumber } from './proto.ts';
import { openSession, ort } from './session.ts';

/** 'NaN' or 'infinite' when `values` holds such a number (NaN wins), else undefined. */
export function nonFinite(values: ArrayLike<number>): 'NaN' | 'infinite' | undefined {
  let infinite = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity || v === -Infinity) infinite = true;
  }
  return infinite ? 'infinite' : undefined;
}

export type InputLayout = 'NCHW' | 'NHWC';

/** The image input of a classifier, read from the graph's declared input. */
export interface ImageInput {
  name: string;
  layout: InputLayout;
  channels: number;
  /** Declared spatial size; undefined when symbolic (the caller chooses). */
  height?: number;
  width?: number;
  /** Whether the declared batch dimension is symbolic. */
  dynamicBatch: boolean;
}

export interface TensorInfo {
  /** Dims observed in the probe run (batch = the probe batch). */
  dims: number[];
  dtype: ort.Tensor.Type;
  /** For float tensors: 'NaN' or 'infinite' when the probe run produced such a value. */
  nonFinite?: 'NaN' | 'infinite';
}


/** Reads the single image input: rank 4, 1 or 3 channels in position 1 (NCHW) or 3 (NHWC). */
export function imageInput(model: onnx.IModelProto, file: string): ImageInput {
  const graph = model.graph!;
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name));
  const shapeOf = (i: onnx.IValueInfoProto) =>
    `[${(i.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : d.dimParam || '?')).join(', ')}]`;
  if (inputs.length !== 1) {
    throw new InputError(
      `input: heatgate explains models with one image input, found ${inputs.length}` +
        `${inputs.length ? ` (${inputs.map((i) => `${i.name} ${shapeOf(i)}`).join(', ')})` : ''}; ` +
        'export the image classifier alone, with any other input folded into a constant',
      file,
    );
  }
  const input = inputs[0];
  const tensorType = input.type?.tensorType;
  if (tensorType?.elemType !== DataType.FLOAT) {
    throw new InputError(
      `input "${input.name}" is ONNX element type ${tensorType?.elemType ?? 'unknown'}, heatgate feeds float32 images; ` +
        'export it with a float32 input (a Cast inside the graph is fine)',
      file,
    );
  }
  const dims = (tensorType.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : undefined));
  if (dims.length !== 4) {
    throw new InputError(`input "${input.name}" ${shapeOf(input)} must be a 4-D image batch, NCHW or NHWC, found rank ${dims.length}; export it with a batch axis and 4-D images`, file);
  }
  const channelsAt = (i: number) => dims[i] === 1 || dims[i] === 3;
  let layout: InputLayout;
  if (channelsAt(1)) layout = 'NCHW';
  else if (channelsAt(3)) layout = 'NHWC';
  else {
    throw new InputError(
      `input "${input.name}" ${shapeOf(input)}: no channel axis of size 1 or 3 in position 1 (NCHW) or 3 (NHWC); ` +
        'heatgate feeds grayscale or colour images, so the model must declare its channel count there',
      file,
    );
  }
  const [h, w] = layout === 'NCHW' ? [dims[2], dims[3]] : [dims[1], dims[2]];
  return { name: input.name ?? '', layout, channels: (layout === 'NCHW' ? dims[1] : dims[3])!, height: h, width: w, dynamicBatch: dims[0] === undefined };
}

/**
 * Runs the model once on a dummy batch with `tensors` added as outputs and returns their dims and types.
 * ONNX Runtime only fetches graph outputs, so the probe works on a copy with extra outputs.
 */
export async function probeTensors(
  model: onnx.IModelProto,
  file: string,
  input: ImageInput,
  size: { height: number; width: number; batch: number },
  tensors: readonly string[],
): Promise<Map<string, TensorInfo>> {
  const outputs = [...(model.graph!.output ?? [])];
  const existing = new Set(outputs.map((o) => o.name));
  for (const name of tensors) if (!existing.has(name)) outputs.push({ name });
  const copy = { ...model, graph: { ...model.graph, output: outputs } };
  const { session } = await openSession(encodeModel(copy), file, { origin: 'model' });
  try {
    const dims = input.layout === 'NCHW'
      ? [size.batch, input.channels, size.height, size.width]
      : [size.batch, size.height, size.width, input.channels];
    const data = probeImages(size.batch, dims.reduce((a, b) => a * b, 1) / size.batch);
    const result = await session.run({ [input.name]: new ort.Tensor('float32', data, dims) });
    const out = new Map<string, TensorInfo>();
    for (const name of tensors) {
      const t = result[name];
      if (!t) continue;
      const bad = t.type === 'float32' ? nonFinite(t.data as Float32Array) : undefined;
      out.set(name, { dims: [...t.dims], dtype: t.type, ...(bad && { nonFinite: bad }) });
    }
    return out;
  } catch (error) {
    throw new InputError(`the model failed on a ${size.height}x${size.width} probe batch of ${size.batch}: ${singleLine((error as Error).message)}`, file);
  } finally {
    await session.release();
  }
}

/**
 * Whether a batch of 2 gives each sample the outputs it gets alone: a model exported with a fixed batch of 1 may run
 * at batch 2 and still mix the samples (a Reshape to [1, -1] before an elementwise head). Returns why not, or
 * undefined when every graph output agrees (relative 1e-4).
 */
export async function batchDisagreement(model: onnx.IModelProto, file: string, input: ImageInput, size: { height: number; width: number }): Promise<string | undefined> {
  const { session } = await openSession(encodeModel(model), file, { origin: 'model' });
  try {
    const per = input.channels * size.height * size.width;
    const dims = (batch: number) => (input.layout === 'NCHW' ? [batch, input.channels, size.height, size.width] : [batch, size.height, size.width, input.channels]);
    const data = probeImages(2, per);
    const both = await session.run({ [input.name]: new ort.Tensor('float32', data, dims(2)) });
    for (let n = 0; n < 2; n++) {
      const alone = await session.run({ [input.name]: new ort.Tensor('float32', data.slice(n * per, (n + 1) * per), dims(1)) });
      for (const name of session.outputNames) {
        const why = sampleDisagreement(name, n, alone[name], both[name]);
        if (why) return why;
      }
    }
    return undefined;
  } catch (error) {
    return singleLine((error as Error).message);
  } finally {
    await session.release();
  }
}

/** `count` deterministic synthetic images of `per` values each, back to back (no ties): the input of every probe run. */
export function probeImages(count: number, per: number): Float32Array {
  return Float32Array.from({ length: count * per }, (_, i) => Math.sin(i * 0.37) * 0.5);
}

/**
 * Why sample `n` of an output at batch 2 (`both`) differs from the same image's output alone (relative 1e-4; NaN
 * equals NaN), or undefined when they agree.
 */
export function sampleDisagreement(name: string, n: number, alone: ort.Tensor, both: ort.Tensor): string | undefined {
  if (both.dims[0] !== 2 || alone.dims[0] !== 1) return `output "${name}" has a leading dim of ${both.dims[0]} at batch 2`;
  const x = alone.data as ArrayLike<number | bigint>, y = both.data as ArrayLike<number | bigint>;
  if (y.length !== 2 * x.length) return `output "${name}" has ${y.length} values at batch 2, ${x.length} at batch 1`;
  for (let i = 0; i < x.length; i++) {
    const v = Number(y[n * x.length + i]), w = Number(x[i]);
    if (!(Math.abs(v - w) <= 1e-4 * (1 + Math.abs(w))) && !(Number.isNaN(v) && Number.isNaN(w))) return `output "${name}" of sample ${n} differs between batch 2 and batch 1`;
  }
  return undefined;
}

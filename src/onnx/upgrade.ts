import { InputError } from '../errors.ts';
import { float, makeAttribute, makeTensor, type AttrValue } from './builder.ts';
import { attr } from './graph.ts';
import type { LoadedModel } from './model.ts';
import { AttributeType, onnx, toNumber } from './proto.ts';

/**
 * The opset heatgate works at: graphs exported at an older opset (7 to 10) are upgraded to it in memory before
 * they are probed and augmented, so the backward rules and the head plumbing only know opsets 11 and later.
 */
export const WORKING_OPSET = 11;
/** The IR version that goes with opset 11 (ONNX 1.6); older files are stamped with it when upgraded. */
const WORKING_IR_VERSION = 6;

/**
 * Returns the model at opset >= 11: unchanged when it already is, else a copy whose nodes are rewritten where an
 * op's definition changed between the model's opset and 11 (attributes that became inputs; Upsample and Resize-10
 * become Resize-11 with the same sampling). Every other op keeps its meaning across 7..11 (new attributes default
 * to the old behaviour), so its node stays as it is. The user's model object is not modified.
 */
export function upgradeToWorkingOpset(loaded: LoadedModel): LoadedModel & { exportedOpset: number } {
  if (loaded.opset >= WORKING_OPSET) return { ...loaded, exportedOpset: loaded.opset };
  const source = loaded.model;
  const graph = source.graph!;
  const initializers: onnx.ITensorProto[] = [...(graph.initializer ?? [])];
  const taken = new Set<string>([
    ...initializers.map((t) => t.name ?? ''),
    ...(graph.node ?? []).flatMap((n) => [...(n.input ?? []), ...(n.output ?? [])]),
    ...(graph.input ?? []).map((i) => i.name ?? ''),
  ]);
  let count = 0;
  const constant = (hint: string, dtype: 'float32' | 'int64', dims: number[], values: ArrayLike<number>): string => {
    let name: string;
    do name = `heatgate_upgrade/${hint}_${count++}`;
    while (taken.has(name));
    taken.add(name);
    initializers.push(makeTensor(name, dtype, dims, values));
    return name;
  };
  const nodes = (graph.node ?? []).map((node) => {
    if (node.domain && node.domain !== 'ai.onnx') return node;
    return upgradeNode(node, loaded.opset, constant, loaded.file);
  });
  const model = onnx.ModelProto.create({
    ...source,
    irVersion: Math.max(toNumber(source.irVersion ?? 0), WORKING_IR_VERSION),
    opsetImport: (source.opsetImport ?? []).map((o) => (!o.domain || o.domain === 'ai.onnx' ? { domain: o.domain, version: WORKING_OPSET } : o)),
    graph: onnx.GraphProto.create({ ...graph, node: nodes, initializer: initializers }),
  });
  return { ...loaded, model, opset: WORKING_OPSET, exportedOpset: loaded.opset };
}

type Constant = (hint: string, dtype: 'float32' | 'int64', dims: number[], values: ArrayLike<number>) => string;

function upgradeNode(node: onnx.INodeProto, opset: number, constant: Constant, file: string): onnx.INodeProto {
  const inputs = [...(node.input ?? [])];
  const name = node.name || node.output?.[0] || node.opType || '';
  switch (node.opType) {
    case 'Upsample':
    case 'Resize': {
      if (node.opType === 'Resize' && opset < 10) break; // no Resize before 10; leave it for ORT to refuse
      // Upsample-7 carries its scales as an attribute; Upsample-9 and Resize-10 as the second input.
      let scales = inputs[1];
      if (opset < 9 && node.opType === 'Upsample') {
        const values = attr(node, 'scales', 'floats');
        if (!values) throw new InputError(`Upsample node "${name}" has no scales attribute`, file);
        scales = constant('scales', 'float32', [values.length], values);
      }
      const mode = attr(node, 'mode', 'string') ?? 'nearest';
      if (mode !== 'nearest' && mode !== 'linear') {
        throw new InputError(`${node.opType} node "${name}" has mode "${mode}"; opset ${opset} defines only nearest and linear`, file);
      }
      // Resize-11 with "asymmetric" coordinates and floor rounding samples exactly as Upsample and Resize-10 did.
      const attributes: Record<string, AttrValue> = { mode, coordinate_transformation_mode: 'asymmetric' };
      if (mode === 'nearest') attributes.nearest_mode = 'floor';
      return rebuilt(node, 'Resize', [inputs[0], constant('roi', 'float32', [0], []), scales], attributes);
    }
    case 'Slice': {
      if (opset >= 10) break;
      const starts = attr(node, 'starts', 'ints');
      const ends = attr(node, 'ends', 'ints');
      if (!starts || !ends) throw new InputError(`Slice node "${name}" lacks its starts/ends attributes`, file);
      const axes = attr(node, 'axes', 'ints') ?? starts.map((_, i) => i);
      return rebuilt(node, 'Slice', [
        inputs[0],
        constant('starts', 'int64', [starts.length], starts.map(clampInt64)),
        constant('ends', 'int64', [ends.length], ends.map(clampInt64)),
        constant('axes', 'int64', [axes.length], axes),
      ]);
    }
    case 'Pad': {
      const pads = attr(node, 'pads', 'ints');
      if (!pads) throw new InputError(`Pad node "${name}" has no pads attribute`, file);
      const attributes: Record<string, AttrValue> = { mode: attr(node, 'mode', 'string') ?? 'constant' };
      const padInputs = [inputs[0], constant('pads', 'int64', [pads.length], pads)];
      const value = attr(node, 'value', 'float') ?? 0;
      if (value !== 0) padInputs.push(constant('pad_value', 'float32', [], [value]));
      return rebuilt(node, 'Pad', padInputs, attributes);
    }
    case 'Clip': {
      const min = attr(node, 'min', 'float');
      const max = attr(node, 'max', 'float');
      return rebuilt(node, 'Clip', [
        inputs[0],
        min === undefined ? '' : constant('clip_min', 'float32', [], [min]),
        max === undefined ? '' : constant('clip_max', 'float32', [], [max]),
      ].filter((x, i, all) => x !== '' || all.slice(i + 1).some((y) => y !== '')));
    }
    case 'BatchNormalization': {
      // BatchNormalization-7 had `spatial` (1 = per channel, the only form later opsets keep).
      const spatial = attr(node, 'spatial', 'int') ?? 1;
      if (spatial !== 1) {
        throw new InputError(`BatchNormalization node "${name}" has spatial=0 (per-element statistics), which no opset after 8 defines; re-export it with per-channel BatchNormalization`, file);
      }
      return { ...node, attribute: (node.attribute ?? []).filter((a) => a.name !== 'spatial') };
    }
    case 'TopK': {
      if (opset >= 10) break;
      const k = attr(node, 'k', 'int');
      if (k === undefined) throw new InputError(`TopK node "${name}" has no k attribute`, file);
      return rebuilt(node, 'TopK', [inputs[0], constant('k', 'int64', [1], [k])], keptAttributes(node, ['axis']));
    }
    default:
      break;
  }
  return node;
}

/** INT64 bounds that exporters write (e.g. 9223372036854775807 for "to the end") as the largest safe JS integer. */
function clampInt64(v: number): number {
  return Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, v));
}

function keptAttributes(node: onnx.INodeProto, names: readonly string[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const a of node.attribute ?? []) {
    if (!names.includes(a.name ?? '')) continue;
    if (a.type === AttributeType.INT) out[a.name!] = toNumber(a.i);
    else if (a.type === AttributeType.FLOAT) out[a.name!] = float(a.f ?? 0);
  }
  return out;
}

function rebuilt(node: onnx.INodeProto, opType: string, input: string[], attributes: Record<string, AttrValue> = {}): onnx.INodeProto {
  const attribute = Object.entries(attributes).map(([name, value]) => makeAttribute(name, value));
  return onnx.NodeProto.create({ ...node, opType, input, attribute });
}

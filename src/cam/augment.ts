import { buildBackward } from '../autodiff/index.ts';
import { makeTensor, makeValueInfo, toNodeProto, type AttrValue, type NodeSpec } from '../onnx/builder.ts';
import { InputError } from '../errors.ts';
import { nodesBetween } from '../onnx/graph.ts';
import type { InspectedModel } from '../onnx/inspect.ts';
import type { LayerCandidate } from '../onnx/layers.ts';
import { encodeModel } from '../onnx/model.ts';
import { DataType, onnx } from '../onnx/proto.ts';

/** Names of the tensors the augmented model adds. */
export const TARGET_INPUT = 'heatgate_target';
export const CLASS_OUTPUT = 'heatgate_class';

export interface AugmentedLayer {
  layer: LayerCandidate;
  activation: string;
  /** dScore/dA; absent for gradient-free augmentation. With an in-graph reduction it may broadcast to A (see ReductionInputs). */
  gradient?: string;
  /** The method's raw map [N, h, w] when the method reduces in the graph (then A and dA stay inside the session). */
  cam?: string;
}

/** What a method's in-graph reduction can emit: nodes and constants at the model's opset. */
export interface GraphOps {
  opset: number;
  op(opType: string, inputs: string[], attributes?: Record<string, AttrValue>, label?: string): string;
  constant(value: number | readonly number[], dtype?: 'float' | 'int64', dims?: readonly number[]): string;
}

/** What a method's in-graph reduction reads: A and dA of one layer. */
export interface ReductionInputs {
  /** A, in `layout`. */
  activation: string;
  /**
   * dScore/dA. Where `gradientDims` has 1 and `activationDims` does not, dA is constant along that axis and given
   * once (after a global pool: [N, C, 1, 1]); it broadcasts to A.
   */
  gradient: string;
  /** Probe dims (axis 0 is the batch, dynamic at run time). */
  activationDims: readonly number[];
  gradientDims: readonly number[];
  layout: 'NCHW' | 'NHWC';
}

/** A method's map as ONNX nodes: A and dA of one layer in, the raw map [N, h, w] after ReLU out. */
export type GraphReduction = (ops: GraphOps, inputs: ReductionInputs) => string;

export interface AugmentedModel {
  bytes: Uint8Array;
  logits: string;
  layers: AugmentedLayer[];
  /** Whether the model takes the int64 target input and returns the chosen class. */
  withGradients: boolean;
}

/**
 * Rewrites the classifier so one run returns logits, the target activations and, with gradients, dScore/dA:
 *   target (int64 [N], < 0 = predicted) → class = Where(target < 0, ArgMax(logits), target)
 *   dScore/dlogits = one-hot(class) → backward of the head → dA
 * The seed goes to the backward as class indices: a Gemm classifier turns it into one Gather of its weight rows, and
 * a one-hot matrix is built only for heads that need it dense. The user's model object is not modified.
 */
export function augmentModel(
  model: InspectedModel,
  layers: readonly LayerCandidate[],
  withGradients: boolean,
  reduction?: GraphReduction,
): AugmentedModel {
  const source = model.loaded.model;
  const graph = source.graph!;
  const nodes: onnx.NodeProto[] = [...(graph.node ?? [])] as onnx.NodeProto[];
  const initializers = [...(graph.initializer ?? [])];
  const inputs = [...(graph.input ?? [])];
  const outputs: onnx.IValueInfoProto[] = [...(graph.output ?? [])];
  const seen = new Set(outputs.map((o) => o.name));
  const addOutput = (name: string) => {
    if (!seen.has(name)) outputs.push({ name });
    seen.add(name);
  };
  const augmented: AugmentedLayer[] = layers.map((layer) => ({ layer, activation: layer.tensor }));
  const inGraph = withGradients && reduction !== undefined;
  if (!inGraph) for (const l of augmented) addOutput(l.activation);

  if (withGradients) {
    const p = 'heatgate/';
    inputs.push(makeValueInfo(TARGET_INPUT, DataType.INT64, ['N']));
    initializers.push(makeTensor(`${p}zero`, 'int64', [], [0]));
    const classSpecs: NodeSpec[] = [
      { opType: 'ArgMax', inputs: [model.logits], outputs: [`${p}argmax`], attributes: { axis: 1, keepdims: 0 } },
      { opType: 'Less', inputs: [TARGET_INPUT, `${p}zero`], outputs: [`${p}use_predicted`] },
      { opType: 'Where', inputs: [`${p}use_predicted`, `${p}argmax`, TARGET_INPUT], outputs: [CLASS_OUTPUT] },
    ];
    nodes.push(...classSpecs.map(toNodeProto));
    addOutput(CLASS_OUTPUT);
    augmented.forEach((l, i) => {
      const result = buildBackward({
        graph,
        index: model.index,
        from: l.activation,
        to: model.logits,
        seed: { classes: CLASS_OUTPUT },
        shapes: model.shapes,
        opset: model.loaded.opset,
        file: model.loaded.file,
        prefix: `heatgate_grad${i}/`,
        // A reduction inside the session broadcasts dA itself (Grad-CAM's channel means of a pooled head's dA are dA).
        broadcastGradient: reduction !== undefined,
      });
      nodes.push(...result.nodes);
      initializers.push(...result.initializers);
      l.gradient = result.gradient;
      if (reduction) {
        const ops = graphOps(`heatgate_cam${i}/`, model.loaded.opset, nodes, initializers);
        if (l.layer.layout === 'tokens') throw new Error(`in-graph reductions take 4-D maps; ${l.layer.tensor} holds tokens`);
        const activationDims = model.shapes.get(l.activation)?.dims;
        if (!activationDims) throw new Error(`no probed shape for the target activation ${l.activation}`);
        l.cam = reduction(ops, { activation: l.activation, gradient: result.gradient, activationDims, gradientDims: result.gradientDims, layout: l.layer.layout });
        addOutput(l.cam);
      } else {
        addOutput(result.gradient);
      }
    });
  }
  const out = onnx.ModelProto.create({
    ...source,
    graph: onnx.GraphProto.create({ ...graph, node: nodes, initializer: initializers, input: inputs, output: outputs }),
  });
  return { bytes: encodeModel(out, model.loaded), logits: model.logits, layers: augmented, withGradients };
}

function graphOps(prefix: string, opset: number, nodes: onnx.NodeProto[], initializers: onnx.ITensorProto[]): GraphOps {
  let count = 0;
  return {
    opset,
    op(opType, inputs, attributes, label) {
      const name = `${prefix}${label ?? opType}_${count++}`;
      nodes.push(toNodeProto({ opType, inputs, outputs: [name], attributes }));
      return name;
    },
    constant(value, dtype = 'float', dims) {
      const values = typeof value === 'number' ? [value] : [...value];
      const name = `${prefix}const_${count++}`;
      initializers.push(makeTensor(name, dtype === 'float' ? 'float32' : 'int64', dims ? [...dims] : typeof value === 'number' ? [] : [values.length], values));
      return name;
    },
  };
}

/**
 * The head as its own model: the target activation becomes the graph input and only the nodes between it and the
 * logits remain. Gradient-free methods that perturb activations (Ablation-CAM) batch their runs through it.
 */
export function cutHead(model: InspectedModel, layer: LayerCandidate): Uint8Array {
  const graph = model.loaded.model.graph!;
  const nodes = nodesBetween(model.index, layer.tensor, model.logits);
  const produced = new Set([layer.tensor, ...nodes.flatMap((n) => n.output ?? [])]);
  const initializers = new Map<string, onnx.ITensorProto>();
  const constantNodes = new Set<onnx.INodeProto>();
  const missing: string[] = [];
  // Weights may reach the head through Constant or Identity nodes (exporters deduplicate initializers that way):
  // take every node whose inputs are, recursively, initializers or constants.
  const resolve = (name: string): boolean => {
    if (!name || produced.has(name) || initializers.has(name)) return true;
    const init = model.index.initializers.get(name);
    if (init) {
      initializers.set(name, init);
      return true;
    }
    const producer = model.index.producers.get(name);
    if (!producer || !(producer.input ?? []).every(resolve)) return false;
    constantNodes.add(producer);
    return true;
  };
  for (const input of nodes.flatMap((n) => n.input ?? [])) if (!resolve(input)) missing.push(input);
  if (missing.length > 0) {
    throw new InputError(
      `the head after ${layer.tensor} also reads ${[...new Set(missing)].join(', ')}, which come from before the target layer; ` +
        'gradient-free methods that run the head alone need a target layer whose head depends on it only',
      model.loaded.file,
    );
  }
  const constants = (graph.node ?? []).filter((n) => constantNodes.has(n)); // graph order
  if (layer.layout === 'tokens') throw new InputError(`the head after the token layer ${layer.tensor} cannot run alone`, model.loaded.file);
  const dims: (number | string)[] = layer.layout === 'NCHW' ? ['N', layer.channels, layer.height, layer.width] : ['N', layer.height, layer.width, layer.channels];
  const head = onnx.ModelProto.create({
    ...model.loaded.model,
    graph: onnx.GraphProto.create({
      name: 'heatgate_head',
      node: [...constants, ...nodes],
      initializer: [...initializers.values()],
      input: [makeValueInfo(layer.tensor, DataType.FLOAT, dims)],
      output: [{ name: model.logits }],
    }),
  });
  return encodeModel(head);
}

import type { AttrValue } from '../onnx/builder.ts';
import type { onnx } from '../onnx/proto.ts';

/**
 * What a gradient rule sees of one forward node, after ONNX Runtime's gradient builder vocabulary
 * (I(i), O(i), GO(i), GI(i), IA(label)). Nodes a rule emits go through `op`, which names their outputs uniquely,
 * so a rule is only the maths.
 *
 * Shapes: `dims` are the dims observed in the probe run (batch 2, or 1 for fixed-batch exports). Only axis 0 of a
 * head tensor may depend on the batch: never bake dims[0] into a constant, use Shape nodes or -1/0 in Reshape.
 */
export interface GradContext {
  readonly node: onnx.INodeProto;
  /** The model's default-domain opset: every emitted node must be valid at it. */
  readonly opset: number;
  /** Input i's tensor name; '' for an absent optional input. */
  input(i: number): string;
  output(i: number): string;
  /** dScore/d(output i); zeros (of the output's runtime shape) when nothing flows into that output. */
  gradOutput(i: number): string;
  /**
   * When output i's gradient is exactly the caller's one-hot seed: its class indices (int64 [N]), so a rule can
   * gather the rows the one-hot matrix would select instead of multiplying by it. Undefined otherwise; gradOutput(i)
   * still gives the dense seed.
   */
  gradOutputClasses(i: number): string | undefined;
  /** Whether input i depends on the target activation through float tensors (so it wants a gradient). */
  needsGrad(i: number): boolean;
  /** Emits one node and returns its (single) output name; `label` makes the name readable. */
  op(opType: string, inputs: string[], attributes?: Record<string, AttrValue>, label?: string): string;
  /** Emits one node with `count` outputs. */
  opMulti(opType: string, inputs: string[], count: number, attributes?: Record<string, AttrValue>, label?: string): string[];
  /** A constant initializer: 'float' takes this node's float type (float32 or float64). */
  constant(value: number | readonly number[], dtype?: 'float' | 'int64', dims?: readonly number[]): string;
  /** Probe dims of a tensor; throws a clear error when the caller did not probe it. */
  dims(name: string): readonly number[];
  /** The ONNX element type of a tensor (DataType value). */
  elemType(name: string): number;
  /** Values of an initializer or Constant output, or undefined for a runtime tensor. */
  constantValues(name: string): number[] | undefined;
  /** Throws an InputError naming this node and its op. */
  fail(reason: string): never;
}

/**
 * Gradients aligned with node.input: null where the rule gives none (the driver raises a clear error if that input
 * needed one). `broadcastFrom[i]` gives the probe dims grads[i] has while it still carries broadcast axes: the
 * driver sums them away (ReduceSum + Reshape) down to input i's dims.
 */
export interface GradResult {
  grads: (string | null)[];
  broadcastFrom?: (readonly number[] | null)[];
  /**
   * `expandFrom[i]` gives the probe dims grads[i] has when it still has size-1 axes where input i is larger: it
   * stands for its broadcast to input i's shape. The driver expands it only where a consumer needs the full tensor
   * (another rule, or a caller that did not ask for `broadcastGradient`).
   */
  expandFrom?: (readonly number[] | null)[];
}

export type GradRule = (ctx: GradContext) => GradResult;

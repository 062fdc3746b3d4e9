import { add, div, mul, pow, sub } from './rules/arithmetic.ts';
import { averagePool } from './rules/average-pool.ts';
import { expand, where } from './rules/broadcast.ts';
import { clip } from './rules/clip.ts';
import { concat } from './rules/concat.ts';
import { conv } from './rules/conv.ts';
import { fusedConv, fusedGemm } from './rules/fused.ts';
import { gather } from './rules/gather.ts';
import { gemm } from './rules/gemm.ts';
import { globalAveragePool, globalMaxPool } from './rules/global-pool.ts';
import { hardSigmoid, hardSwish } from './rules/hard-activations.ts';
import { cast, dropout, identity } from './rules/identity.ts';
import { matMul } from './rules/matmul.ts';
import { maxPool } from './rules/max-pool.ts';
import { batchNormalization, layerNormalization } from './rules/normalization.ts';
import { pad } from './rules/pad.ts';
import { reduceMeanRule, reduceSumRule } from './rules/reduce.ts';
import { leakyRelu, prelu, relu } from './rules/relu.ts';
import { reshapeBack } from './rules/reshape.ts';
import { resize } from './rules/resize.ts';
import { lrn, mean, sum } from './rules/lrn.ts';
import { sliceRule } from './rules/slice.ts';
import { erf, exp, gelu, log, neg, reciprocal, sigmoid, sqrt, tanh } from './rules/smooth.ts';
import { logSoftmax, softmax } from './rules/softmax.ts';
import { split } from './rules/split.ts';
import { transpose } from './rules/transpose.ts';
import type { GradRule } from './types.ts';

/** The one map from op type to gradient rule (ai.onnx ops by name, other domains as `domain.OpType`). */
export const GRAD_RULES: ReadonlyMap<string, GradRule> = new Map<string, GradRule>([
  // linear
  ['Conv', conv], ['Gemm', gemm], ['MatMul', matMul],
  // elementwise arithmetic (broadcasting)
  ['Add', add], ['Sum', sum], ['Mean', mean], ['Sub', sub], ['Mul', mul], ['Div', div], ['Pow', pow], ['Neg', neg], ['Reciprocal', reciprocal],
  ['Exp', exp], ['Log', log], ['Where', where], ['Expand', expand],
  // activations
  ['Relu', relu], ['LeakyRelu', leakyRelu], ['PRelu', prelu], ['Clip', clip], ['Sigmoid', sigmoid],
  ['HardSigmoid', hardSigmoid], ['HardSwish', hardSwish], ['Tanh', tanh], ['Erf', erf], ['Gelu', gelu], ['Sqrt', sqrt],
  ['Softmax', softmax], ['LogSoftmax', logSoftmax],
  // normalisation
  ['BatchNormalization', batchNormalization], ['LRN', lrn], ['LayerNormalization', layerNormalization],
  // pooling and reductions
  ['GlobalAveragePool', globalAveragePool], ['GlobalMaxPool', globalMaxPool], ['AveragePool', averagePool],
  ['MaxPool', maxPool], ['ReduceMean', reduceMeanRule], ['ReduceSum', reduceSumRule],
  // data movement
  ['Flatten', reshapeBack], ['Reshape', reshapeBack], ['Squeeze', reshapeBack], ['Unsqueeze', reshapeBack],
  ['Transpose', transpose], ['Concat', concat], ['Split', split], ['Slice', sliceRule], ['Pad', pad],
  ['Gather', gather], ['Identity', identity], ['Dropout', dropout], ['Cast', cast], ['Resize', resize],
  // ONNX Runtime's fused ops (models saved after ORT graph optimisation); keys outside ai.onnx carry their domain
  ['com.microsoft.FusedConv', fusedConv], ['com.microsoft.FusedGemm', fusedGemm],
]);

/** Shape plumbing: on the path, but no gradient flows through their outputs. */
export const NON_DIFFERENTIABLE: ReadonlySet<string> = new Set(['Shape', 'Size', 'Constant', 'ConstantOfShape', 'ArgMax']);

/** The registry key of a node: its op type, prefixed by its domain outside ai.onnx. */
export function opKey(opType: string, domain: string | null | undefined): string {
  return !domain || domain === 'ai.onnx' ? opType : `${domain}.${opType}`;
}

export function ruleFor(key: string): GradRule | undefined {
  return GRAD_RULES.get(key);
}

/** Every op type the builder accepts on the path, sorted. */
export function supportedOps(): string[] {
  return [...GRAD_RULES.keys(), ...NON_DIFFERENTIABLE].sort();
}

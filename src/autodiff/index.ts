export { buildBackward, type BackwardRequest, type BackwardResult } from './backward.ts';
export { GRAD_RULES, NON_DIFFERENTIABLE, supportedOps } from './registry.ts';
export type { GradContext, GradResult, GradRule } from './types.ts';

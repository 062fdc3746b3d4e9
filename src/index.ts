/**
 * heatgate's library surface: `import { explainImages, runGate, Explainer } from 'heatgate'`. The CLI only wires these.
 */
export { Explainer, type Explanation, type ExplainerOptions } from './cam/explainer.ts';
export { METHODS, methodFor } from './cam/methods.ts';
export type { CamMethod, CamInput, FeatureMap } from './cam/base.ts';
export { augmentModel, cutHead } from './cam/augment.ts';
export { buildBackward, GRAD_RULES, supportedOps } from './autodiff/index.ts';
export { inspectModel, type InspectedModel } from './onnx/inspect.ts';
export { layerCandidates, defaultLayer, chooseLayers, type LayerCandidate } from './onnx/layers.ts';
export { loadModel, saveModel, encodeModel, decodeModel } from './onnx/model.ts';
export { explainImages, type ExplainRunOptions, type ExplainSummary } from './pipeline/explain.ts';
export { runGate, type RunOptions, type RunResult } from './pipeline/run.ts';
export { mergeShards, type MergeOptions, type MergeResult } from './pipeline/merge.ts';
export * from './analysis/index.ts';
export * from './gate/index.ts';
export * from './report/index.ts';
export type { InputNotice } from './notices.ts';
export * from './imaging/index.ts';
export * from './errors.ts';
export * from './storage/index.ts';

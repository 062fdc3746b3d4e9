import { sanityCheck, type SanityStep } from '../analysis/sanity.ts';
import { ConfigError } from '../errors.ts';
import type { SanityRule } from '../gate/policy.ts';
import type { GateCheck } from '../gate/verdict.ts';
import { prepareImage } from '../imaging/index.ts';
import { inspectModel } from '../onnx/inspect.ts';
import { joinUri, parseLocation } from '../storage/location.ts';
import { defaultStorage } from '../storage/storage.ts';
import { channelOrderFor, resolveNormalization, type ExplainRunOptions, type PreprocessingOptions } from './explain.ts';

/** Defaults of the policy's `sanity` section (policy.schema.json). */
export const SANITY_DEFAULTS: Required<SanityRule> = { measure: 'spearman', max: 0.5, sample: 8, seed: 42, cascade: 'all' };

/** The explanation and preprocessing settings of the run it checks, plus the sample and the rule. */
export interface SanityRunOptions extends PreprocessingOptions, Pick<ExplainRunOptions, 'layers' | 'method' | 'tokens' | 'resize' | 'storage'> {
  /** Images root and the images under it (sorted); the first `rule.sample` are used. */
  imagesRoot: string;
  images: readonly string[];
  rule: Required<SanityRule>;
}

/** sanity.json: the rule, the outcome and every step (report.html draws it when modelSha256 matches the run's). */
export interface SanityOutcome {
  verdict: 'pass' | 'fail';
  rule: Required<SanityRule>;
  layer: string;
  method: string;
  modelSha256: string;
  images: string[];
  value: number;
  steps: SanityStep[];
}

export function checkSanityRule(rule: Required<SanityRule>): void {
  if (!Number.isInteger(rule.sample) || rule.sample < 1) throw new ConfigError(`sanity sample must be a positive integer, got ${rule.sample}`);
  if (!Number.isInteger(rule.seed) || rule.seed < 0) throw new ConfigError(`sanity seed must be a non-negative integer, got ${rule.seed}`);
  if (!(rule.max >= -1 && rule.max <= 1)) throw new ConfigError(`sanity max must lie in [-1, 1], got ${rule.max}`);
}

/** The model-parameter randomization test on the first `sample` images, preprocessed as `run` does. */
export async function runSanity(options: SanityRunOptions): Promise<SanityOutcome> {
  const { rule } = options;
  checkSanityRule(rule);
  const storage = options.storage ?? defaultStorage();
  const model = await inspectModel(options.model, { tokens: options.tokens }, { storage });
  const files = options.images.slice(0, rule.sample);
  if (files.length === 0) throw new ConfigError(`--images ${options.imagesRoot}: no images for the sanity check`);
  // The same preprocessing as the run it checks: presets, mean/std (flags or metadata) and channel order.
  const preprocess = {
    width: model.width,
    height: model.height,
    channels: model.input.channels as 1 | 3,
    layout: model.input.layout,
    resize: options.resize ?? 'resize',
    normalization: resolveNormalization(options, model.metadata),
    channelOrder: channelOrderFor(options, model.metadata),
  };
  const read = (f: string) => storage.read(parseLocation(joinUri(options.imagesRoot, f, '--images'), '--images'));
  const tensors = await Promise.all(files.map(async (f) => (await prepareImage(await read(f), preprocess, f)).tensor));
  const method = options.method ?? 'gradcam';
  const { layer, steps } = await sanityCheck(model, tensors, { layers: options.layers, method, seed: rule.seed, cascade: rule.cascade, tokens: options.tokens });
  const value = steps.at(-1)![rule.measure];
  const modelSha256 = model.loaded.sha256;
  return { verdict: value <= rule.max ? 'pass' : 'fail', rule, layer, method, modelSha256, images: [...files], value, steps };
}

/** The outcome as a gate check of verdict.json. */
export function sanityGateCheck(outcome: SanityOutcome): GateCheck {
  const { rule, value, steps } = outcome;
  return {
    name: 'sanity',
    measured: value,
    threshold: rule.max,
    comparison: '<=',
    outcome: outcome.verdict,
    message:
      `sanity: ${rule.measure} of the maps after randomizing ${steps.length - 1} layer(s) = ${value.toFixed(4)} (<= ${rule.max})` +
      (outcome.verdict === 'fail' ? ': the maps stay similar when the weights are randomized (they show the image, not what the model uses)' : ''),
  };
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createAnalyser } from '../analysis/analyser.ts';
import { METRIC_NAMES } from '../analysis/metrics/registry.ts';
import type { RegionConfig } from '../analysis/regions.ts';
import { ConfigError } from '../errors.ts';
import { gateResults, type GateResult } from '../gate/gate.ts';
import { DEFAULT_POLICY_FILE, parsePolicy, type Policy } from '../gate/policy.ts';
import type { InputNotice } from '../notices.ts';
import { explainImages, type ExplainRunOptions, type ExplainSummary } from './explain.ts';
import { checkInputs } from './inputs.ts';

export interface RunOptions extends Omit<ExplainRunOptions, 'analyser' | 'inputs' | 'onModel'> {
  /** The model in production, analysed on the same images for the policy's baseline rules. */
  baselineModel?: string;
  policy?: string;
  invalidMasks?: string;
  roiMasks?: string;
  /** COCO annotations; the policy's regions.coco maps category names to roi/invalid. Without --labels they also give
   * the labels (the class named like an annotated category; `cocoEmptyClass` for images with none). */
  coco?: string;
  cocoEmptyClass?: string;
}

export interface RunResult {
  gate: GateResult;
  explained: ExplainSummary;
  baseline?: ExplainSummary;
  /** Everything about the inputs that was left out, and why (also in verdict.json, summary.md, report.html). */
  notices: InputNotice[];
}

/**
 * `heatgate run`: explain + analyse in one streaming pass per model (results.jsonl, overlays), then the gate over
 * the results (verdict.json, metrics, summary.md, report.html). With --resume an interrupted run continues.
 */
export async function runGate(options: RunOptions): Promise<RunResult> {
  // Every named path first: a typo fails here, before the model loads or any output is written.
  const inputs = await checkInputs(options);
  const policyFile = options.policy;
  const policyText = readPolicyText(policyFile);
  const policyName = policyFile ?? 'default-policy.yaml';
  const policy = parsePolicy(policyText, policyName, { metrics: METRIC_NAMES });
  const regions = regionConfig(options, policy);
  // One analyser for the model and its baseline: regions (and the COCO index) are loaded once per run.
  // The region paths here all come from the command line, so they are relative to the working directory (a path
  // the policy named would resolve against the policy's folder: the README's rule).
  const analyser = await createAnalyser({
    regions,
    regionOptions: { baseDir: process.cwd(), configFile: policyFile },
    occlusion: { fill: policy.analysis?.occlusionFill ?? 'mean' },
    pointingTolerancePx: policy.analysis?.pointingTolerancePx,
  });
  const regionNotices = analyser.inputNotices(inputs.images);
  const cocoLabels = options.coco && !options.labels ? { file: options.coco, emptyClass: options.cocoEmptyClass } : undefined;
  // The policy's class names against the model's, once they are known and before any image is read.
  const onModel = (model: { classes: number; classNames?: string[] }) => checkPolicyClasses(policyText, policyName, policy, model);
  const explained = await explainImages({ ...options, inputs, cocoLabels, analyser, onModel });
  let baseline: ExplainSummary | undefined;
  if (options.baselineModel) {
    baseline = await explainImages({
      ...options,
      model: options.baselineModel,
      out: path.join(options.out, 'baseline'),
      inputs,
      cocoLabels,
      overlays: false,
      saveRaw: false,
      analyser,
      onModel,
    });
  }
  const notices = [...explained.notices, ...regionNotices];
  const gate = await gateResults({
    results: path.join(options.out, 'results.jsonl'),
    policy: policyFile,
    baselineResults: options.baselineModel ? path.join(options.out, 'baseline', 'results.jsonl') : undefined,
    outDir: options.out,
    metrics: METRIC_NAMES,
    fingerprints: { model: explained.modelSha256, data: explained.dataSha256, ...(baseline && { baseline: baseline.modelSha256 }) },
    notices,
  });
  return { gate, explained, baseline, notices };
}

/**
 * A rule for a class the model does not have can never get data: exit 2 before any image, naming the classes.
 * Names need the model's class names (--classes or heatgate.classes metadata); indices must be below its class count.
 */
function checkPolicyClasses(text: string, file: string, policy: Policy, model: { classes: number; classNames?: string[] }): void {
  const rules = [...policy.rules, ...policy.baseline].filter((r) => r.class !== undefined && r.class !== 'each');
  const named = rules.filter((r) => typeof r.class === 'string');
  if (named.length > 0 && !model.classNames) {
    throw new ConfigError(
      `rules ${named.map((r) => `"${r.name}" (class "${r.class}")`).join(', ')} name classes, but the model has no class ` +
        'names: pass --classes or store heatgate.classes in the model',
      file,
    );
  }
  const outOfRange = rules.filter((r) => typeof r.class === 'number' && (r.class < 0 || r.class >= model.classes));
  if (outOfRange.length > 0) {
    throw new ConfigError(
      `rules ${outOfRange.map((r) => `"${r.name}" (class ${r.class})`).join(', ')} name a class index the model lacks (it has ${model.classes} classes)`,
      file,
    );
  }
  if (model.classNames) parsePolicy(text, file, { metrics: METRIC_NAMES, classes: model.classNames });
}

function readPolicyText(file: string | undefined): string {
  try {
    return readFileSync(file ?? DEFAULT_POLICY_FILE, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read policy file (${(error as NodeJS.ErrnoException).code ?? String(error)})`, file);
  }
}

function regionConfig(options: RunOptions, policy: Policy): RegionConfig | undefined {
  if (options.coco && !policy.regions?.coco) {
    throw new ConfigError(
      '--coco needs the policy to say which categories are the object and which are invalid pixels ' +
        '(regions: {coco: {roi: [names], invalid: [names]}})',
      options.policy ?? 'default policy',
    );
  }
  const config: RegionConfig = {
    ...(options.invalidMasks && { invalidMasks: options.invalidMasks }),
    ...(options.roiMasks && { roiMasks: options.roiMasks }),
    ...(options.coco && { coco: { file: options.coco, categories: policy.regions!.coco! } }),
    ...(policy.regions?.static && { static: policy.regions.static }),
  };
  return Object.keys(config).length > 0 ? config : undefined;
}

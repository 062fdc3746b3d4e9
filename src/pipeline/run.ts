import { createAnalyser } from '../analysis/analyser.ts';
import { loadCoco } from '../analysis/coco.ts';
import { METRIC_NAMES, needsExtraPasses, readsOcclusion } from '../analysis/metrics/registry.ts';
import type { RegionConfig } from '../analysis/regions.ts';
import { ConfigError } from '../errors.ts';
import { resolvePolicy } from '../gate/gate.ts';
import { checkPolicyClasses, type Policy } from '../gate/policy.ts';
import type { InputNotice } from '../notices.ts';
import type { EvaluatedResults } from '../gate/gate.ts';
import { gateResults, type GateResult } from '../report/gate-results.ts';
import { DEFAULT_GALLERY_SIZE, type GalleryRenderer } from './image-outputs.ts';
import { joinUri, parseLocation } from '../storage/location.ts';
import { defaultStorage } from '../storage/storage.ts';
import { explainImages, type ExplainRunOptions, type ExplainSummary } from './explain.ts';
import { checkInputs } from './inputs.ts';
import { runSanity, SANITY_DEFAULTS, sanityGateCheck, type SanityOutcome } from './sanity-run.ts';

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
  const storage = options.storage ?? defaultStorage();
  const inputs = await checkInputs(options, storage);
  const policyFile = options.policy;
  // The one read of the policy in a run: the gate gets the parsed Policy.
  const policy = await resolvePolicy(policyFile, { metrics: METRIC_NAMES }, storage);
  const regions = regionConfig(options, policy);
  // One analyser for the model and its baseline: regions (and the COCO index) are loaded once per run.
  // The region paths here all come from the command line, so they are relative to the working directory (a path
  // the policy named would resolve against the policy's folder: the README's rule).
  const analyser = await createAnalyser({
    regions,
    regionOptions: { baseDir: process.cwd(), configFile: policyFile, storage },
    // The occlusion counterfactual doubles the batch's session call: only when a rule reads one of its metrics.
    occlusion: wantsOcclusion(policy) && { fill: policy.analysis?.occlusionFill ?? 'mean' },
    // Faithfulness costs extra forward passes: only when the policy configures it or a rule names one of its metrics.
    ...(wantsFaithfulness(policy) && { faithfulness: policy.analysis?.faithfulness ?? {}, images: inputs.images }),
    ...(pointingTolerance(policy) && { pointingTolerance: pointingTolerance(policy) }),
  });
  const regionNotices = analyser.inputNotices(inputs.images);
  // Labels from COCO: parsed once for the model and its baseline (a failure surfaces where the labels are awaited).
  const cocoIndex = options.coco && !options.labels ? loadCoco(options.coco, {}, undefined, {}, storage) : undefined;
  cocoIndex?.catch(() => {});
  const cocoLabels = cocoIndex && { file: options.coco!, emptyClass: options.cocoEmptyClass, index: cocoIndex };
  const context = {
    command: 'run',
    policy: { file: policyFile ?? 'default', sha256: policy.source.sha256 },
    invalidMasks: options.invalidMasks,
    roiMasks: options.roiMasks,
    coco: options.coco,
  };
  // The policy's class names against the model's, once they are known and before any image is read.
  const onModel = (model: { classes: number; classNames?: string[] }) => checkPolicyClasses(policy, model);
  const explained = await explainImages({
    ...options,
    storage,
    inputs,
    cocoLabels,
    analyser,
    onModel,
    context: { ...context, baselineModel: options.baselineModel },
    // `worst`: the raw maps of the images the policy's rules can pick are kept for the gallery, rendered after the gate.
    galleryPolicy: policy,
  });
  let baseline: ExplainSummary | undefined;
  if (options.baselineModel) {
    baseline = await explainImages({
      ...options,
      model: options.baselineModel,
      storage,
      out: joinUri(options.out, 'baseline', '--out'),
      inputs,
      cocoLabels,
      context: { ...context, command: 'run (baseline model)' },
      overlays: false,
      saveRaw: false,
      // The baseline's faithfulness costs as much as the model's: only when a baseline rule reads it.
      analyser: policy.baseline.some((r) => needsExtraPasses(r.metric)) ? analyser : analyser.withoutFaithfulness(),
      onModel,
    });
  }
  // The policy's sanity check: the model's weights randomized from the logits down must change the maps.
  let sanity: SanityOutcome | undefined;
  if (policy.sanity) {
    sanity = await runSanity({
      model: options.model, imagesRoot: options.images, images: inputs.images, rule: { ...SANITY_DEFAULTS, ...policy.sanity },
      layers: options.layers, method: options.method, tokens: options.tokens, normalize: options.normalize, mean: options.mean, std: options.std, channels: options.channels, resize: options.resize,
      storage,
    });
    await storage.write(parseLocation(joinUri(options.out, 'sanity.json', '--out'), '--out'), `${JSON.stringify(sanity, null, 2)}\n`);
  }
  // The baseline model reads the same inputs, so its notices would repeat the model's.
  const notices = [...explained.notices, ...regionNotices];
  const gate = await gateResults({
    worstCount: options.gallerySize ?? DEFAULT_GALLERY_SIZE,
    // The galleries' overlays, when they were left to the end (--overlays worst): only the images the gate picked.
    ...(explained.gallery && { beforeReport: (evaluated: EvaluatedResults) => renderGallery(evaluated, explained.gallery!) }),
    storage,
    results: joinUri(options.out, 'results.jsonl', '--out'),
    policy,
    ...(shorterSide(explained) !== undefined && { inputShorterSide: shorterSide(explained) }),
    baselineResults: options.baselineModel ? joinUri(options.out, 'baseline/results.jsonl', '--out') : undefined,
    outDir: options.out,
    metrics: METRIC_NAMES,
    fingerprints: { model: explained.modelSha256, data: explained.dataSha256, ...(baseline && { baseline: baseline.modelSha256 }) },
    notices,
    ...(sanity && { extraChecks: [sanityGateCheck(sanity)] }),
  });
  return { gate, explained, baseline, notices };
}

function pointingTolerance(policy: Policy): { fraction: number } | { px: number } | undefined {
  const a = policy.analysis;
  if (a?.pointingTolerancePx !== undefined) return { px: a.pointingTolerancePx };
  return a?.pointingTolerance !== undefined ? { fraction: a.pointingTolerance } : undefined;
}

/** The model input's shorter side from the explainer's "NCHW 3x224x224". */
function shorterSide(summary: ExplainSummary): number | undefined {
  const m = /(\d+)x(\d+)x(\d+)$/.exec(summary.explainer.input);
  return m ? Math.min(Number(m[2]), Number(m[3])) : undefined;
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

/** Whether a rule reads a metric of the occlusion counterfactual (the registry's readsOcclusion). */
export function wantsOcclusion(policy: Pick<Policy, 'rules' | 'baseline'>): boolean {
  return [...policy.rules, ...policy.baseline].some((r) => readsOcclusion(r.metric));
}

/**
 * Renders the overlays of every gallery's images (each image once, however many galleries show it) and points the
 * verdict (and so the report) at them.
 */
async function renderGallery(evaluated: EvaluatedResults, gallery: GalleryRenderer): Promise<void> {
  const refs = evaluated.verdict.galleries.flatMap((g) => g.images);
  const rendered = await gallery.render(refs.map((r) => r.image));
  for (const ref of refs) {
    const overlay = rendered.get(ref.image);
    if (overlay) ref.overlay = overlay;
  }
}

function wantsFaithfulness(policy: Policy): boolean {
  return policy.analysis?.faithfulness !== undefined || [...policy.rules, ...policy.baseline].some((r) => needsExtraPasses(r.metric));
}

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Argv } from 'yargs';
import type { SanityStep } from '../../analysis/sanity.ts';
import { ConfigError, EXIT_CODES } from '../../errors.ts';
import { loadPolicy, type SanityRule } from '../../gate/policy.ts';
import { listImages } from '../../imaging/index.ts';
import { checkPath } from '../../pipeline/inputs.ts';
import { writeFileAtomic } from '../../storage/atomic.ts';
import { checkSanityRule, runSanity, SANITY_DEFAULTS } from '../../pipeline/sanity-run.ts';
import { tokenOptionsFrom } from './options.ts';
import type { HeatgateCommand } from './types.ts';


/** One line per step: what was randomized and how similar the maps still are. */
export function sanityTable(steps: readonly SanityStep[]): string[] {
  const rows = steps.map((s) => [
    String(s.step),
    s.layer ? `${s.layer.opType} ${s.layer.node}` : '(original)',
    s.spearman.toFixed(4),
    s.spearmanAbs.toFixed(4),
    s.ssim.toFixed(4),
  ]);
  const header = ['step', 'randomized (cumulative, from the logits)', 'spearman', 'spearmanAbs', 'ssim'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd());
}

/** `heatgate sanity`: the model-parameter randomization test (analysis/sanity.ts); exit 1 when the maps stay similar. */
export const sanityCommand: HeatgateCommand = {
  command: 'sanity',
  describe: "Sanity check (Adebayo et al. 2018): randomize the head's weights from the logits down; the maps must change",
  builder: (y: Argv) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'ONNX image classifier' })
      .option('images', { type: 'string', demandOption: true, describe: 'folder of images; the first --sample in sorted order are used' })
      .option('policy', { type: 'string', describe: 'policy file whose `sanity` section sets the rule (measure, max, sample, seed, cascade)' })
      .option('sample', { type: 'number', describe: `images to recompute (default ${SANITY_DEFAULTS.sample})` })
      .option('seed', { type: 'number', describe: `seed of the weight draws (default ${SANITY_DEFAULTS.seed})` })
      .option('cascade', { choices: ['head', 'all'] as const, describe: 'randomize every layer from the logits down to the input (all, default: Adebayo et al.) or only the head after the target layer' })
      .option('max', { type: 'number', describe: `fail when the mean similarity after the last step is above this (default ${SANITY_DEFAULTS.max})` })
      .option('measure', { choices: ['spearman', 'spearmanAbs', 'ssim'] as const, describe: 'the similarity the rule reads (default spearman)' })
      .option('layer', { type: 'string', array: true, describe: 'target tensor; default: the automatic choice' })
      .option('method', { type: 'string', default: 'gradcam', describe: 'CAM method' })
      .option('normalize', { choices: ['imagenet', 'unit', 'raw'] as const, describe: 'pixel normalisation (default: model metadata heatgate.normalize, else imagenet)' })
      .option('tokens-grid', { type: 'string', describe: 'transformer token layers: the patch grid HxW' })
      .option('skip-tokens', { type: 'number', describe: 'transformer token layers: leading tokens that are not patches' })
      .option('out', { type: 'string', describe: 'folder for sanity.json' })
      .option('fail', { type: 'boolean', default: true, describe: 'exit 1 when the check fails (--no-fail: exit 0)' }),
  handler: async (args) => {
    if (args.policy !== undefined) await checkPath('--policy', args.policy, 'file');
    await checkPath('--model', args.model, 'file');
    await checkPath('--images', args.images, 'folder');
    const fromPolicy = args.policy !== undefined ? (loadPolicy(args.policy).sanity ?? {}) : {};
    const rule: Required<SanityRule> = { ...SANITY_DEFAULTS, ...fromPolicy };
    for (const key of ['measure', 'max', 'sample', 'seed', 'cascade'] as const) if (args[key] !== undefined) Object.assign(rule, { [key]: args[key] });
    checkSanityRule(rule);
    const images = await listImages(args.images);
    if (images.length === 0) throw new ConfigError(`--images ${args.images}: no images found`);
    const outcome = await runSanity({
      model: args.model, imagesRoot: args.images, images, rule, layers: args.layer, method: args.method, tokens: tokenOptionsFrom(args), normalize: args.normalize,
    });
    const passed = outcome.verdict === 'pass';
    const lines = [
      `heatgate sanity: ${passed ? 'PASS' : 'FAIL'}  ${rule.measure} after randomizing ${outcome.steps.length - 1} layer(s) = ${outcome.value.toFixed(4)} (<= ${rule.max}), ` +
        `${outcome.images.length} image(s), ${outcome.method} at ${outcome.layer}`,
      ...sanityTable(outcome.steps).map((l) => `  ${l}`),
    ];
    if (!passed) lines.push('  the maps stay similar when the weights are randomized: they show the image, not what the model uses');
    process.stdout.write(`${lines.join('\n')}\n`);
    if (args.out !== undefined) {
      await mkdir(args.out, { recursive: true });
      await writeFileAtomic(path.join(args.out, 'sanity.json'), `${JSON.stringify(outcome, null, 2)}\n`);
    }
    return passed || !args.fail ? EXIT_CODES.pass : EXIT_CODES.gateFailed;
  },
};

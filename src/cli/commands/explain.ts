import { EXIT_CODES } from '../../errors.ts';
import { explainImages } from '../../pipeline/explain.ts';
import { explainFlags, explainOptionsFrom } from './options.ts';
import type { HeatgateCommand } from './types.ts';

export const explainCommand: HeatgateCommand = {
  command: 'explain',
  describe: 'Compute CAM heatmaps for a folder of images: results.jsonl, overlays, raw maps',
  builder: (y) => explainFlags(y),
  handler: async (args) => {
    const summary = await explainImages(explainOptionsFrom(args));
    for (const n of summary.notices) process.stderr.write(`heatgate: notice: ${n.source}${n.file ? ` ${n.file}` : ''}: ${n.message}${n.examples.length > 0 ? ` (e.g. ${n.examples.slice(0, 3).join(', ')})` : ''}\n`);
    for (const e of summary.errors) process.stderr.write(`heatgate: error: ${e.error}\n`);
    // Counts cover the whole results.jsonl, resumed images included, as verdict.json does.
    process.stderr.write(
      `heatgate: explained ${summary.processed} images (${summary.resumed} resumed, ${summary.errors.length} failed) with ` +
        `${summary.explainer.method} at ${summary.explainer.layers.join(', ')} on ${summary.explainer.provider} in ${summary.seconds.toFixed(1)} s; ` +
        `results in ${args.out}/results.jsonl\n`,
    );
    return summary.errors.length > 0 ? EXIT_CODES.inputData : EXIT_CODES.pass;
  },
};

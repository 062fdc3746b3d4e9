import { EXIT_CODES } from '../../errors.ts';
import { log, logNotice } from '../../log.ts';
import { explainImages } from '../../pipeline/explain.ts';
import { explainFlags, explainOptionsFrom } from './options.ts';
import type { HeatgateCommand } from './types.ts';

export const explainCommand: HeatgateCommand = {
  command: 'explain',
  describe: 'Compute CAM heatmaps for a folder of images: results.jsonl, overlays, raw maps',
  builder: (y) => explainFlags(y),
  handler: async (args) => {
    const summary = await explainImages(explainOptionsFrom(args));
    for (const n of summary.notices) logNotice(n);
    for (const e of summary.errors) log.error(e.error, { image: e.image });
    // Counts cover the whole results.jsonl, resumed images included, as verdict.json does.
    const { explainer } = summary;
    log.info(
      `explained ${summary.processed} images (${summary.resumed} resumed, ${summary.errors.length} failed) with ` +
        `${explainer.method} at ${explainer.layers.join(', ')} on ${explainer.provider} (${explainer.providerReason}) in ${summary.seconds.toFixed(1)} s; ` +
        `results in ${args.out}/results.jsonl`,
      { event: 'summary', processed: summary.processed, resumed: summary.resumed, failed: summary.errors.length, ...explainer, results: `${args.out}/results.jsonl` },
    );
    return summary.errors.length > 0 ? EXIT_CODES.inputData : EXIT_CODES.pass;
  },
};

import { EXIT_CODES } from '../../errors.ts';
import { logNotice } from '../../log.ts';
import { runGate } from '../../pipeline/run.ts';
import { formatNumber } from '../../gate/verdict.ts';
import type { RunResult } from '../../pipeline/run.ts';
import { explainFlags, explainOptionsFrom } from './options.ts';
import type { HeatgateCommand } from './types.ts';

export const runCommand: HeatgateCommand = {
  command: 'run',
  describe: 'Explain, analyse and gate in one pass: results.jsonl, verdict.json, metrics, summary.md, report.html',
  builder: (y) =>
    explainFlags(y)
      .option('policy', { type: 'string', describe: 'gate policy (YAML or JSON); default: the built-in default policy' })
      .option('baseline-model', { type: 'string', describe: 'the production model, for the policy\'s baseline rules' })
      .option('invalid-masks', { type: 'string', describe: 'folder of invalid-pixel masks (same relative paths as the images; > 127 = inside)' })
      .option('roi-masks', { type: 'string', describe: 'folder of object (ROI) masks' })
      .option('coco', { type: 'string', describe: 'COCO annotations JSON; the policy maps categories to roles; without --labels it gives the labels too' })
      .option('coco-empty-class', { type: 'string', describe: 'with --coco: the label of images with no annotated class (e.g. "empty")' })
      .option('fail', { type: 'boolean', default: true, describe: 'exit 1 when the gate fails (--no-fail: always exit 0)' }),
  handler: async (args) => {
    const result = await runGate({
      ...explainOptionsFrom(args, ['policy', 'baseline-model', 'invalid-masks', 'roi-masks', 'coco']),
      policy: args.policy,
      baselineModel: args.baselineModel,
      invalidMasks: args.invalidMasks,
      roiMasks: args.roiMasks,
      coco: args.coco,
      cocoEmptyClass: args.cocoEmptyClass,
    });
    for (const n of result.notices) logNotice(n);
    process.stdout.write(describeRun(result));
    return result.gate.verdict.verdict === 'fail' && args.fail ? EXIT_CODES.gateFailed : EXIT_CODES.pass;
  },
};

/** The lines a person reads after a run: verdict, why, which images, where the report is. */
export function describeRun({ gate, explained }: RunResult): string {
  const v = gate.verdict;
  const lines = [
    // The same counts as verdict.json (the whole results.jsonl); resumed images are said separately.
    `heatgate: ${v.verdict.toUpperCase()}  ${v.counts.processed} images${explained.resumed ? ` (${explained.resumed} resumed)` : ''}, ` +
      `${v.counts.errors} errors, ` +
      `${explained.explainer.method} at ${explained.explainer.layers.join(', ')} (${explained.seconds.toFixed(1)} s)`,
  ];
  for (const rule of v.rules) {
    const mark = { pass: 'ok  ', fail: 'FAIL', warn: 'warn', skipped: 'skip' }[rule.outcome];
    const threshold = Array.isArray(rule.threshold) ? rule.threshold.map(formatNumber).join('..') : formatNumber(rule.threshold);
    const what = `${rule.metric} ${rule.aggregate}${rule.value !== undefined ? `(${rule.value})` : ''}${rule.kind === 'change' ? ' change vs baseline' : ''}`;
    lines.push(
      rule.outcome === 'skipped'
        ? `  ${mark} ${rule.name}: ${rule.message}`
        : `  ${mark} ${rule.name}: ${what} = ${formatNumber(rule.measured)} (${rule.comparison} ${threshold})`,
    );
  }
  for (const check of v.checks) if (check.outcome === 'fail') lines.push(`  FAIL ${check.message}`);
  // One line per failing rule's gallery (verdict.galleries), as the report shows them.
  const failed = new Set(v.rules.filter((r) => r.outcome === 'fail').map((r) => r.name));
  for (const gallery of v.verdict === 'fail' ? v.galleries.filter((g) => failed.has(g.rule)) : []) {
    const worst = gallery.images.slice(0, 5).map((i) => `${i.image} (${formatNumber(i.value)})`);
    lines.push(`  worst images by ${gallery.metric} (${gallery.rule}${gallery.class !== null ? `, class ${gallery.class}` : ''}): ${worst.join(', ')}`);
  }
  lines.push(`  report: ${gate.outputs.report}`, `  verdict: ${gate.outputs.verdict}`, '');
  return lines.join('\n');
}

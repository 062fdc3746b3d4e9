import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT_CODES } from '../../errors.ts';
import { runGate } from '../../pipeline/run.ts';
import { describeRun } from './run.ts';
import type { HeatgateCommand } from './types.ts';

const EXAMPLE = fileURLToPath(new URL('../../../examples/underpass/', import.meta.url));

/**
 * The paper's scenario on the bundled underpass footage (examples/underpass): the clean model passes the demo policy
 * (the default rules plus faithfulness warnings, examples/underpass/demo-policy.yaml); the shortcut model, as
 * accurate, fails it, also against the clean model as its baseline.
 */
export const demoCommand: HeatgateCommand = {
  command: 'demo',
  describe: 'Gate the two bundled underpass models (Borg et al. 2021): one clean, one right for the wrong reason',
  builder: (y) => y.option('out', { type: 'string', default: 'out/demo', describe: 'output folder' }),
  handler: async (args) => {
    const out = args.out as string;
    const common = {
      images: path.join(EXAMPLE, 'images'),
      labels: path.join(EXAMPLE, 'labels.csv'),
      invalidMasks: path.join(EXAMPLE, 'invalid'),
      roiMasks: path.join(EXAMPLE, 'roi'),
      policy: path.join(EXAMPLE, 'demo-policy.yaml'),
      quiet: true,
    };
    const say = (text: string) => process.stdout.write(text);
    say('heatgate demo: a CCTV classifier for a pedestrian underpass (Borg et al. 2021). Both models are 100% accurate\n' +
      'on this footage; one of them reads the recorder\'s REC dot in the timestamp overlay instead of looking for people.\n\n');
    say(`1. clean model (${path.join(EXAMPLE, 'models/clean.onnx')}), demo policy (${common.policy}: the default rules plus faithfulness warnings):\n`);
    const clean = await runGate({ ...common, model: path.join(EXAMPLE, 'models/clean.onnx'), out: path.join(out, 'clean') });
    say(describeRun(clean));
    say(`\n2. shortcut model (${path.join(EXAMPLE, 'models/shortcut.onnx')}), demo policy, clean model as the baseline:\n`);
    const shortcut = await runGate({
      ...common,
      model: path.join(EXAMPLE, 'models/shortcut.onnx'),
      baselineModel: path.join(EXAMPLE, 'models/clean.onnx'),
      out: path.join(out, 'shortcut'),
    });
    say(describeRun(shortcut));
    const expected = clean.gate.verdict.verdict === 'pass' && shortcut.gate.verdict.verdict === 'fail';
    say(
      expected
        ? `\nAs expected: the clean model passes and the shortcut model fails, although both are accurate.\n` +
            `Open ${path.join(out, 'shortcut', 'report.html')} to see where it looks.\n`
        : '\nUnexpected: the demo verdicts differ from clean = pass, shortcut = fail.\n',
    );
    return expected ? EXIT_CODES.pass : EXIT_CODES.gateFailed;
  },
};

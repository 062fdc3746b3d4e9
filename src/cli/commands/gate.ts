import type { Argv } from 'yargs';
import { EXIT_CODES } from '../../errors.ts';
import { readPolicy } from '../../gate/policy.ts';
import { gateResults } from '../../report/gate-results.ts';
import { checkPath } from '../../pipeline/inputs.ts';
import { s3Flags, storageFrom } from './options.ts';
import type { HeatgateCommand } from './types.ts';

interface GateArgs {
  results: string;
  policy?: string;
  baselineResults?: string;
  out: string;
  fail: boolean;
}

/** `heatgate gate`: re-gate an existing results.jsonl; exit 0 pass, 1 fail (unless --no-fail). */
export const gateCommand: HeatgateCommand = {
  command: 'gate',
  describe: 'Evaluate a gate policy over an existing results.jsonl and write verdict.json, metrics and report.html',
  builder: (yargs: Argv) =>
    s3Flags(yargs)
      .option('results', { type: 'string', demandOption: true, describe: 'results.jsonl written by heatgate run' })
      .option('policy', { type: 'string', describe: 'policy file (YAML or JSON); default: the built-in default policy' })
      .option('baseline-results', { type: 'string', describe: "the baseline model's results.jsonl, for baseline rules" })
      .option('out', { type: 'string', demandOption: true, describe: 'output directory' })
      .option('fail', {
        type: 'boolean',
        default: true,
        describe: 'exit 1 when the gate fails (--no-fail: exit 0 and leave the decision to verdict.json)',
      })
      .example('$0 gate --results out/results.jsonl --policy policy.yaml --out out', ''),
  handler: async (args) => {
    const { results, policy, baselineResults, out, fail } = args as unknown as GateArgs;
    const storage = storageFrom(args, ['results', 'policy', 'baseline-results', 'out']);
    // Named inputs first (exit 2 when missing, 3 when unusable), before anything is read or written.
    if (policy !== undefined) await checkPath('--policy', policy, 'file', storage);
    await checkPath('--results', results, 'file', storage);
    if (baselineResults !== undefined) await checkPath('--baseline-results', baselineResults, 'file', storage);
    const { verdict, outputs } = await gateResults({
      storage,
      results,
      outDir: out,
      // Read and validated once, before the results are streamed (a bad policy fails fast).
      ...(policy !== undefined && { policy: await readPolicy(policy, {}, storage) }),
      ...(baselineResults !== undefined && { baselineResults }),
    });
    const counts = { pass: 0, fail: 0, warn: 0, skipped: 0 };
    for (const rule of verdict.rules) counts[rule.outcome]++;
    process.stdout.write(
      `heatgate gate: ${verdict.verdict.toUpperCase()} (${counts.pass} passed, ${counts.fail} failed, ` +
        `${counts.warn} warned, ${counts.skipped} skipped) -> ${outputs.verdict}\n`,
    );
    for (const reason of verdict.reasons) process.stdout.write(`  - ${reason}\n`);
    for (const s of verdict.skipped) process.stdout.write(`  skipped ${s.rule}: ${s.reason}\n`);
    if (verdict.verdict === 'fail' && fail) return EXIT_CODES.gateFailed;
    return EXIT_CODES.pass;
  },
};

import { EXIT_CODES } from '../../errors.ts';
import { mergeShards } from '../../pipeline/merge.ts';
import type { HeatgateCommand } from './types.ts';

/** `heatgate merge`: the fan-in of sharded runs; gates all images at once. */
export const mergeCommand: HeatgateCommand = {
  command: 'merge',
  describe: 'Combine the shards of `run --shard i/n` (shard-0 .. shard-<n-1>) and gate all images at once',
  builder: (y) =>
    y
      .option('shards-from', { type: 'string', demandOption: true, describe: 'folder or s3:// prefix holding shard-0 .. shard-<n-1>' })
      .option('out', { type: 'string', demandOption: true, describe: 'output folder or s3:// prefix for the merged results and verdict' })
      .option('policy', { type: 'string', describe: 'gate policy (YAML or JSON), the one the shards ran with; default: the built-in default policy' })
      .option('fail', { type: 'boolean', default: true, describe: 'exit 1 when the gate fails (--no-fail: always exit 0)' })
      .example('$0 merge --shards-from s3://bucket/runs/42 --out s3://bucket/runs/42/merged --policy policy.yaml', '')
      .epilogue('Exit codes: 0 pass; 1 the gate failed; 2 bad flags or policy; 3 a shard missing, duplicated, unfinished or of ' +
        'another run (nothing is written to --out); 4 storage unavailable.'),
  handler: async (args) => {
    const result = await mergeShards({ shardsFrom: args.shardsFrom, out: args.out, policy: args.policy });
    const v = result.gate.verdict;
    process.stdout.write(
      `heatgate merge: ${v.verdict.toUpperCase()}  ${result.shards} shards, ${v.counts.processed} images, ${v.counts.errors} errors, ${result.copied} overlay/heatmap files copied -> ${result.outputs.verdict}\n`,
    );
    for (const reason of v.reasons) process.stdout.write(`  - ${reason}\n`);
    process.stdout.write(`  report: ${result.outputs.report}\n`);
    return v.verdict === 'fail' && args.fail ? EXIT_CODES.gateFailed : EXIT_CODES.pass;
  },
};

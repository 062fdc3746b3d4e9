import yargs from 'yargs';
import { EXIT_CODES, HeatgateError } from '../errors.ts';
import { commands } from './commands/index.ts';

/**
 * Parses argv, runs one command and returns the process exit code. Commands return their own exit code
 * (a failed gate is a result, not an exception); errors are mapped to the documented codes here, once.
 */
export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT_CODES.pass;
  const parser = yargs(argv)
    .scriptName('heatgate')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .help()
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((message, error) => {
      throw error ?? new UsageMessage(message);
    });
  for (const command of commands) {
    parser.command({
      ...command,
      handler: async (args) => {
        exitCode = (await command.handler(args)) ?? EXIT_CODES.pass;
      },
    });
  }
  try {
    await parser.parseAsync();
    return exitCode;
  } catch (error) {
    return reportError(error);
  }
}

class UsageMessage extends Error {}

function reportError(error: unknown): number {
  if (error instanceof UsageMessage) {
    process.stderr.write(`heatgate: ${error.message}\n(run heatgate --help for usage)\n`);
    return EXIT_CODES.usage;
  }
  if (error instanceof HeatgateError) {
    process.stderr.write(`heatgate: error: ${error.message}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`heatgate: internal error: ${message}\n`);
  return EXIT_CODES.infrastructure;
}

import yargs from 'yargs';
import { EXIT_CODES, HeatgateError } from '../errors.ts';
import { tool } from '../gate/verdict.ts';
import { LOG_FORMATS, log, logFormatFromArgv, routeProcessWarnings, setLogFormat, type LogFormat } from '../log.ts';
import { commands } from './commands/index.ts';

/**
 * Parses argv, runs one command and returns the process exit code. Commands return their own exit code
 * (a failed gate is a result, not an exception); errors are mapped to the documented codes here, once.
 */
export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT_CODES.pass;
  setLogFormat(logFormatFromArgv(argv) ?? 'text');
  routeProcessWarnings();
  const parser = yargs(argv)
    .scriptName('heatgate')
    .strict()
    .demandCommand(1, 'name a command')
    .recommendCommands()
    .help()
    .version('version', 'print the heatgate version', tool().version)
    .option('log-format', { choices: LOG_FORMATS, default: 'text' as LogFormat, global: true, describe: 'stderr lines: text, or json (one object per line)' })
    .exitProcess(false)
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
    log.error(`${error.message} (run heatgate --help for usage)`, { exitCode: EXIT_CODES.usage });
    return EXIT_CODES.usage;
  }
  if (error instanceof HeatgateError) {
    log.error(error.message, { exitCode: error.exitCode, ...(error.file && { file: error.file }) });
    return error.exitCode;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  log.error(`internal error: ${message}`, { exitCode: EXIT_CODES.infrastructure });
  return EXIT_CODES.infrastructure;
}

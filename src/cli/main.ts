import yargs from 'yargs';
import { EXIT_CODES, HeatgateError, singleLine } from '../errors.ts';
import { tool } from '../gate/verdict.ts';
import { LOG_FORMATS, log, logFormatFromArgv, routeProcessWarnings, setLogFormat, type LogFormat } from '../log.ts';
import { redact } from '../redact.ts';
import type { HeatgateCommand } from './commands/types.ts';

export interface MainOptions {
  /**
   * Loads the command modules, and with them the native addons (onnxruntime-node, sharp). Imported lazily so that an
   * addon that does not load is a startup failure with one line and exit 4, not a crash before main() runs.
   * Injectable for tests.
   */
  loadCommands?: () => Promise<readonly HeatgateCommand[]>;
}

const loadCommands = async () => (await import('./commands/index.ts')).commands;

/**
 * Parses argv, runs one command and returns the process exit code. Commands return their own exit code
 * (a failed gate is a result, not an exception); errors are mapped to the documented codes here, once:
 * 0 pass, 1 gate failed, 2 usage/config, 3 input data, 4 storage/infrastructure (and startup), 70 heatgate's bug.
 */
export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  const debug = argv.includes('--debug');
  // The AWS SDK announces (process.emitWarning, several lines) that its 2027 releases need Node 22; heatgate supports
  // Node >= 20, and the notice would break the one-line error contract of every s3:// run. An explicit value wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Before anything can fail: a startup failure is logged in the format asked for.
  setLogFormat(logFormatFromArgv(argv) ?? 'text');
  routeProcessWarnings();
  let commands: readonly HeatgateCommand[];
  try {
    commands = await (options.loadCommands ?? loadCommands)();
  } catch (error) {
    return reportStartupFailure(error, debug);
  }
  let exitCode: number = EXIT_CODES.pass;
  const parser = yargs(argv)
    .scriptName('heatgate')
    .strict()
    .demandCommand(1, 'name a command')
    .recommendCommands()
    .option('debug', { type: 'boolean', default: false, global: true, describe: 'print the stack trace of an internal error' })
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
    return reportError(error, debug);
  }
}

class UsageMessage extends Error {}

function reportError(error: unknown, debug: boolean): number {
  if (error instanceof UsageMessage) {
    log.error(`${error.message} (run heatgate --help for usage)`, { exitCode: EXIT_CODES.usage });
    return EXIT_CODES.usage;
  }
  if (error instanceof HeatgateError && error.kind !== 'bug') {
    log.error(error.message, { exitCode: error.exitCode, ...(error.file && { file: error.file }) });
    return error.exitCode;
  }
  log.error(
    `internal error (a bug in heatgate; please report it): ${oneLine(error)}${debug ? '' : '; run with --debug for the stack trace'}`,
    { exitCode: EXIT_CODES.bug },
  );
  if (debug) process.stderr.write(`${redact(stackOf(error))}\n`);
  return EXIT_CODES.bug;
}

/**
 * A command module failed to load: almost always a native addon (onnxruntime-node, sharp) built for another platform or
 * missing its shared libraries. That is the installation, not the input: exit 4, one line.
 */
function reportStartupFailure(error: unknown, debug: boolean): number {
  // Loaders may wrap the addon's error (error.cause): the first error in the chain that names a native load is it.
  const native = causeChain(error).find((e) => {
    const code = String((e as NodeJS.ErrnoException).code ?? '');
    return /ERR_DLOPEN_FAILED|MODULE_NOT_FOUND/.test(code) || /\.node\b|onnxruntime|sharp|libvips|GLIBC|shared object|dlopen/i.test(oneLine(e));
  });
  if (!native) return reportError(error, debug); // our own module failing to initialise is a bug
  const message = oneLine(native);
  const addon = /onnxruntime/i.test(message) ? 'onnxruntime-node' : /sharp|libvips/i.test(message) ? 'sharp' : 'a native dependency';
  log.error(
    `cannot start: ${addon} failed to load (${message}); reinstall with npm ci on this platform${debug ? '' : ' (--debug for the stack trace)'}`,
    { exitCode: EXIT_CODES.infrastructure },
  );
  if (debug) process.stderr.write(`${redact(stackOf(error))}\n`);
  return EXIT_CODES.infrastructure;
}

function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && chain.length < 10; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

function oneLine(error: unknown): string {
  return singleLine(error instanceof Error ? error.message : String(error));
}

function stackOf(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

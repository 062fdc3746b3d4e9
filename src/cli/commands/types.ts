import type { Argv, ArgumentsCamelCase } from 'yargs';

/** One CLI command: yargs wiring plus a handler that returns the exit code (undefined = 0). */
export interface HeatgateCommand {
  command: string;
  describe: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  builder: (yargs: Argv) => Argv<any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handler: (args: ArgumentsCamelCase<any>) => Promise<number | void>;
}

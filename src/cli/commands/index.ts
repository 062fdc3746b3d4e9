import type { HeatgateCommand } from './types.ts';

/** The one list of CLI commands. */
export const commands: HeatgateCommand[] = [];

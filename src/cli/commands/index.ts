import { demoCommand } from './demo.ts';
import { doctorCommand } from './doctor.ts';
import { explainCommand } from './explain.ts';
import { gateCommand } from './gate.ts';
import { layersCommand } from './layers.ts';
import { mergeCommand } from './merge.ts';
import { runCommand } from './run.ts';
import { sanityCommand } from './sanity.ts';
import { submitCommand } from './submit.ts';
import type { HeatgateCommand } from './types.ts';

/** The one list of CLI commands. */
export const commands: HeatgateCommand[] = [runCommand, explainCommand, gateCommand, mergeCommand, layersCommand, sanityCommand, doctorCommand, demoCommand, submitCommand];

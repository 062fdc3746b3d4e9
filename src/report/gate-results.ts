import { evaluateResults, type EvaluateResultsOptions, type EvaluatedResults } from '../gate/gate.ts';
import { writeGateOutputs, type GateOutputs } from './outputs.ts';

export interface GateResultsOptions extends EvaluateResultsOptions {
  /** A local folder, file:// or an s3:// prefix. */
  outDir: string;
  /** After the gate decides and before the report is written: `run` renders the gallery's overlays here. */
  beforeReport?: (evaluated: EvaluatedResults) => Promise<void>;
}

export interface GateResult extends EvaluatedResults {
  outputs: GateOutputs;
}

/**
 * `heatgate gate`: the gate's decision over an existing results.jsonl (gate/evaluateResults), then verdict.json,
 * metrics, summary.md and report.html in `outDir` (verdict.json last; results.jsonl, complete by now, is not touched). A failed gate is a result (`verdict.verdict`).
 */
export async function gateResults(options: GateResultsOptions): Promise<GateResult> {
  const evaluated = await evaluateResults(options);
  await options.beforeReport?.(evaluated);
  const outputs = await writeGateOutputs(options.outDir, evaluated.verdict, evaluated.summary, undefined, options.storage);
  return { ...evaluated, outputs };
}

/**
 * `heatgate submit` as a library call: check the WorkflowTemplate and the parameters, create the Workflow, follow
 * it to the end and return the gate's outcome.
 */
import { ConfigError } from '../errors.ts';
import { ArgoClient, type ClusterOptions } from './client.ts';
import { buildWorkflow, isFinished, parameterProblems, progressText, submitOutcome, type SubmitOutcome, type Workflow } from './workflow.ts';

export interface SubmitOptions extends ClusterOptions {
  /** WorkflowTemplate name; default "heatgate". */
  template?: string;
  parameters: ReadonlyMap<string, string>;
  /** Called when the phase or progress changes (and once after creation). */
  onProgress?: (line: string) => void;
  /** Pause before watching again after the server closed a watch without news (ms). */
  rewatchDelayMs?: number;
}

export interface SubmitResult extends SubmitOutcome {
  name: string;
  namespace: string;
  workflow: Workflow;
}

export async function submitWorkflow(options: SubmitOptions): Promise<SubmitResult> {
  const client = ArgoClient.fromOptions(options);
  const templateName = options.template ?? 'heatgate';
  const template = await client.getTemplate(templateName);
  const problems = parameterProblems(template, options.parameters);
  if (problems.length > 0) throw new ConfigError(`WorkflowTemplate ${templateName}: ${problems.join('; ')}`);

  const created = await client.create(buildWorkflow(templateName, options.parameters));
  const name = created.metadata.name!;
  const started = Date.now();
  let last = '';
  const report = (workflow: Workflow) => {
    const text = progressText(workflow);
    if (text === last) return;
    last = text;
    options.onProgress?.(`workflow ${client.namespace}/${name}: ${text} (${Math.round((Date.now() - started) / 1000)} s)`);
  };
  report(created);

  let latest = created;
  while (!isFinished(latest)) {
    let seen = false;
    const finished = await client.watch(name, latest.metadata.resourceVersion, (workflow) => {
      seen = true;
      latest = workflow;
      report(workflow);
      return isFinished(workflow);
    });
    if (finished) break;
    // The server ended the watch (they time out): read the current state and watch again from there.
    latest = await client.get(name);
    report(latest);
    if (!seen && !isFinished(latest)) await new Promise((r) => setTimeout(r, options.rewatchDelayMs ?? 1000));
  }
  return { ...submitOutcome(latest), name, namespace: client.namespace, workflow: latest };
}

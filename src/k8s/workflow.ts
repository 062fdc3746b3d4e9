/**
 * The Argo Workflow objects `heatgate submit` creates and reads: building a Workflow from a WorkflowTemplate
 * reference, and reading its phase, progress and verdict. Pure functions; the API calls are in client.ts.
 */
import { EXIT_CODES } from '../errors.ts';

export const ARGO_GROUP = 'argoproj.io';
export const ARGO_VERSION = 'v1alpha1';

/** What `heatgate submit` does in the cluster; manifests/rbac.yaml grants exactly this (a test checks it). */
export const SUBMIT_PERMISSIONS = [
  { group: ARGO_GROUP, resource: 'workflows', verbs: ['create', 'get', 'list', 'watch'] },
  { group: ARGO_GROUP, resource: 'workflowtemplates', verbs: ['get'] },
] as const;

export interface WorkflowParameter {
  name: string;
  value?: string;
  default?: string;
}

/** The parts of an Argo Workflow that submit reads. */
export interface Workflow {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; generateName?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: { workflowTemplateRef?: { name: string }; arguments?: { parameters?: WorkflowParameter[] } };
  status?: {
    phase?: string;
    progress?: string;
    message?: string;
    startedAt?: string;
    outputs?: { parameters?: WorkflowParameter[] };
    nodes?: Record<string, { id?: string; displayName?: string; outputs?: { parameters?: WorkflowParameter[] } }>;
  };
}

export interface WorkflowTemplate {
  metadata: { name?: string };
  spec?: { arguments?: { parameters?: WorkflowParameter[] } };
}

/** A Workflow that runs WorkflowTemplate `template` with the given parameters (in the given order). */
export function buildWorkflow(template: string, parameters: ReadonlyMap<string, string>): Workflow {
  return {
    apiVersion: `${ARGO_GROUP}/${ARGO_VERSION}`,
    kind: 'Workflow',
    metadata: { generateName: `${template}-`, labels: { 'app.kubernetes.io/managed-by': 'heatgate-submit' } },
    spec: {
      workflowTemplateRef: { name: template },
      arguments: { parameters: [...parameters].map(([name, value]) => ({ name, value })) },
    },
  };
}

/**
 * Problems with `parameters` against the template's declared arguments: unknown names, and declared ones without
 * a value that were not given. Empty when the workflow can start.
 */
export function parameterProblems(template: WorkflowTemplate, parameters: ReadonlyMap<string, string>): string[] {
  const declared = template.spec?.arguments?.parameters ?? [];
  const names = new Set(declared.map((p) => p.name));
  const problems: string[] = [];
  for (const name of parameters.keys()) {
    if (!names.has(name)) problems.push(`unknown parameter "${name}" (the template declares: ${[...names].join(', ')})`);
  }
  for (const p of declared) {
    if (p.value === undefined && p.default === undefined && !parameters.has(p.name)) problems.push(`parameter "${p.name}" is required`);
  }
  return problems;
}

const DONE_PHASES = new Set(['Succeeded', 'Failed', 'Error']);

export const isFinished = (workflow: Workflow): boolean => DONE_PHASES.has(workflow.status?.phase ?? '');

/**
 * The gate's verdict in a workflow's status: the workflow's global output `verdict`, else the root node's output,
 * else every node output named `verdict` (fail if any says fail). Undefined when there is none, or when a value is
 * not exactly "pass" or "fail" (a verdict we cannot read is no verdict).
 */
export function workflowVerdict(workflow: Workflow): 'pass' | 'fail' | undefined {
  const read = (params: WorkflowParameter[] | undefined) => params?.find((p) => p.name === 'verdict')?.value;
  const status = workflow.status ?? {};
  const name = workflow.metadata.name;
  const candidates = [read(status.outputs?.parameters)];
  if (candidates[0] === undefined) {
    const root = name ? status.nodes?.[name] : undefined;
    candidates[0] = read(root?.outputs?.parameters);
  }
  if (candidates[0] === undefined) candidates.splice(0, 1, ...Object.values(status.nodes ?? {}).map((n) => read(n.outputs?.parameters)));
  const values = candidates.filter((v): v is string => v !== undefined);
  if (values.length === 0 || values.some((v) => v !== 'pass' && v !== 'fail')) return undefined;
  return values.includes('fail') ? 'fail' : 'pass';
}

export interface SubmitOutcome {
  exitCode: number;
  verdict?: 'pass' | 'fail';
  /** One line for the person reading the CI log. */
  message: string;
}

/**
 * The exit code of a finished workflow: 1 when the gate failed; 0 only when it passed and the workflow
 * succeeded (a pass in a workflow that then failed is not a promotion signal); 4 when the workflow failed or
 * errored without a verdict; 2 when it succeeded without one (the template does not output `verdict`).
 */
export function submitOutcome(workflow: Workflow): SubmitOutcome {
  const name = workflow.metadata.name ?? '(unnamed)';
  const phase = workflow.status?.phase ?? 'Unknown';
  const why = workflow.status?.message ? `: ${workflow.status.message}` : '';
  const verdict = workflowVerdict(workflow);
  if (verdict === 'fail') return { exitCode: EXIT_CODES.gateFailed, verdict, message: `workflow ${name} ${phase}, verdict: FAIL` };
  if (verdict === 'pass' && phase === 'Succeeded') return { exitCode: EXIT_CODES.pass, verdict, message: `workflow ${name} Succeeded, verdict: PASS` };
  if (verdict === 'pass') {
    return { exitCode: EXIT_CODES.infrastructure, verdict, message: `workflow ${name} ${phase} after the gate passed${why}; not reporting a pass` };
  }
  if (phase === 'Succeeded') {
    return { exitCode: EXIT_CODES.usage, message: `workflow ${name} Succeeded without a "verdict" output parameter: is the template a heatgate gate?` };
  }
  return { exitCode: EXIT_CODES.infrastructure, message: `workflow ${name} ${phase} without a verdict${why}` };
}

/** "Running 2/5" style progress, for the progress line. */
export function progressText(workflow: Workflow): string {
  const phase = workflow.status?.phase || 'Pending';
  return workflow.status?.progress ? `${phase} ${workflow.status.progress}` : phase;
}

import { ConfigError } from '../../errors.ts';
import type { HeatgateCommand } from './types.ts';

/** Flags that become WorkflowTemplate parameters of the same name (the heatgate template's locations and knobs). */
const PARAMETER_FLAGS = [
  ['model', 'ONNX model: s3://bucket/key or a path in the image'],
  ['images', 'folder of images: s3://bucket/prefix or a path in the image'],
  ['policy', 'gate policy (YAML or JSON)'],
  ['baseline-model', 'the production model, for baseline rules'],
  ['labels', 'CSV of image,label'],
  ['classes', 'class names, one per line'],
  ['invalid-masks', 'folder of invalid-pixel masks'],
  ['roi-masks', 'folder of object (ROI) masks'],
  ['coco', 'COCO annotations JSON'],
  ['method', 'CAM method'],
  ['layer', 'target tensor'],
  ['provider', 'ONNX Runtime execution provider in the pod'],
  ['image', 'the heatgate container image'],
] as const;

export const submitCommand: HeatgateCommand = {
  command: 'submit',
  describe: 'Run the heatgate Argo WorkflowTemplate in a cluster, follow it, print the verdict and exit 0 (pass) or 1 (fail)',
  builder: (y) => {
    let built = y
      .option('namespace', { alias: 'n', type: 'string', describe: 'namespace (default: the kubeconfig context\'s, else "default")' })
      .option('kubeconfig', { type: 'string', describe: 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster)' })
      .option('template', { type: 'string', default: 'heatgate', describe: 'WorkflowTemplate to run' })
      .option('param', { alias: 'p', type: 'string', array: true, default: [] as string[], describe: 'k=v: any template parameter (repeatable)' });
    for (const [flag, describe] of PARAMETER_FLAGS) built = built.option(flag, { type: 'string', describe: `${describe} (parameter ${flag})` });
    return built
      .option('batch', { type: 'string', describe: 'images per ONNX Runtime run (parameter batch)' })
      .epilogue('Exit codes: 0 the gate passed and the workflow succeeded; 1 the gate failed; 2 bad flags, kubeconfig, ' +
        'unknown template or parameter, or the API refused (401/403); 4 the workflow failed or errored without a verdict, ' +
        'or the API server could not be reached.');
  },
  handler: async (args) => {
    const parameters = new Map<string, string>();
    for (const [flag] of [...PARAMETER_FLAGS, ['batch']] as const) {
      const value = args[flag];
      if (value !== undefined) parameters.set(flag, String(value));
    }
    for (const pair of args.param as string[]) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new ConfigError(`--param must be k=v, got "${pair}"`);
      parameters.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    // Loaded here: the Kubernetes client is heavy, and no other command needs it.
    const { submitWorkflow } = await import('../../k8s/submit.ts');
    const result = await submitWorkflow({
      kubeconfig: args.kubeconfig,
      namespace: args.namespace,
      template: args.template,
      parameters,
      onProgress: (line) => process.stderr.write(`heatgate submit: ${line}\n`),
    });
    process.stdout.write(`heatgate: ${result.verdict ? result.verdict.toUpperCase() : 'NO VERDICT'}  ${result.message}\n`);
    return result.exitCode;
  },
};

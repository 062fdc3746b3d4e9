/**
 * component.yaml and every manifest in manifests/ against the official schemas (../shared/schemas/README.md):
 * KFP v1 component (as kfp 2.x loads it), Argo Workflows, Kubernetes Job. Unknown fields fail (see schemas.ts),
 * and each validator is shown to reject a broken document, so a pass means something.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isWorkflowKind, loadManifests, type LoadedManifest } from '../k8s/manifests.ts';
import { argoValidator, describeErrors, k8sValidator, kfpValidator } from './schemas.ts';

let manifests: LoadedManifest[];
beforeAll(async () => {
  manifests = await loadManifests();
});

const clone = <T>(value: T): T => structuredClone(value);

describe('component.yaml against the KFP v1 component schema (kfp 2.x)', () => {
  it('validates', async () => {
    const component = parse(await readFile(path.resolve('component.yaml'), 'utf8'));
    const validate = kfpValidator();
    expect(validate(component), describeErrors(validate)).toBe(true);
    const broken = clone(component);
    broken.implementation.container.args.push({ inputPaht: 'model' });
    expect(validate(broken)).toBe(false);
  });
});

describe('Argo manifests against argo-workflows.schema.json', () => {
  it.each(['workflow-template.yaml', 'workflow-template-sharded.yaml', 'examples/promotion-workflow.yaml'])('%s validates', (file) => {
    const docs = manifests.filter((m) => m.file === file);
    expect(docs.length).toBe(1);
    for (const { doc } of docs) {
      expect(isWorkflowKind(doc)).toBe(true);
      for (const strict of [false, true]) {
        const validate = argoValidator(strict);
        expect(validate(doc), `${file}${strict ? ' (unknown fields)' : ''}:\n${describeErrors(validate)}`).toBe(true);
      }
    }
  });

  it('rejects a misspelt field, a wrong type and a wrong kind', () => {
    const validate = argoValidator(true);
    const template = manifests.find((m) => m.file === 'workflow-template.yaml')!.doc;
    const misspelt = clone(template);
    misspelt.spec.templates[0].retryStrategy = { expresion: 'asInt(lastRetry.exitCode) == 4' };
    expect(validate(misspelt)).toBe(false);
    const wrongType = clone(template);
    wrongType.spec.templates[0].container.env = { HG_MODE: 'gate' };
    expect(validate(wrongType)).toBe(false);
    expect(validate({ ...clone(template), kind: 'WorkflowTemplates' })).toBe(false);
  });
});

describe('Kubernetes Jobs against k8s-job-pod.schema.json', () => {
  it.each(['examples/indexed-job.yaml', 'examples/merge-job.yaml'])('%s validates', (file) => {
    const docs = manifests.filter((m) => m.file === file);
    expect(docs.length).toBe(1);
    for (const { doc } of docs) {
      for (const strict of [false, true]) {
        const validate = k8sValidator(strict);
        expect(validate(doc), `${file}:\n${describeErrors(validate)}`).toBe(true);
      }
    }
  });

  it('rejects a nameless container and a misspelt field', () => {
    const validate = k8sValidator(true);
    const job = manifests.find((m) => m.file === 'examples/indexed-job.yaml')!.doc;
    const nameless = clone(job);
    delete nameless.spec.template.spec.containers[0].name;
    expect(validate(nameless)).toBe(false);
    const misspelt = clone(job);
    misspelt.spec.completionsMode = 'Indexed';
    expect(validate(misspelt)).toBe(false);
  });
});

describe('coverage', () => {
  it('every Argo or batch document in manifests/ is one of the files validated above', () => {
    const validated = new Set(['workflow-template.yaml', 'workflow-template-sharded.yaml', 'examples/promotion-workflow.yaml', 'examples/indexed-job.yaml', 'examples/merge-job.yaml']);
    for (const { file, doc } of manifests) {
      if (doc.apiVersion.startsWith('argoproj.io/') || doc.apiVersion.startsWith('batch/')) expect(validated.has(file), file).toBe(true);
    }
  });
});

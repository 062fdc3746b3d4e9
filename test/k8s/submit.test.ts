/**
 * `heatgate submit` against a loopback fake of the Kubernetes API (test/k8s/fake-kube-api.ts): it checks the
 * template and parameters, creates a Workflow from WorkflowTemplate heatgate, follows it by watch, prints the
 * verdict and exits 0 (pass), 1 (fail), 4 (workflow error without a verdict, server trouble) or 2 (refused, bad
 * flags or kubeconfig).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import type { Workflow, WorkflowTemplate } from '../../src/k8s/workflow.ts';
import { FakeKubeApi, WORKFLOW_NAME, workflowAt, writeKubeconfig, type Scenario } from './fake-kube-api.ts';

const TEMPLATE: WorkflowTemplate = {
  metadata: { name: 'heatgate' },
  spec: {
    arguments: {
      parameters: [
        { name: 'model' }, { name: 'images' }, { name: 'policy', value: '' }, { name: 'batch', value: '8' },
        { name: 'method', value: 'gradcam' },
      ],
    },
  },
};

const verdictOut = (verdict: string) => ({ outputs: { parameters: [{ name: 'verdict', value: verdict }] } });

let api: FakeKubeApi | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

async function submit(scenario: Scenario, args: string[], options: { kubeconfig?: string; namespace?: string } = {}) {
  api = new FakeKubeApi(scenario);
  const server = await api.start();
  const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-submit-'));
  const kubeconfig = options.kubeconfig ?? (await writeKubeconfig(dir, server, options.namespace));
  let stdout = '';
  let stderr = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((stdout += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
  try {
    const code = await main(['submit', '--kubeconfig', kubeconfig, ...args]);
    return { code, stdout, stderr, requests: api.requests };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const LOCATIONS = ['--model', 's3://models/candidate.onnx', '--images', 's3://data/underpass/images'];
const running = (progress: string) => workflowAt('Running', { progress });

describe('heatgate submit', () => {
  it('creates a Workflow from WorkflowTemplate heatgate, follows it and exits 0 on pass', async () => {
    const run = await submit(
      { template: TEMPLATE, watches: [[running('0/2'), running('1/2'), workflowAt('Succeeded', { progress: '2/2', ...verdictOut('pass') })]] },
      [...LOCATIONS, '--param', 'batch=16'],
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('heatgate: PASS');
    expect(run.stdout).toContain(WORKFLOW_NAME);

    const [getTemplate, create, watch] = run.requests;
    expect(getTemplate).toMatchObject({ method: 'GET', path: '/apis/argoproj.io/v1alpha1/namespaces/gates/workflowtemplates/heatgate' });
    expect(create).toMatchObject({ method: 'POST', path: '/apis/argoproj.io/v1alpha1/namespaces/gates/workflows', authorization: 'Bearer test-token' });
    const body = create!.body as Workflow;
    expect(body).toMatchObject({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { generateName: 'heatgate-' } });
    expect(body.spec!.workflowTemplateRef).toEqual({ name: 'heatgate' });
    expect(body.spec!.arguments!.parameters).toEqual([
      { name: 'model', value: 's3://models/candidate.onnx' },
      { name: 'images', value: 's3://data/underpass/images' },
      { name: 'batch', value: '16' },
    ]);
    expect(watch).toMatchObject({ method: 'GET', path: '/apis/argoproj.io/v1alpha1/namespaces/gates/workflows' });
    expect(watch!.query.get('watch')).toBe('true');
    expect(watch!.query.get('fieldSelector')).toBe(`metadata.name=${WORKFLOW_NAME}`);
    expect(watch!.query.get('resourceVersion')).toBe('100');
    // One progress line per change.
    expect(run.stderr).toMatch(/Running 0\/2.*\n.*Running 1\/2.*\n.*Succeeded 2\/2/);
  });

  it('exits 1 and prints FAIL when the gate failed (the workflow itself succeeded)', async () => {
    const run = await submit({ template: TEMPLATE, watches: [[running('0/1'), workflowAt('Succeeded', verdictOut('fail'))]] }, LOCATIONS);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain('heatgate: FAIL');
  });

  it('reads the verdict from the nodes when the workflow has no global output, and keeps watching after the server closes a watch', async () => {
    const done: Workflow = {
      ...workflowAt('Succeeded'),
      status: { phase: 'Succeeded', nodes: { [WORKFLOW_NAME]: { id: WORKFLOW_NAME, ...verdictOut('pass') } } },
    };
    const run = await submit({ template: TEMPLATE, watches: [[running('0/1')], [done]] }, LOCATIONS);
    expect(run.code, run.stderr).toBe(0);
    const watches = run.requests.filter((r) => r.query.get('watch') === 'true');
    expect(watches).toHaveLength(2);
    // Between the two watches it read the workflow, and watched again from its resourceVersion.
    expect(run.requests.some((r) => r.method === 'GET' && r.path.endsWith(`/workflows/${WORKFLOW_NAME}`))).toBe(true);
    expect(watches[1]!.query.get('resourceVersion')).toBe('101');
  });

  it('reads the workflow again and watches on when the watch answers 410 Gone', async () => {
    const run = await submit(
      { template: TEMPLATE, current: running('1/2'), watches: ['gone', [workflowAt('Succeeded', verdictOut('pass'), '205')]] },
      LOCATIONS,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.requests.filter((r) => r.query.get('watch') === 'true')).toHaveLength(2);
    expect(run.stderr).toContain('Running 1/2');
  });

  it('exits 4 when the workflow errors without a verdict, with Argo\'s message', async () => {
    const run = await submit(
      { template: TEMPLATE, watches: [[running('0/1'), workflowAt('Error', { message: 'pod deleted during operation' })]] },
      LOCATIONS,
    );
    expect(run.code).toBe(4);
    expect(run.stdout).toContain('NO VERDICT');
    expect(run.stdout).toContain('Error without a verdict: pod deleted during operation');
  });

  it('does not report a pass from a workflow that failed after the gate passed (exit 4)', async () => {
    const run = await submit({ template: TEMPLATE, watches: [[workflowAt('Failed', { message: 'artifact upload failed', ...verdictOut('pass') })]] }, LOCATIONS);
    expect(run.code).toBe(4);
    expect(run.stdout).toContain('after the gate passed');
  });

  it('exits 2 with one line naming the namespace and the Role when the API refuses (403)', async () => {
    const run = await submit(
      { template: TEMPLATE, refuseCreate: { status: 403, message: 'workflows.argoproj.io is forbidden: User "ci" cannot create resource "workflows"' }, watches: [] },
      LOCATIONS,
    );
    expect(run.code).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^heatgate: error: the Kubernetes API refused to create a Workflow in namespace gates at http:\/\/127\.0\.0\.1:\d+ \(HTTP 403\): workflows\.argoproj\.io is forbidden.*heatgate-submit Role/);
    expect(run.requests.some((r) => r.query.get('watch') === 'true')).toBe(false);
  });

  it('exits 4 when the API server fails (500) or cannot be reached', async () => {
    const failing = await submit({ template: TEMPLATE, refuseCreate: { status: 500, message: 'etcdserver: request timed out' }, watches: [] }, LOCATIONS);
    expect(failing.code).toBe(4);
    expect(failing.stderr).toContain('etcdserver: request timed out');

    const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-submit-'));
    const closed = new FakeKubeApi({ watches: [] });
    const server = await closed.start();
    await closed.stop(); // nothing listens on that port now
    const unreachable = await submit({ template: TEMPLATE, watches: [] }, LOCATIONS, { kubeconfig: await writeKubeconfig(dir, server) });
    expect(unreachable.code).toBe(4);
    expect(unreachable.stderr).toMatch(/cannot get WorkflowTemplate heatgate in namespace gates at http:\/\/127\.0\.0\.1/);
  });

  it('uses --namespace over the kubeconfig context', async () => {
    const run = await submit({ template: TEMPLATE, watches: [[workflowAt('Succeeded', verdictOut('pass'))]] }, [...LOCATIONS, '--namespace', 'ml-gates']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.requests.every((r) => r.path.includes('/namespaces/ml-gates/'))).toBe(true);
  });

  it('exits 2 before creating anything for an unknown parameter, a missing required one, or a missing template', async () => {
    const unknown = await submit({ template: TEMPLATE, watches: [] }, [...LOCATIONS, '--param', 'bacth=16']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown parameter "bacth"');
    const missing = await submit({ template: TEMPLATE, watches: [] }, ['--model', 's3://m.onnx']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('parameter "images" is required');
    const noTemplate = await submit({ watches: [] }, LOCATIONS);
    expect(noTemplate.code).toBe(2);
    expect(noTemplate.stderr).toContain('workflowtemplates.argoproj.io "heatgate" not found');
    for (const run of [unknown, missing, noTemplate]) expect(run.requests.some((r) => r.method === 'POST')).toBe(false);
  });

  it('exits 2 for a bad --param, a missing kubeconfig file and an unreadable one', async () => {
    const badParam = await submit({ template: TEMPLATE, watches: [] }, [...LOCATIONS, '--param', 'no-equals-sign']);
    expect(badParam.code).toBe(2);
    expect(badParam.stderr).toContain('--param must be k=v');
    const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-submit-'));
    const missing = await submit({ watches: [] }, LOCATIONS, { kubeconfig: path.join(dir, 'nope') });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope: no such file');
    const garbage = path.join(dir, 'garbage');
    await writeFile(garbage, 'clusters: [unclosed');
    const unreadable = await submit({ watches: [] }, LOCATIONS, { kubeconfig: garbage });
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toContain('garbage');
    expect(unreadable.stderr.trim().split('\n')).toHaveLength(1);
    const plainHttp = await submit({ watches: [] }, LOCATIONS, { kubeconfig: await writeKubeconfig(dir, 'http://127.0.0.1:1', 'gates', false) });
    expect(plainHttp.code).toBe(2);
    expect(plainHttp.stderr).toContain('insecure-skip-tls-verify');
  });
});

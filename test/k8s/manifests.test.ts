/**
 * manifests/: every Argo reference resolves (templates, templateRefs, parameters, step outputs, items), the retry,
 * security and GPU settings are the ones promised, RBAC and kustomization point at things that exist, and the step
 * scripts behave: run locally with a stand-in `heatgate` (and once with the real one on the demo), they pass the
 * right flags, turn exit 0/1 into the verdict file, and fail the step with heatgate's code otherwise.
 * Schema validation against the official schemas is in test/conformance (needs ../shared).
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SUBMIT_PERMISSIONS } from '../../src/k8s/workflow.ts';
import {
  calledTemplate, isWorkflowKind, loadManifests, MANIFESTS, references, shellScript,
  type LoadedManifest, type Manifest, type Param, type Step, type Template,
} from './manifests.ts';

const ROOT = path.resolve('.');
const EXAMPLE = path.join(ROOT, 'examples/underpass');
let loaded: LoadedManifest[];
let all: Manifest[];

beforeAll(async () => {
  loaded = await loadManifests();
  all = loaded.map((l) => l.doc);
});

const workflows = () => loaded.filter((l) => isWorkflowKind(l.doc));
const byName = (kind: string, name: string) => all.find((m) => m.kind === kind && m.metadata.name === name);
const templateOf = (wt: string, name: string) => (byName('WorkflowTemplate', wt)!.spec.templates as Template[]).find((t) => t.name === name)!;
const required = (params: Param[] = []) => params.filter((p) => p.value === undefined && p.default === undefined).map((p) => p.name);
const names = (list: { name: string }[] = []) => list.map((p) => p.name);

describe('Argo manifests: cross-references', () => {
  it('finds the WorkflowTemplates, the example Workflow and the Jobs', () => {
    expect(byName('WorkflowTemplate', 'heatgate')).toBeDefined();
    expect(byName('WorkflowTemplate', 'heatgate-sharded')).toBeDefined();
    expect(all.filter((m) => m.kind === 'Workflow')).toHaveLength(1);
    expect(all.filter((m) => m.kind === 'Job').map((m) => m.metadata.name).sort()).toEqual(['heatgate-merge', 'heatgate-shards']);
  });

  it('entrypoints name a template whose required inputs the workflow arguments supply', () => {
    for (const { file, doc } of workflows()) {
      const entry = (doc.spec.templates as Template[]).find((t) => t.name === doc.spec.entrypoint);
      expect(entry, `${file}: entrypoint ${doc.spec.entrypoint}`).toBeDefined();
      const given = names(doc.spec.arguments?.parameters);
      for (const input of required(entry!.inputs?.parameters)) expect(given, `${file}: ${entry!.name} needs ${input}`).toContain(input);
    }
  });

  it('every step calls a template that exists, with declared parameters only and all required ones', () => {
    let steps = 0;
    for (const { file, doc } of workflows()) {
      for (const template of doc.spec.templates as Template[]) {
        for (const step of (template.steps ?? []).flat()) {
          steps++;
          const where = `${file}: ${template.name}/${step.name}`;
          const called = calledTemplate(step, doc, all);
          expect(called, `${where} calls ${JSON.stringify(step.template ?? step.templateRef)}`).toBeDefined();
          const declared = names(called!.inputs?.parameters);
          const passed = names(step.arguments?.parameters);
          for (const name of passed) expect(declared, `${where} passes ${name}`).toContain(name);
          for (const name of required(called!.inputs?.parameters)) expect(passed, `${where} must pass ${name}`).toContain(name);
        }
      }
    }
    expect(steps).toBeGreaterThanOrEqual(5);
  });

  it('every {{...}} names a declared input, workflow parameter, step output or loop item', () => {
    let checked = 0;
    for (const { file, doc } of workflows()) {
      const workflowParams = names(doc.spec.arguments?.parameters);
      for (const template of doc.spec.templates as Template[]) {
        const stepsByName = new Map((template.steps ?? []).flat().map((s) => [s.name, s]));
        const check = (ref: string, where: string, step?: Step) => {
          checked++;
          let m: RegExpExecArray | null;
          if ((m = /^inputs\.parameters\.([\w-]+)$/.exec(ref))) expect(names(template.inputs?.parameters), where).toContain(m[1]);
          else if ((m = /^workflow\.parameters\.([\w-]+)$/.exec(ref))) expect(workflowParams, where).toContain(m[1]);
          else if ((m = /^steps\.([\w-]+)\.outputs\.(parameters|artifacts)\.([\w-]+)$/.exec(ref))) {
            const source = stepsByName.get(m[1]!);
            expect(source, where).toBeDefined();
            const outputs = calledTemplate(source!, doc, all)?.outputs?.[m[2] as 'parameters' | 'artifacts'];
            expect(names(outputs), where).toContain(m[3]);
          } else if (ref === 'item') expect(step?.withItems ?? step?.withSequence ?? step?.withParam, `${where}: {{item}} outside a loop`).toBeDefined();
          else expect.fail(`${where}: unknown reference {{${ref}}}`);
        };
        const { steps, ...rest } = template;
        for (const ref of references(rest)) check(ref, `${file}: ${template.name}: {{${ref}}}`);
        for (const step of (steps ?? []).flat()) {
          for (const ref of references(step)) check(ref, `${file}: ${template.name}/${step.name}: {{${ref}}}`, step);
        }
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('the promotion Workflow deploys only when the gate step says pass', () => {
    const workflow = all.find((m) => m.kind === 'Workflow')!;
    const steps = (workflow.spec.templates as Template[]).find((t) => t.name === workflow.spec.entrypoint)!.steps!.flat();
    expect(steps.map((s) => s.name)).toEqual(['train', 'gate', 'deploy']);
    expect(steps[1]!.templateRef).toEqual({ name: 'heatgate', template: 'gate' });
    expect(steps[2]!.when).toBe('{{steps.gate.outputs.parameters.verdict}} == pass');
  });

  it('the fan-out runs `shards` shard steps as i/n and then one merge over the same work prefix', () => {
    const sharded = byName('WorkflowTemplate', 'heatgate-sharded')!;
    const [[shard], [merge]] = (sharded.spec.templates as Template[])[0]!.steps! as [[Step], [Step]];
    expect(shard.templateRef).toEqual({ name: 'heatgate', template: 'shard' });
    expect(shard.withSequence).toEqual({ count: '{{inputs.parameters.shards}}' });
    const arg = (step: Step, name: string) => step.arguments!.parameters!.find((p) => p.name === name)?.value;
    expect(arg(shard, 'shard')).toBe('{{item}}/{{inputs.parameters.shards}}');
    expect(merge.templateRef).toEqual({ name: 'heatgate', template: 'merge' });
    expect(arg(merge, 'work')).toBe(arg(shard, 'work'));
  });
});

/** Container templates (and Job pods) that run the heatgate image. */
function heatgateContainers(): { where: string; container: any; template?: Template; volumes: any[] }[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  const out = [];
  for (const { file, doc } of loaded) {
    if (isWorkflowKind(doc)) {
      for (const t of doc.spec.templates as Template[]) {
        if (t.container && /heatgate/.test(JSON.stringify(t.container.image) + JSON.stringify(t.inputs))) {
          out.push({ where: `${file}: ${t.name}`, container: t.container, template: t, volumes: t.volumes ?? [] });
        }
      }
    } else if (doc.kind === 'Job') {
      for (const c of doc.spec.template.spec.containers) out.push({ where: `${file}: ${c.name}`, container: c, volumes: doc.spec.template.spec.volumes ?? [] });
    }
  }
  return out;
}

describe('Argo manifests: retries, security, GPU', () => {
  it('retries heatgate steps on exit 4 only', () => {
    const steps = heatgateContainers().filter((c) => c.template);
    expect(steps.map((s) => s.where)).toEqual(expect.arrayContaining([
      'workflow-template.yaml: gate', 'workflow-template.yaml: shard', 'workflow-template.yaml: merge',
    ]));
    for (const { where, template } of steps) {
      expect(template!.retryStrategy?.expression, where).toBe('asInt(lastRetry.exitCode) == 4');
    }
    for (const job of all.filter((m) => m.kind === 'Job')) {
      expect(job.spec.template.spec.restartPolicy).toBe('Never');
      expect(job.spec.podFailurePolicy.rules).toEqual([
        { action: 'FailJob', onExitCodes: { containerName: 'heatgate', operator: 'NotIn', values: [4] } },
      ]);
    }
  });

  it('runs heatgate non-root, read-only, without capabilities, with /tmp on an emptyDir', () => {
    for (const { where, container, volumes } of heatgateContainers()) {
      expect(container.securityContext, where).toMatchObject({
        runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] },
      });
      const mount = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp');
      expect(volumes.find((v) => v.name === mount?.name)?.emptyDir, where).toEqual({});
    }
    for (const { file, doc } of workflows()) expect(doc.spec.securityContext?.runAsNonRoot, file).toBe(true);
  });

  it('requests and limits one GPU wherever heatgate computes heatmaps', () => {
    const computing = heatgateContainers().filter((c) => !/merge/.test(c.where));
    expect(computing.length).toBeGreaterThanOrEqual(3);
    for (const { where, container } of computing) {
      expect(container.resources.requests['nvidia.com/gpu'], where).toBe('1');
      expect(container.resources.limits['nvidia.com/gpu'], where).toBe('1');
    }
  });
});

describe('RBAC and kustomization', () => {
  it('bindings name Roles and ServiceAccounts that exist, and workflows run as a defined ServiceAccount', () => {
    const accounts = all.filter((m) => m.kind === 'ServiceAccount').map((m) => m.metadata.name);
    const bindings = all.filter((m) => m.kind === 'RoleBinding');
    expect(bindings.length).toBe(2);
    for (const b of bindings) {
      expect(byName('Role', b.roleRef.name), b.metadata.name).toBeDefined();
      for (const s of b.subjects) expect(accounts).toContain(s.name);
    }
    for (const { doc } of workflows()) expect(accounts).toContain(doc.spec.serviceAccountName);
  });

  it('gives heatgate-submit exactly the permissions `heatgate submit` uses', () => {
    const role = byName('Role', 'heatgate-submit')!;
    const granted = role.rules.flatMap((r: { apiGroups: string[]; resources: string[]; verbs: string[] }) =>
      r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`))));
    const needed = SUBMIT_PERMISSIONS.flatMap((p) => p.verbs.map((v) => `${p.group}/${p.resource}:${v}`));
    expect(granted.sort()).toEqual(needed.sort());
  });

  it('kustomization lists the installable manifests, each of which exists', async () => {
    const k = parse(await readFile(path.join(MANIFESTS, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    const installable = [...new Set(loaded.map((l) => l.file))].filter((f) => !f.startsWith('examples/') && f !== 'kustomization.yaml');
    expect([...k.resources].sort()).toEqual(installable.sort());
  });
});

// --- the step scripts, run locally ---------------------------------------------------------------------------

let fakeBin: string;
beforeAll(async () => {
  fakeBin = await mkdtemp(path.join(tmpdir(), 'heatgate-fake-'));
  // Records its argv, writes FAKE_VERDICT to <--out>/verdict.txt (with the newline heatgate writes), exits FAKE_EXIT.
  await writeFile(path.join(fakeBin, 'heatgate'), [
    '#!/bin/sh',
    'printf "%s\\n" "$@" > "$ARGV_FILE"',
    'out=; prev=; for a in "$@"; do [ "$prev" = --out ] && out=$a; prev=$a; done',
    'if [ -n "$FAKE_VERDICT" ]; then mkdir -p "$out"; printf "%s\\n" "$FAKE_VERDICT" > "$out/verdict.txt"; fi',
    'exit "${FAKE_EXIT:-0}"',
    '',
  ].join('\n'));
  await chmod(path.join(fakeBin, 'heatgate'), 0o755);
});

interface ScriptRun {
  code: number | null;
  stderr: string;
  argv: string[];
  verdict: string | undefined;
  root: string;
}

/**
 * Runs a template's container the way the pod would: its env with {{inputs.parameters.*}} filled in, its sh -c
 * script with /tmp/heatgate moved into a fresh temp folder.
 */
async function runTemplate(template: Template, params: Record<string, string>, extraEnv: Record<string, string> = {}, bin = fakeBin): Promise<ScriptRun> {
  const root = await mkdtemp(path.join(tmpdir(), 'heatgate-step-'));
  const values: Record<string, string> = {};
  for (const p of template.inputs?.parameters ?? []) {
    const v = params[p.name] ?? p.value ?? p.default;
    if (v === undefined) throw new Error(`test must pass ${p.name}`);
    values[p.name] = v;
  }
  const fill = (s: string) => s.replace(/\{\{inputs\.parameters\.([\w-]+)\}\}/g, (_, n: string) => values[n]!);
  const env: Record<string, string> = {};
  for (const e of template.container.env ?? []) env[e.name] = fill(e.value);
  return runScript(shellScript(template.container).replaceAll('/tmp/heatgate', root), { ...env, ...extraEnv }, root, bin);
}

async function runScript(script: string, env: Record<string, string>, root: string, bin = fakeBin): Promise<ScriptRun> {
  const argvFile = path.join(root, 'argv');
  const child = spawnSync('/bin/sh', ['-ec', script], {
    env: { PATH: `${bin}:${process.env.PATH}`, ARGV_FILE: argvFile, ...env },
    encoding: 'utf8',
  });
  const argv = await readFile(argvFile, 'utf8').then((t) => t.trimEnd().split('\n'), () => []);
  const verdict = await readFile(path.join(root, 'verdict'), 'utf8').catch(() => undefined);
  return { code: child.status, stderr: child.stderr, argv, verdict, root };
}

const flag = (argv: string[], name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);

describe('the heatgate WorkflowTemplate step script', () => {
  const gate = () => templateOf('heatgate', 'gate');
  const base = { model: 's3://b/m.onnx', images: 's3://b/images' };

  it('passes the given locations and leaves out the flags whose parameter is empty', async () => {
    const run = await runTemplate(gate(), { ...base, 'baseline-model': 's3://b/prod.onnx', layer: '' }, { FAKE_VERDICT: 'pass' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.argv[0]).toBe('run');
    expect(flag(run.argv, '--model')).toBe('s3://b/m.onnx');
    expect(flag(run.argv, '--images')).toBe('s3://b/images');
    expect(flag(run.argv, '--baseline-model')).toBe('s3://b/prod.onnx');
    expect(flag(run.argv, '--method')).toBe('gradcam');
    expect(flag(run.argv, '--provider')).toBe('auto');
    expect(flag(run.argv, '--out')).toBe(path.join(run.root, 'out'));
    for (const absent of ['--policy', '--layer', '--labels', '--coco', '--normalize', '--shard']) expect(run.argv).not.toContain(absent);
  });

  it.each([
    ['pass', 0, 'pass'],
    ['fail', 1, 'fail'],
  ])('writes verdict "%s" without a newline for heatgate exit %i, and the step succeeds', async (verdict, exit, expected) => {
    const run = await runTemplate(gate(), base, { FAKE_VERDICT: verdict, FAKE_EXIT: String(exit) });
    expect(run.code, run.stderr).toBe(0);
    expect(run.verdict).toBe(expected);
    expect(gate().outputs!.parameters!.find((p) => p.name === 'verdict')!.valueFrom!.path).toBe('/tmp/heatgate/verdict');
  });

  it.each([2, 3, 4, 70])('fails the step with exit %i and writes no verdict', async (exit) => {
    const run = await runTemplate(gate(), base, { FAKE_EXIT: String(exit) });
    expect(run.code).toBe(exit);
    expect(run.verdict).toBeUndefined();
  });

  it('refuses a verdict file that contradicts the exit code (exit 70, no verdict)', async () => {
    const run = await runTemplate(gate(), base, { FAKE_VERDICT: 'fail', FAKE_EXIT: '0' });
    expect(run.code).toBe(70);
    expect(run.stderr).toContain('verdict.txt');
    expect(run.verdict).toBeUndefined();
  });

  it('shard: runs i/n into <work>/shard-i, and a failed shard gate is not a failed step', async () => {
    const run = await runTemplate(templateOf('heatgate', 'shard'), { ...base, shard: '2/4', work: 's3://b/run-1' }, { FAKE_EXIT: '1' });
    expect(run.code, run.stderr).toBe(0);
    expect(flag(run.argv, '--shard')).toBe('2/4');
    expect(flag(run.argv, '--out')).toBe('s3://b/run-1/shard-2');
    expect(run.verdict).toBeUndefined();
  });

  it('merge: runs exactly `heatgate merge --out O --shards-from PREFIX [--policy P]` and writes the verdict', async () => {
    const run = await runTemplate(templateOf('heatgate', 'merge'), { work: 's3://b/run-1', policy: 's3://b/p.yaml' }, { FAKE_VERDICT: 'fail', FAKE_EXIT: '1' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.argv).toEqual(['merge', '--out', path.join(run.root, 'out'), '--shards-from', 's3://b/run-1', '--policy', 's3://b/p.yaml']);
    expect(run.verdict).toBe('fail');
  });

  it('gates the underpass demo with the real heatgate: verdict "pass" and every output artifact in place', async () => {
    const bin = await mkdtemp(path.join(tmpdir(), 'heatgate-real-'));
    await writeFile(path.join(bin, 'heatgate'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, 'bin/heatgate.js')}" "$@"\n`);
    await chmod(path.join(bin, 'heatgate'), 0o755);
    const run = await runTemplate(gate(), {
      model: path.join(EXAMPLE, 'models/clean.onnx'),
      images: path.join(EXAMPLE, 'images'),
      'invalid-masks': path.join(EXAMPLE, 'invalid'),
      'roi-masks': path.join(EXAMPLE, 'roi'),
      labels: path.join(EXAMPLE, 'labels.csv'),
      provider: 'cpu',
    }, {}, bin);
    expect(run.code, run.stderr).toBe(0);
    expect(run.verdict).toBe('pass');
    for (const artifact of gate().outputs!.artifacts!) {
      const local = artifact.path!.replace('/tmp/heatgate', run.root);
      expect((await stat(local)).size, artifact.name).toBeGreaterThan(0);
    }
  });
});

describe('the Indexed Job', () => {
  const job = () => byName('Job', 'heatgate-shards')!;
  const container = () => job().spec.template.spec.containers[0];
  const env = () => Object.fromEntries(container().env.map((e: { name: string; value: string }) => [e.name, e.value])) as Record<string, string>;

  it('turns JOB_COMPLETION_INDEX into --shard i/n with n = completions, into <work>/shard-i', async () => {
    expect(job().spec.completionMode).toBe('Indexed');
    expect(Number(env().HG_SHARDS)).toBe(job().spec.completions);
    const root = await mkdtemp(path.join(tmpdir(), 'heatgate-job-'));
    const run = await runScript(shellScript(container()), { ...env(), JOB_COMPLETION_INDEX: '3', FAKE_EXIT: '1' }, root);
    expect(run.code, run.stderr).toBe(0);
    expect(flag(run.argv, '--shard')).toBe(`3/${job().spec.completions}`);
    expect(flag(run.argv, '--out')).toBe(`${env().HG_WORK}/shard-3`);
    const failed = await runScript(shellScript(container()), { ...env(), JOB_COMPLETION_INDEX: '0', FAKE_EXIT: '4' }, root);
    expect(failed.code).toBe(4);
  });

  it('merges the same prefix the shards wrote', () => {
    const merge = byName('Job', 'heatgate-merge')!.spec.template.spec.containers[0];
    expect(merge.args[0]).toBe('merge');
    expect(flag(merge.args, '--shards-from')).toBe(env().HG_WORK);
  });
});

/**
 * component.yaml (the Kubeflow component): every placeholder names a declared input or output, with the binding KFP
 * 2.x accepts for its type, and the container command, run locally with the placeholders filled in as a launcher
 * would, gates the underpass demo: the verdict output is exactly "pass" or "fail", the other outputs are in place,
 * and a bad input fails the step with heatgate's exit code and no verdict.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { placeholderUses, resolveCommandLine, type Bindings, type ComponentSpec } from './kfp-placeholders.ts';

const ROOT = path.resolve('.');
const EXAMPLE = path.join(ROOT, 'examples/underpass');
// KFP 2.x: inputValue needs a parameter type; every other type is an artifact, which goes through inputPath.
const PARAMETER_TYPES = new Set(['string', 'integer', 'float', 'boolean']);

let spec: ComponentSpec;
let binDir: string;

beforeAll(async () => {
  spec = parse(await readFile(path.join(ROOT, 'component.yaml'), 'utf8')) as ComponentSpec;
  // The image's ENTRYPOINT is `heatgate` on PATH; here a shim runs this checkout's CLI.
  binDir = await mkdtemp(path.join(tmpdir(), 'heatgate-kfp-bin-'));
  const shim = path.join(binDir, 'heatgate');
  await writeFile(shim, `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, 'bin/heatgate.js')}" "$@"\n`);
  await chmod(shim, 0o755);
});

const isParameter = (type: string | undefined) => PARAMETER_TYPES.has(String(type).toLowerCase());

describe('component.yaml placeholders', () => {
  it('name declared inputs and outputs, with inputValue only on parameter types and inputPath only on artifacts', () => {
    const container = spec.implementation.container;
    const uses = placeholderUses([...(container.command ?? []), ...(container.args ?? [])]);
    const inputs = new Map((spec.inputs ?? []).map((i) => [i.name, i]));
    const outputs = new Map((spec.outputs ?? []).map((o) => [o.name, o]));
    expect(uses.length).toBeGreaterThan(0);
    for (const use of uses) {
      const where = `${use.kind}: ${use.name}`;
      if (use.kind === 'outputPath' || use.kind === 'outputUri') {
        expect(outputs.has(use.name), where).toBe(true);
        continue;
      }
      const input = inputs.get(use.name);
      expect(input, where).toBeDefined();
      if (use.kind === 'inputValue') expect(isParameter(input!.type), where).toBe(true);
      if (use.kind === 'inputPath') expect(isParameter(input!.type), where).toBe(false);
    }
    // Nothing declared goes unused, and an optional input is only ever used under its own isPresent.
    const used = new Set(uses.map((u) => u.name));
    for (const name of [...inputs.keys(), ...outputs.keys()]) expect(used.has(name), name).toBe(true);
    for (const [name, input] of inputs) {
      if (input.optional) expect(uses.some((u) => u.kind === 'isPresent' && u.name === name), name).toBe(true);
    }
  });

  it('declares the verdict as a String output (a parameter dsl.If can compare) and the KFP v1 metrics output', () => {
    const outputs = Object.fromEntries((spec.outputs ?? []).map((o) => [o.name, o.type]));
    expect(outputs.verdict).toBe('String');
    // KFP recognises v1 metrics by the output name: lowercased, non-alphanumerics as '-', it is mlpipeline-metrics.
    expect(Object.keys(outputs).map((n) => n.toLowerCase().replace(/[^a-z0-9]/g, '-'))).toContain('mlpipeline-metrics');
  });
});

interface StepRun {
  code: number | null;
  stderr: string;
  outputs: Record<string, string>;
}

/** Runs the container command as a launcher would: inputs bound to demo files, outputs to fresh nested paths. */
async function runStep(inputPaths: Record<string, string>, values: Record<string, string> = {}): Promise<StepRun> {
  const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-kfp-'));
  // KFP v1 hands out paths like /tmp/outputs/<name>/data whose folders do not exist yet.
  const outputs = Object.fromEntries((spec.outputs ?? []).map((o) => [o.name, path.join(dir, 'outputs', o.name, 'data')]));
  const bound: Bindings = { values: { provider: 'cpu', ...values }, inputPaths, outputPaths: outputs };
  const { command = [], args = [] } = spec.implementation.container;
  const argv = resolveCommandLine([...command, ...args], spec, bound);
  const tmp = path.join(dir, 'tmp');
  await mkdir(tmp);
  const child = spawnSync(argv[0]!, argv.slice(1), {
    cwd: dir,
    env: { ...process.env, PATH: `${binDir}:${process.env.PATH}`, TMPDIR: tmp },
    encoding: 'utf8',
  });
  return { code: child.status, stderr: child.stderr, outputs };
}

const demo = {
  images: path.join(EXAMPLE, 'images'),
  labels: path.join(EXAMPLE, 'labels.csv'),
  invalid_masks: path.join(EXAMPLE, 'invalid'),
  roi_masks: path.join(EXAMPLE, 'roi'),
};

describe('component.yaml command on the underpass demo', () => {
  it('passes the clean model: verdict is exactly "pass", and metrics, report, summary, results and heatmaps are written', async () => {
    const run = await runStep({ ...demo, model: path.join(EXAMPLE, 'models/clean.onnx') }, { batch_size: '4' });
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(run.outputs.verdict!, 'utf8')).toBe('pass');
    const metrics = JSON.parse(await readFile(run.outputs.mlpipeline_metrics!, 'utf8')) as { metrics: { name: string; numberValue: number }[] };
    expect(metrics.metrics.find((m) => m.name === 'passed')?.numberValue).toBe(1);
    expect(await readFile(run.outputs.report!, 'utf8')).toMatch(/^<!doctype html>/i);
    expect(await readFile(run.outputs.summary!, 'utf8')).toMatch(/pass/i);
    const results = (await readFile(run.outputs.results!, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { image: string });
    const images = (await readdir(demo.images)).filter((f) => f.endsWith('.png'));
    expect(results.map((r) => r.image).sort()).toEqual(images.sort());
    const heatmaps = await readdir(run.outputs.heatmaps!);
    expect(heatmaps.filter((f) => f.endsWith('.npy')).sort()).toEqual(images.map((i) => `${i}.npy`).sort());
  });

  it('fails the shortcut model and still succeeds as a step, so a downstream dsl.If can branch on "fail"', async () => {
    const run = await runStep({
      ...demo,
      model: path.join(EXAMPLE, 'models/shortcut.onnx'),
      baseline_model: path.join(EXAMPLE, 'models/clean.onnx'),
    });
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(run.outputs.verdict!, 'utf8')).toBe('fail');
    const metrics = JSON.parse(await readFile(run.outputs.mlpipeline_metrics!, 'utf8')) as { metrics: { name: string; numberValue: number }[] };
    expect(metrics.metrics.find((m) => m.name === 'passed')?.numberValue).toBe(0);
    expect(metrics.metrics.map((m) => m.name)).toContain('invalid-mass-regression');
  });

  it('fails the step with heatgate\'s exit code and writes no verdict when an input is bad', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-kfp-bad-'));
    const policy = path.join(dir, 'policy.yaml');
    await writeFile(policy, 'version: 1\nrules:\n  - {name: x, metric: noSuchMetric, aggregate: mean, max: 1}\n');
    const badPolicy = await runStep({ ...demo, model: path.join(EXAMPLE, 'models/clean.onnx'), policy });
    expect(badPolicy.code).toBe(2);
    expect(badPolicy.stderr).toContain('policy.yaml');
    await expect(stat(badPolicy.outputs.verdict!)).rejects.toThrow(/ENOENT/);

    const notAModel = path.join(dir, 'model.onnx');
    await writeFile(notAModel, 'not an onnx model');
    const badModel = await runStep({ ...demo, model: notAModel });
    expect(badModel.code).toBe(3);
    expect(badModel.stderr).toContain('model.onnx');
    await expect(stat(badModel.outputs.verdict!)).rejects.toThrow(/ENOENT/);
  });
});

/**
 * The broken and hostile inputs of issue 7 ("the gate fails closed"), each through the CLI on the bundled demo: the
 * right exit code, one clear `heatgate:` line and no stack trace, or (for the gate's own cases) a verdict that is not
 * "pass". Every case here ended in PASS/exit 0 or in an internal error before.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel, saveModel } from '../../src/onnx/model.ts';
import { makeTensor, makeValueInfo, toNodeProto } from '../../src/onnx/builder.ts';
import { DataType } from '../../src/onnx/proto.ts';
import type { Verdict } from '../../src/gate/verdict.ts';
import { cli, expectOneLine, type CliResult } from '../cli/helpers.ts';

const demo = path.resolve('examples/underpass');
const clean = path.join(demo, 'models/clean.onnx');
const shortcut = path.join(demo, 'models/shortcut.onnx');
const images = path.join(demo, 'images');
const invalid = path.join(demo, 'invalid');
const labels = path.join(demo, 'labels.csv');

let dir: string;
const tried: { input: string; code: number }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'heatgate-hostile-'));
});

async function run(name: string, args: string[]): Promise<CliResult> {
  const result = await cli([...args, '--quiet', '--no-overlays']);
  tried.push({ input: name, code: result.code });
  return result;
}

const gateRun = (model: string, out: string, ...extra: string[]) => ['run', '--model', model, '--images', images, '--out', out, ...extra];
const readVerdict = async (out: string) => JSON.parse(await readFile(path.join(out, 'verdict.json'), 'utf8')) as Verdict;

describe('issue 7: inputs that used to pass or crash', () => {
  it('a misspelled mask folder is exit 2 naming the flag; an empty one or a file is exit 3; the right one fails the shortcut model', async () => {
    const typo = await run('misspelled --invalid-masks', gateRun(shortcut, path.join(dir, 'typo'), '--labels', labels, '--invalid-masks', `${invalid}d`));
    expect(typo.code).toBe(2);
    expect(expectOneLine(typo)).toBe(`heatgate: error: --invalid-masks ${invalid}d: no such folder`);
    expect(existsSync(path.join(dir, 'typo'))).toBe(false);

    const emptyDir = path.join(dir, 'empty-masks');
    await mkdir(emptyDir);
    const empty = await run('empty --invalid-masks folder', gateRun(shortcut, path.join(dir, 'empty'), '--labels', labels, '--invalid-masks', emptyDir));
    expect(empty.code).toBe(3);
    expect(expectOneLine(empty)).toMatch(/^heatgate: error: --invalid-masks .*empty-masks: /);

    const asFile = await run('--invalid-masks that is a file', gateRun(shortcut, path.join(dir, 'file'), '--labels', labels, '--invalid-masks', labels));
    expect(asFile.code).toBe(3);
    expect(expectOneLine(asFile)).toMatch(/^heatgate: error: --invalid-masks .*labels\.csv: /);

    const right = await run('shortcut model, right masks', gateRun(shortcut, path.join(dir, 'right'), '--labels', labels, '--invalid-masks', invalid));
    expect(right.code).toBe(1);
    const ok = await run('clean model, right masks', gateRun(clean, path.join(dir, 'clean'), '--labels', labels, '--invalid-masks', invalid));
    expect(ok.code).toBe(0);
  });

  it('with no region source at all the default policy does not pass the shortcut model, and says which flags give the data', async () => {
    const out = path.join(dir, 'no-regions');
    const result = await run('no region source, default policy', gateRun(shortcut, out, '--labels', labels));
    expect(result.code).toBe(1);
    const v = await readVerdict(out);
    expect(v.verdict).toBe('fail');
    const rule = v.rules.find((r) => r.name === 'mean-invalid-mass')!;
    expect(rule.outcome).toBe('fail');
    expect(rule.message).toMatch(/--invalid-masks/);
  });

  it('a model whose weights are NaN is exit 3 naming the model', async () => {
    const { model } = await loadModel(clean);
    const gemm = model.graph!.node!.find((n) => n.opType === 'Gemm')!;
    const weight = model.graph!.initializer!.find((t) => t.name === gemm.input![1])!;
    const count = weight.dims!.reduce((a, b) => a * Number(b), 1);
    weight.rawData = new Uint8Array(new Float32Array(count).fill(NaN).buffer);
    weight.floatData = [];
    const file = path.join(dir, 'nan.onnx');
    await saveModel(model, file);
    const result = await run('NaN weights', gateRun(file, path.join(dir, 'nan'), '--labels', labels, '--invalid-masks', invalid));
    expect(result.code).toBe(3);
    expect(expectOneLine(result)).toMatch(new RegExp(`^heatgate: error: ${file}: .*NaN`));
  });

  it('an empty, a header-only and a contradictory labels file are exit 3', async () => {
    const cases: [string, string, RegExp][] = [
      ['empty labels file', '', /labels-0\.csv/],
      ['header-only labels file', 'image,label\n', /labels-1\.csv/],
      ['one image, two labels', 'image,label\nframe_0000.png,0\nframe_0000.png,1\n', /labels-2\.csv.*line/],
    ];
    for (const [i, [name, text, pattern]] of cases.entries()) {
      const file = path.join(dir, `labels-${i}.csv`);
      await writeFile(file, text);
      const result = await run(name, gateRun(clean, path.join(dir, `labels-out-${i}`), '--labels', file, '--invalid-masks', invalid));
      expect(result.code, name).toBe(3);
      expect(expectOneLine(result)).toMatch(pattern);
    }
  });

  it('a COCO object box wholly outside its image is a notice, and the ROI rule without data fails instead of passing', async () => {
    const frames = (await readdir(images)).filter((f) => f.endsWith('.png')).sort();
    const rows = (await readFile(labels, 'utf8')).trim().split('\n').slice(1).map((l) => l.split(','));
    const pedestrian = new Set(rows.filter(([, label]) => label === '1').map(([image]) => image));
    const coco = {
      images: frames.map((file_name, id) => ({ id, file_name, width: 128, height: 96 })),
      categories: [{ id: 1, name: 'pedestrian' }, { id: 2, name: 'timestamp' }],
      annotations: frames.flatMap((f, id) => [
        { id: 2 * id, image_id: id, category_id: 2, bbox: [0, 0, 96, 11], area: 1056, iscrowd: 0 },
        ...(pedestrian.has(f) ? [{ id: 2 * id + 1, image_id: id, category_id: 1, bbox: [500, 500, 10, 20], area: 200, iscrowd: 0 }] : []),
      ]),
    };
    const cocoFile = path.join(dir, 'outside.json');
    await writeFile(cocoFile, JSON.stringify(coco));
    const policy = path.join(dir, 'roi-policy.yaml');
    await writeFile(policy, 'version: 1\nregions: {coco: {roi: [pedestrian], invalid: [timestamp]}}\nrules:\n  - {name: looks-at-people, metric: roiMass, min: 0.3}\n');
    const out = path.join(dir, 'outside');
    const result = await run('COCO box outside its image', gateRun(clean, out, '--coco', cocoFile, '--policy', policy, '--labels', labels));
    expect(result.code).toBe(1);
    const v = await readVerdict(out);
    expect(v.rules.find((r) => r.name === 'looks-at-people')!.outcome).toBe('fail');
    expect(v.notices.map((n) => n.kind)).toContain('coco-annotations-outside-image');
  });

  it('share thresholds outside [0, 1] and a negative max are exit 2 naming the file and the rule', async () => {
    const bad: [string, string][] = [
      ['share max 1.5', '{name: s, metric: invalidMass, aggregate: shareAbove, value: 0.5, max: 1.5}'],
      ['share min -0.5', '{name: s, metric: invalidMass, aggregate: shareAbove, value: 0.5, min: -0.5}'],
      ['max -0.1', '{name: s, metric: invalidMass, aggregate: mean, max: -0.1}'],
    ];
    for (const [i, [name, rule]] of bad.entries()) {
      const policy = path.join(dir, `range-${i}.yaml`);
      await writeFile(policy, `version: 1\nrules:\n  - ${rule}\n`);
      const result = await run(name, gateRun(clean, path.join(dir, `range-out-${i}`), '--policy', policy, '--invalid-masks', invalid));
      expect(result.code, name).toBe(2);
      expect(expectOneLine(result)).toMatch(new RegExp(`^heatgate: error: ${policy}: rules\\[0\\]`));
    }
  });

  it('--resume into a run of another model or another method is exit 2 naming what differs', async () => {
    const out = path.join(dir, 'resume');
    const first = await cli(['explain', '--model', clean, '--images', images, '--out', out, '--quiet', '--no-overlays']);
    expect(first.code).toBe(0);
    const other = await run('--resume with another model', ['explain', '--model', shortcut, '--images', images, '--out', out, '--resume']);
    expect(other.code).toBe(2);
    expect(expectOneLine(other)).toMatch(/model/);
    const method = await run('--resume with another method', ['explain', '--model', clean, '--images', images, '--out', out, '--resume', '--method', 'hirescam']);
    expect(method.code).toBe(2);
    expect(expectOneLine(method)).toMatch(/method: "gradcam" -> "hirescam"/);
  });

  it('a YAML alias bomb in the policy is exit 2 naming the file', async () => {
    const lines = ['version: 1', 'a0: &a0 [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
    const policy = path.join(dir, 'bomb.yaml');
    await writeFile(policy, `${lines.join('\n')}\n`);
    const result = await run('YAML alias bomb', gateRun(clean, path.join(dir, 'bomb'), '--policy', policy));
    expect(result.code).toBe(2);
    expect(expectOneLine(result)).toMatch(new RegExp(`^heatgate: error: ${policy}: `));
  });

  it('--out that is a file, under a file, or under /proc is exit 2 with one line (and returns)', async () => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, 'x');
    for (const [name, out] of [
      ['--out is a file', file],
      ['--out under a file', path.join(file, 'out')],
      ['--out under /proc', '/proc/heatgate-hostile/out'],
    ] as const) {
      const result = await run(name, ['explain', '--model', clean, '--images', images, '--out', out]);
      expect(result.code, name).toBe(2);
      expect(expectOneLine(result)).toMatch(new RegExp(`^heatgate: error: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    }
  });

  it('a model that declares a 4 TB initializer is input data (3), not infrastructure', async () => {
    const { model } = await loadModel(clean);
    model.graph!.initializer!.push(makeTensor('huge', 'float32', [0], []));
    model.graph!.initializer!.at(-1)!.dims = [1_000_000, 1_000_000];
    model.graph!.node!.push(toNodeProto({ opType: 'Identity', inputs: ['huge'], outputs: ['huge_out'] }));
    model.graph!.output!.push(makeValueInfo('huge_out', DataType.FLOAT, [1_000_000, 1_000_000]));
    const file = path.join(dir, 'huge.onnx');
    await saveModel(model, file);
    const result = await run('4 TB initializer', ['explain', '--model', file, '--images', images, '--out', path.join(dir, 'huge')]);
    expect(result.code).toBe(3);
    expect(expectOneLine(result)).toMatch(new RegExp(`^heatgate: error: ${file}: `));
  });

  it('summary.md escapes a file name carrying HTML', async () => {
    const hostile = path.join(dir, 'hostile-images');
    await mkdir(hostile);
    const name = '<img src=x onerror=alert(1)>.png';
    for (const f of (await readdir(images)).slice(0, 5)) await copyFile(path.join(images, f), path.join(hostile, f));
    await copyFile(path.join(images, 'frame_0001.png'), path.join(hostile, name));
    const out = path.join(dir, 'hostile-out');
    const result = await run('HTML in an image file name', ['run', '--model', clean, '--images', hostile, '--out', out, '--policy', await minimalPolicy()]);
    expect([0, 1]).toContain(result.code);
    const md = await readFile(path.join(out, 'summary.md'), 'utf8');
    const html = await readFile(path.join(out, 'report.html'), 'utf8');
    // The name is there (the worst-images table lists all 6 images), as inert text.
    expect(md).toContain('onerror=alert(1)');
    expect(md).not.toContain('<img src=x');
    expect(html).toContain('onerror=alert(1)');
    expect(html).not.toContain('<img src=x');
  });

  it('counts the hostile inputs tried (for the closing note)', () => {
    // 22 runs; every one above ends in its documented code with one line. Only the two runs meant to pass pass.
    expect(tried.length).toBe(22);
    const passed = tried.filter((t) => t.code === 0).map((t) => t.input);
    expect(passed.every((input) => ['clean model, right masks', 'HTML in an image file name'].includes(input))).toBe(true);
    expect(passed).toContain('clean model, right masks');
  });
});

async function minimalPolicy(): Promise<string> {
  const file = path.join(dir, 'minimal.yaml');
  // Every image of the hostile folder is listed in the report's gallery through this rule on a metric every image has.
  await writeFile(file, 'version: 1\nminImages: 1\nrules:\n  - {name: sparse, metric: sparseness, aggregate: mean, min: 0}\n');
  return file;
}

/** run-manifest.json as written by real runs, against schemas/run-manifest.schema.json (draft-07, ajv). */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveModel } from '../../src/onnx/model.ts';
import { manifestDifferences, type RunManifest } from '../../src/pipeline/run-manifest.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';
import { cli, png } from '../cli/helpers.ts';

let dir: string;
let model: string;
let images: string;
const validate = new Ajv({ allErrors: true }).compile(JSON.parse(await readFile('schemas/run-manifest.schema.json', 'utf8')));

async function manifestOf(out: string): Promise<RunManifest> {
  return JSON.parse(await readFile(path.join(out, 'run-manifest.json'), 'utf8')) as RunManifest;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'heatgate-manifest-'));
  model = path.join(dir, 'tiny.onnx');
  await saveModel(tinyCnn({ size: 8, channels: 4, classes: 3 }).model, model);
  images = path.join(dir, 'images');
  for (let i = 0; i < 3; i++) await png(path.join(images, `img${i}.png`), i);
  for (let i = 0; i < 3; i++) await png(path.join(dir, 'masks', `img${i}.png`), 0, { value: i === 0 ? 255 : 0 });
});

describe('run-manifest.json', () => {
  it('of explain and of run (with masks, labels, a policy and a baseline) validates against the schema', async () => {
    const explained = path.join(dir, 'explain');
    expect((await cli(['explain', '--model', model, '--images', images, '--out', explained, '--quiet', '--shard', '1/2'])).code).toBe(0);
    const labels = path.join(dir, 'labels.csv');
    await writeFile(labels, 'image,label\nimg0.png,0\nimg1.png,1\nimg2.png,2\n');
    const policy = path.join(dir, 'policy.yaml');
    await writeFile(policy, 'version: 1\nminImages: 1\nrules: []\n');
    const ran = path.join(dir, 'run');
    const args = ['run', '--model', model, '--images', images, '--out', ran, '--quiet', '--labels', labels, '--policy', policy,
      '--invalid-masks', path.join(dir, 'masks'), '--baseline-model', model, '--target', 'labels', '--method', 'layercam', '--no-fail'];
    expect((await cli(args)).code).toBe(0);
    for (const out of [explained, ran, path.join(ran, 'baseline')]) {
      const manifest = await manifestOf(out);
      expect(validate(manifest), JSON.stringify(validate.errors)).toBe(true);
    }
    const run = await manifestOf(ran);
    expect(run).toMatchObject({
      command: 'run',
      method: 'layercam',
      target: 'labels',
      layers: ['act'],
      data: { folder: images, files: 3, shard: null },
      preprocessing: { resize: 'resize', inputSize: [8, 8], channels: 3, layout: 'NCHW', mean: [0.485, 0.456, 0.406] },
      inputs: { labels: { file: labels }, invalidMasks: { folder: path.join(dir, 'masks'), files: 3 }, roiMasks: null, coco: null },
      policy: { file: policy },
    });
    expect(run.baselineModel?.sha256).toBe(run.model.sha256);
    expect((await manifestOf(explained)).data).toMatchObject({ files: 1, shard: '1/2' });
    expect((await manifestOf(path.join(ran, 'baseline'))).command).toBe('run (baseline model)');
  });

  it('compares content, not where it lies: moved inputs and a new createdAt are the same run', async () => {
    const out = path.join(dir, 'compare');
    expect((await cli(['explain', '--model', model, '--images', images, '--out', out, '--quiet'])).code).toBe(0);
    const a = await manifestOf(out);
    const moved: RunManifest = { ...a, createdAt: '2030-01-01T00:00:00.000Z', model: { ...a.model, file: '/elsewhere/m.onnx' }, data: { ...a.data, folder: '/elsewhere' } };
    expect(manifestDifferences(a, moved)).toEqual([]);
    expect(manifestDifferences(a, { ...a, layers: ['other'], heatgate: { version: '9.9.9' } })).toEqual([
      { field: 'heatgate.version', old: JSON.stringify(a.heatgate.version), new: '"9.9.9"' },
      { field: 'layers', old: '["act"]', new: '["other"]' },
    ]);
  });
});

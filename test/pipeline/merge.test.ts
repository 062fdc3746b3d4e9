/**
 * `heatgate merge` (issue 8): three `run --shard i/3` on the bundled underpass demo, merged, give the verdict, metrics
 * and records of one unsharded run; a missing, duplicated, unfinished or foreign shard is exit 3 with one line and no
 * verdict in --out. Also through S3 (s3rver).
 */
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.ts';
import { saveModel } from '../../src/onnx/model.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';
import { cli, expectOneLine, png } from '../cli/helpers.ts';

const EXAMPLE = path.resolve('examples/underpass');
const COMMON = [
  '--model', path.join(EXAMPLE, 'models/shortcut.onnx'),
  '--baseline-model', path.join(EXAMPLE, 'models/clean.onnx'),
  '--images', path.join(EXAMPLE, 'images'),
  '--labels', path.join(EXAMPLE, 'labels.csv'),
  '--invalid-masks', path.join(EXAMPLE, 'invalid'),
  '--roi-masks', path.join(EXAMPLE, 'roi'),
  // Every image's overlay, so the merge has them all to copy (the default, worst, renders only each run's gallery).
  '--overlays', 'all',
  '--quiet',
];

let dir: string;
let work: string;
let single: string;

const read = (file: string) => readFile(file, 'utf8');
const exists = (file: string) => stat(file).then(() => true, () => false);
/** verdict.json without what differs between two runs of the same gate: when it was written. */
const maskedVerdict = async (folder: string) => ({ ...JSON.parse(await read(path.join(folder, 'verdict.json'))), generatedAt: 'masked' });
const maskedManifest = async (folder: string) => ({ ...JSON.parse(await read(path.join(folder, 'run-manifest.json'))), createdAt: 'masked' });

async function runShard(out: string, shard: string, extra: string[] = []): Promise<void> {
  const result = await cli(['run', ...COMMON, ...extra, '--shard', shard, '--out', out]);
  expect(result.code, result.stderr).toBe(1); // the shortcut model fails the default policy: a finished shard
}

/** A copy of the three good shards to break in one way. */
async function copyOfWork(name: string): Promise<string> {
  const copy = path.join(dir, name);
  await cp(work, copy, { recursive: true });
  return copy;
}

async function expectShardError(shardsFrom: string, message: RegExp, code = 3): Promise<void> {
  const out = path.join(dir, `out-${path.basename(shardsFrom)}`);
  const result = await cli(['merge', '--shards-from', shardsFrom, '--out', out]);
  expect(result.code, result.stderr).toBe(code);
  expect(expectOneLine(result)).toMatch(message);
  expect(await exists(path.join(out, 'verdict.json'))).toBe(false);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'heatgate-merge-'));
  work = path.join(dir, 'work');
  single = path.join(dir, 'single');
  for (const i of [0, 1, 2]) await runShard(path.join(work, `shard-${i}`), `${i}/3`);
  expect((await cli(['run', ...COMMON, '--out', single])).code).toBe(1);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('heatgate merge: three shards of the underpass demo', () => {
  let merged: string;
  let code: number;
  let stdout: string;
  beforeAll(async () => {
    merged = path.join(work, 'merged'); // inside the prefix, as the Argo template does it
    ({ code, stdout } = await cli(['merge', '--shards-from', work, '--out', merged]));
  }, 60_000);

  it('gives the verdict of one unsharded run: same rules, counts, fingerprints; metrics.json byte-identical', async () => {
    expect(code).toBe(1);
    expect(stdout).toMatch(/^heatgate merge: FAIL {2}3 shards, 48 images, 0 errors/);
    expect(await maskedVerdict(merged)).toEqual(await maskedVerdict(single));
    expect(await read(path.join(merged, 'metrics.json'))).toBe(await read(path.join(single, 'metrics.json')));
    expect(await read(path.join(merged, 'mlpipeline-metrics.json'))).toBe(await read(path.join(single, 'mlpipeline-metrics.json')));
    expect(await read(path.join(merged, 'verdict.txt'))).toBe('fail\n');
    const summary = await read(path.join(merged, 'summary.md'));
    expect(summary).toContain(path.join(merged, 'report.html'));
    expect(summary).toContain('mean-invalid-mass');
  });

  it('writes the records in the unsharded order with the same content, overlays copied, baseline results too', async () => {
    const records = await read(path.join(merged, 'results.jsonl'));
    expect(records).toBe(await read(path.join(single, 'results.jsonl')));
    expect(await read(path.join(merged, 'baseline/results.jsonl'))).toBe(await read(path.join(single, 'baseline/results.jsonl')));
    const first = JSON.parse(records.split('\n')[1]) as { image: string; overlay: string };
    expect(first.image).toBe('frame_0001.png'); // from shard 1: the shards interleave
    expect(await readFile(path.join(merged, first.overlay))).toEqual(await readFile(path.join(work, 'shard-1', first.overlay)));
    expect((await readdir(path.join(merged, 'overlays'))).length).toBe(48);
    // The report embeds every gallery's overlays (one gallery per failed rule), as the unsharded report does.
    const report = await read(path.join(merged, 'report.html'));
    const { galleries } = JSON.parse(await read(path.join(merged, 'verdict.json'))) as { galleries: { images: unknown[] }[] };
    expect(galleries.length).toBeGreaterThan(1);
    expect(report.match(/data:image\/jpeg;base64/g)?.length).toBe(galleries.reduce((n, g) => n + g.images.length, 0));
    expect(report.match(/data:image\/jpeg;base64/g)?.length).toBe((await read(path.join(single, 'report.html'))).match(/data:image\/jpeg;base64/g)?.length);
  });

  it('writes the run manifest of the whole image list (shard: null), as the unsharded run does', async () => {
    const manifest = await maskedManifest(merged);
    expect(manifest.data.shard).toBeNull();
    expect(manifest.data.files).toBe(48);
    expect(manifest).toEqual(await maskedManifest(single));
  });

  it('exits 0 on a failed gate with --no-fail', async () => {
    const result = await cli(['merge', '--shards-from', work, '--out', path.join(dir, 'no-fail'), '--no-fail']);
    expect(result.code).toBe(0);
    expect(await read(path.join(dir, 'no-fail', 'verdict.txt'))).toBe('fail\n');
  });
});

describe('heatgate merge: uneven shards, input notices, raw heatmaps', () => {
  it('merges 3 + 2 images like one run: the notice once, heatmaps copied', async () => {
    const root = path.join(dir, 'tiny');
    const model = path.join(root, 'tiny.onnx');
    await saveModel(tinyCnn({ size: 8, channels: 4, classes: 3 }).model, model);
    const images = path.join(root, 'images');
    for (let i = 0; i < 5; i++) await png(path.join(images, i === 4 ? 'sub/img4.png' : `img${i}.png`), i);
    await writeFile(path.join(images, 'notes.txt'), 'not an image'); // a skipped file: every shard notices it
    const tiny = ['--model', model, '--images', images, '--save-raw', '--quiet'];
    const shards = path.join(root, 'work');
    for (const i of [0, 1]) expect((await cli(['run', ...tiny, '--shard', `${i}/2`, '--out', path.join(shards, `shard-${i}`)])).code).toBeLessThanOrEqual(1);
    const alone = path.join(root, 'single');
    const expected = await cli(['run', ...tiny, '--out', alone]);
    const out = path.join(root, 'merged');
    const result = await cli(['merge', '--shards-from', shards, '--out', out]);
    expect(result.code, result.stderr).toBe(expected.code);
    const verdict = await maskedVerdict(out);
    expect(verdict.notices).toHaveLength(1);
    expect(verdict.notices[0]).toMatchObject({ kind: 'skipped-unsupported', examples: ['notes.txt'] });
    expect(verdict).toEqual(await maskedVerdict(alone));
    expect(await read(path.join(out, 'results.jsonl'))).toBe(await read(path.join(alone, 'results.jsonl')));
    expect(await read(path.join(out, 'metrics.json'))).toBe(await read(path.join(alone, 'metrics.json')));
    expect(await readFile(path.join(out, 'heatmaps/sub/img4.png.npy'))).toEqual(await readFile(path.join(shards, 'shard-0', 'heatmaps/sub/img4.png.npy')));
  }, 60_000);
});

describe('heatgate merge: shards that are not one complete run', () => {
  it('a missing shard: exit 3 naming it', async () => {
    const copy = await copyOfWork('missing');
    await rm(path.join(copy, 'shard-1'), { recursive: true });
    await expectShardError(copy, /missing shard 1\/3/);
  });

  it('a duplicated shard: exit 3 naming both folders', async () => {
    const copy = await copyOfWork('duplicate');
    await cp(path.join(copy, 'shard-1'), path.join(copy, 'shard-3'), { recursive: true });
    await expectShardError(copy, /duplicate shard 1\/3: shard-1 and shard-3 both hold it/);
  });

  it('a shard of another model: exit 3 naming the shard and the model hash', async () => {
    const copy = await copyOfWork('other-model');
    await rm(path.join(copy, 'shard-2'), { recursive: true });
    const other = ['--model', path.join(EXAMPLE, 'models/clean.onnx'), '--images', path.join(EXAMPLE, 'images'), '--labels', path.join(EXAMPLE, 'labels.csv')];
    const result = await cli(['run', ...other, '--baseline-model', path.join(EXAMPLE, 'models/clean.onnx'), '--invalid-masks', path.join(EXAMPLE, 'invalid'),
      '--roi-masks', path.join(EXAMPLE, 'roi'), '--quiet', '--shard', '2/3', '--out', path.join(copy, 'shard-2')]);
    expect(result.code, result.stderr).toBeLessThanOrEqual(1);
    await expectShardError(copy, /shard-2 is not of the same run as shard-0 \(model\.sha256: /);
  }, 60_000);

  it('an unfinished shard (no verdict.json): exit 3 "did not finish"', async () => {
    const copy = await copyOfWork('unfinished');
    await rm(path.join(copy, 'shard-2', 'verdict.json'));
    await expectShardError(copy, /shard 2\/3 did not finish/);
  });

  it('shards that disagree on n: exit 3 naming which says what', async () => {
    const copy = await copyOfWork('n-mismatch');
    await runShard(path.join(copy, 'shard-3'), '3/4');
    await expectShardError(copy, /the shards disagree on n: shard-0, shard-1, shard-2 say n = 3; shard-3 says n = 4/);
  }, 60_000);

  it('a shard folder whose manifest names another shard: exit 3', async () => {
    const copy = await copyOfWork('renamed');
    await rm(path.join(copy, 'shard-2'), { recursive: true });
    await cp(path.join(work, 'shard-2'), path.join(copy, 'shard-5'), { recursive: true });
    await expectShardError(copy, /shard-5 holds shard 2\/3 by its run-manifest\.json/);
  });

  it('a shard whose results.jsonl lost records: exit 3 naming the file', async () => {
    const copy = await copyOfWork('short');
    const file = path.join(copy, 'shard-0', 'results.jsonl');
    await writeFile(file, (await read(file)).split('\n').slice(1).join('\n'));
    await expectShardError(copy, /shard-0\/results\.jsonl: holds 15 records but shard 0\/3 has 16 images/);
  });

  it('another policy than the shards ran with: exit 2', async () => {
    const policy = path.join(dir, 'other-policy.yaml');
    await writeFile(policy, 'version: 1\nrules:\n  - {name: accuracy, metric: accuracy, aggregate: mean, min: 0.5}\n');
    const out = path.join(dir, 'out-policy');
    const result = await cli(['merge', '--shards-from', work, '--out', out, '--policy', policy]);
    expect(result.code, result.stderr).toBe(2);
    expect(expectOneLine(result)).toMatch(/is not the policy the shards ran with/);
    expect(await exists(path.join(out, 'verdict.json'))).toBe(false);
  });

  it('shards of `heatgate explain` (no gate): exit 3 naming the command', async () => {
    const shards = path.join(dir, 'explained');
    const result = await cli(['explain', '--model', path.join(EXAMPLE, 'models/clean.onnx'), '--images', path.join(EXAMPLE, 'images'), '--quiet',
      '--no-overlays', '--shard', '0/1', '--out', path.join(shards, 'shard-0')]);
    expect(result.code, result.stderr).toBe(0);
    await expectShardError(shards, /shard-0 was made by `heatgate explain`/);
  }, 60_000);

  it('--out inside a shard folder: exit 2, the shard untouched', async () => {
    const before = await read(path.join(work, 'shard-0', 'results.jsonl'));
    const result = await cli(['merge', '--shards-from', work, '--out', path.join(work, 'shard-0', 'merged')]);
    expect(result.code, result.stderr).toBe(2);
    expect(expectOneLine(result)).toMatch(/--out .*: is inside shard-0/);
    expect(await read(path.join(work, 'shard-0', 'results.jsonl'))).toBe(before);
    expect(await exists(path.join(work, 'shard-0', 'merged'))).toBe(false);
  });

  it('no shard folders at all: exit 3', async () => {
    await expectShardError(path.join(EXAMPLE, 'images'), /no shard-<i> folders here/);
  });
});

describe('heatgate merge through S3', () => {
  let server: S3TestServer;
  let restoreEnv: () => void;
  beforeAll(async () => {
    server = await startS3Server({ buckets: ['runs'] });
    restoreEnv = server.applyEnv();
  }, 30_000);
  afterAll(async () => {
    restoreEnv?.();
    await server?.stop();
  });

  async function upload(local: string, key: string): Promise<void> {
    for (const entry of await readdir(local, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      const rel = path.relative(local, file).split(path.sep).join('/');
      await server.client().send(new PutObjectCommand({ Bucket: 'runs', Key: `${key}/${rel}`, Body: await readFile(file) }));
    }
  }
  async function download(key: string): Promise<string> {
    const response = await server.client().send(new GetObjectCommand({ Bucket: 'runs', Key: key }));
    return response.Body!.transformToString();
  }

  it('reads the shards from an s3:// prefix and writes the merged outputs there', async () => {
    for (const i of [0, 1, 2]) await upload(path.join(work, `shard-${i}`), `run-42/shard-${i}`);
    const result = await cli(['merge', '--shards-from', 's3://runs/run-42', '--out', 's3://runs/run-42/merged']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toContain('s3://runs/run-42/merged/verdict.json');
    expect({ ...JSON.parse(await download('run-42/merged/verdict.json')), generatedAt: 'masked' }).toEqual(await maskedVerdict(single));
    expect(await download('run-42/merged/metrics.json')).toBe(await read(path.join(single, 'metrics.json')));
    expect(await download('run-42/merged/results.jsonl')).toBe(await read(path.join(single, 'results.jsonl')));
    const overlay = await server.client().send(new GetObjectCommand({ Bucket: 'runs', Key: 'run-42/merged/overlays/frame_0047.png.png' }));
    expect(Buffer.from(await overlay.Body!.transformToByteArray())).toEqual(await readFile(path.join(work, 'shard-2', 'overlays/frame_0047.png.png')));
  }, 120_000);

  it('reads --policy from s3:// (the policy the shards ran with), and a missing one is exit 2', async () => {
    await server.client().send(new PutObjectCommand({ Bucket: 'runs', Key: 'policy.yaml', Body: await readFile('src/gate/default-policy.yaml') }));
    const result = await cli(['merge', '--shards-from', 's3://runs/run-42', '--out', path.join(dir, 'from-s3'), '--policy', 's3://runs/policy.yaml']);
    expect(result.code, result.stderr).toBe(1);
    const verdict = await maskedVerdict(path.join(dir, 'from-s3'));
    expect(verdict.policy.file).toBe('s3://runs/policy.yaml');
    expect(verdict.rules).toEqual((await maskedVerdict(single)).rules);
    const missing = await cli(['merge', '--shards-from', 's3://runs/run-42', '--out', path.join(dir, 'no-policy'), '--policy', 's3://runs/nope.yaml']);
    expect(missing.code).toBe(2);
    expect(expectOneLine(missing)).toMatch(/--policy s3:\/\/runs\/nope\.yaml: policy file not found/);
  }, 60_000);
});

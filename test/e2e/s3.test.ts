/**
 * The whole step against a real S3 server (s3rver on loopback, test/helpers/s3-server.ts): the demo's model, images,
 * masks, labels and policy in a bucket, the outputs back into it. Same verdict, exit code and metrics as on local
 * folders; an interrupted S3 run resumes without losing or repeating a record; missing, refused and unreachable
 * storage exit 2, 3 and 4; credentials appear nowhere.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES, InputError } from '../../src/errors.ts';
import { tensorData } from '../../src/onnx/graph.ts';
import { encodeModel, loadModel } from '../../src/onnx/model.ts';
import { onnx } from '../../src/onnx/proto.ts';
import { createRegionSource } from '../../src/analysis/regions.ts';
import { geometryFor } from '../../src/imaging/index.ts';
import { explainImages } from '../../src/pipeline/explain.ts';
import { createS3Client } from '../../src/storage/s3-client.ts';
import { Storage } from '../../src/storage/storage.ts';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';
import { cli, type CliResult } from '../cli/helpers.ts';

const EXAMPLE = path.resolve('examples/underpass');
const POLICY = path.resolve('src/gate/default-policy.yaml');
const BUCKET = 'heatgate';
// A secret key s3rver refuses, so it only ever travels as a signature: it must appear in no output.
const FAKE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYfakeSECRETkey42';
// A session token s3rver accepts (and ignores): it travels in a header of every request of the S3 run.
const FAKE_TOKEN = 'FwoGZXIvYXdzEFAKEsessionTOKENdoNotPrint0123456789';

let server: S3TestServer;
let restoreEnv: () => void;
let localOut: string;
let local: { code: number; stdout: string; stderr: string };
let remote: { code: number; stdout: string; stderr: string };

/** The CLI (test/cli/helpers.ts) with `env` set for the call. */
async function run(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await cli(args);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

async function upload(key: string, file: string): Promise<void> {
  await server.client().send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: await readFile(file) }));
}

async function uploadFolder(prefix: string, dir: string): Promise<void> {
  for (const name of await readdir(dir)) await upload(`${prefix}/${name}`, path.join(dir, name));
}

async function keys(prefix: string): Promise<string[]> {
  const page = await server.client().send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

async function object(key: string): Promise<Buffer> {
  const response = await server.client().send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

/** The arguments of one `heatgate run` over the demo inputs under `root` (a folder or s3:// prefix). */
function runArgs(root: string, out: string, join: (a: string, b: string) => string): string[] {
  return [
    'run',
    '--model', join(root, 'models/shortcut.onnx'),
    '--baseline-model', join(root, 'models/clean.onnx'),
    '--images', join(root, 'images'),
    '--invalid-masks', join(root, 'invalid'),
    '--roi-masks', join(root, 'roi'),
    '--labels', join(root, 'labels.csv'),
    '--classes', join(root, 'classes.txt'),
    '--policy', join(root, 'policy.yaml'),
    '--out', out,
    '--quiet',
    '--batch', '5',
  ];
}

const s3Join = (a: string, b: string) => `${a}/${b}`;

/**
 * verdict.json without what depends on where the run read and wrote, or when: generatedAt, the policy's `file`, and
 * the sha256 of results.jsonl (its records cite the mask files they used, by location; checked separately).
 */
const MASKED = new Set(['generatedAt', 'file', 'results', 'baselineResults']);
function masked(verdictJson: string): unknown {
  return JSON.parse(verdictJson, (key, value: unknown) => (MASKED.has(key) && typeof value === 'string' ? '<masked>' : value));
}

beforeAll(async () => {
  server = await startS3Server({ buckets: [BUCKET] });
  restoreEnv = server.applyEnv();
  await uploadFolder('demo/models', path.join(EXAMPLE, 'models'));
  await uploadFolder('demo/images', path.join(EXAMPLE, 'images'));
  await uploadFolder('demo/invalid', path.join(EXAMPLE, 'invalid'));
  await uploadFolder('demo/roi', path.join(EXAMPLE, 'roi'));
  await upload('demo/labels.csv', path.join(EXAMPLE, 'labels.csv'));
  await upload('demo/classes.txt', path.join(EXAMPLE, 'classes.txt'));
  await upload('demo/policy.yaml', POLICY);

  // The same run on local folders (the policy beside the example's files is the default policy file).
  localOut = await mkdtemp(path.join(tmpdir(), 'heatgate-s3-local-'));
  const localArgs = runArgs(EXAMPLE, localOut, (a, b) => path.join(a, b));
  localArgs[localArgs.indexOf('--policy') + 1] = POLICY;
  local = await run(localArgs);
  remote = await run(runArgs(`s3://${BUCKET}/demo`, `s3://${BUCKET}/runs/shortcut`, s3Join), { AWS_SESSION_TOKEN: FAKE_TOKEN });
}, 240_000);

afterAll(async () => {
  restoreEnv?.();
  await server?.stop();
});

describe('heatgate run with every location on S3', () => {
  it('gives the verdict, exit code and metrics.json of the same run on local folders', async () => {
    expect(local.code).toBe(EXIT_CODES.gateFailed); // the shortcut model fails the gate: a real verdict, not a crash
    expect(remote.code).toBe(local.code);
    expect(remote.stderr).toBe(local.stderr); // nothing extra on stderr (no SDK notices, no stack)
    const metrics = await object('runs/shortcut/metrics.json');
    expect(metrics.equals(await readFile(path.join(localOut, 'metrics.json')))).toBe(true);
    const verdict = (await object('runs/shortcut/verdict.json')).toString('utf8');
    expect(masked(verdict)).toEqual(masked(await readFile(path.join(localOut, 'verdict.json'), 'utf8')));
    const fingerprints = (JSON.parse(verdict) as { fingerprints: { results: string } }).fingerprints;
    expect(fingerprints.results).toBe(createHash('sha256').update(await object('runs/shortcut/results.jsonl')).digest('hex'));
    expect(JSON.parse(verdict).verdict).toBe('fail');
    expect((await object('runs/shortcut/verdict.txt')).toString()).toBe('fail\n');
  });

  it('writes every output into the bucket: results assembled, overlays, baseline, report; no parts left behind', async () => {
    const written = await keys('runs/shortcut/');
    const rel = written.map((k) => k.slice('runs/shortcut/'.length));
    for (const file of ['results.jsonl', 'run-manifest.json', 'verdict.json', 'verdict.txt', 'metrics.json', 'mlpipeline-metrics.json', 'summary.md', 'report.html', 'baseline/results.jsonl']) {
      expect(rel).toContain(file);
    }
    // --overlays worst (the default): the report galleries' overlays (one gallery per failed rule), rendered into the
    // bucket after the gate, each image once.
    const verdict = JSON.parse((await object('runs/shortcut/verdict.json')).toString('utf8')) as { galleries: { images: { overlay: string }[] }[] };
    expect(verdict.galleries[0].images).toHaveLength(12);
    const overlays = new Set(verdict.galleries.flatMap((g) => g.images.map((i) => i.overlay)));
    expect(rel.filter((k) => k.startsWith('overlays/')).sort()).toEqual([...overlays].sort());
    expect(rel.some((k) => k.includes('results.parts/'))).toBe(false);
    const remoteResults = (await object('runs/shortcut/results.jsonl')).toString('utf8');
    const localResults = await readFile(path.join(localOut, 'results.jsonl'), 'utf8');
    // The same records in the same order; only the mask locations they cite differ.
    const strip = (text: string) => text.replaceAll(`s3://${BUCKET}/demo`, '<root>').replaceAll(EXAMPLE, '<root>');
    expect(strip(remoteResults)).toBe(strip(localResults));
    expect(remoteResults.trim().split('\n')).toHaveLength(48);
  });

  it('heatgate gate re-gates the results in the bucket into another prefix, with the same metrics', async () => {
    const regate = await run([
      'gate',
      '--results', `s3://${BUCKET}/runs/shortcut/results.jsonl`,
      '--baseline-results', `s3://${BUCKET}/runs/shortcut/baseline/results.jsonl`,
      '--policy', `s3://${BUCKET}/demo/policy.yaml`,
      '--out', `s3://${BUCKET}/runs/regate`,
    ]);
    expect(regate.code).toBe(EXIT_CODES.gateFailed);
    expect(regate.stdout).toContain(`-> s3://${BUCKET}/runs/regate/verdict.json`);
    expect((await keys('runs/regate/')).map((k) => k.slice('runs/regate/'.length))).toEqual(
      ['metrics.json', 'mlpipeline-metrics.json', 'report.html', 'summary.md', 'verdict.json', 'verdict.txt'],
    );
    expect(JSON.parse((await object('runs/regate/verdict.json')).toString()).verdict).toBe('fail');
  });

  it('leaks no credential into any output object, stdout or stderr', async () => {
    const written = await keys('runs/shortcut/');
    expect(written.length).toBeGreaterThan(20); // results, reports, baseline and the gallery's 12 overlays
    for (const key of written) {
      const text = (await object(key)).toString('latin1');
      for (const secret of [FAKE_TOKEN, server.env.AWS_SECRET_ACCESS_KEY, server.env.AWS_ACCESS_KEY_ID]) expect(text).not.toContain(secret);
    }
    for (const secret of [FAKE_TOKEN, server.env.AWS_SECRET_ACCESS_KEY]) expect(remote.stdout + remote.stderr).not.toContain(secret);
  });
});

describe('a model on S3', () => {
  it('reads external data next to the model, and refuses a location that climbs out of its prefix', async () => {
    const storage = new Storage();
    const { model, fcW } = tinyCnn();
    const fc = model.graph!.initializer!.find((i) => i.name === 'fc.w')!;
    const bytes = Buffer.from(fc.rawData!);
    fc.rawData = new Uint8Array();
    fc.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    fc.externalData = [{ key: 'location', value: 'weights/fc.bin' }, { key: 'offset', value: '4' }];
    const put = (Key: string, Body: Uint8Array) => server.client().send(new PutObjectCommand({ Bucket: BUCKET, Key, Body }));
    await put('ext/model/weights/fc.bin', Buffer.concat([Buffer.alloc(4), bytes]));
    await put('ext/model/m.onnx', encodeModel(model));
    const loaded = await loadModel(`s3://${BUCKET}/ext/model/m.onnx`, { storage });
    const w = loaded.model.graph!.initializer!.find((i) => i.name === 'fc.w')!;
    expect(Array.from(tensorData(w) as Float32Array)).toEqual(Array.from(fcW));
    expect(loaded.sha256).toBe(createHash('sha256').update(encodeModel(model)).digest('hex'));

    fc.externalData = [{ key: 'location', value: '../secret.bin' }];
    await put('ext/secret.bin', bytes);
    await put('ext/model/escape.onnx', encodeModel(model));
    const error = await loadModel(`s3://${BUCKET}/ext/model/escape.onnx`, { storage }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(
      `s3://${BUCKET}/ext/model/escape.onnx: external data location "../secret.bin" of tensor "fc.w" escapes the model's folder; ` +
        `it must be a relative path inside s3://${BUCKET}/ext/model/`,
    );
  });
});

describe('mask folders on S3', () => {
  it('are listed once and each mask read once: no request per candidate extension', async () => {
    const client = createS3Client({ env: server.env });
    const sent: string[] = [];
    client.middlewareStack.add((next, context) => (args) => (sent.push(context.commandName as string), next(args)), { step: 'initialize' });
    const source = await createRegionSource({ invalidMasks: `s3://${BUCKET}/demo/invalid` }, { storage: new Storage({ s3: { client } }) });
    const images = (await readdir(path.join(EXAMPLE, 'images'))).map((name) => name.replace(/\.png$/, '.jpg')); // other extension
    for (const image of images) {
      const found = await source.forImage(image, geometryFor(128, 96, 128, 96, 'resize'));
      expect(found.sources).toEqual([`invalidMasks:s3://${BUCKET}/demo/invalid/${image.replace(/\.jpg$/, '.png')}`]);
    }
    expect(sent.filter((c) => c === 'ListObjectsV2Command')).toHaveLength(1);
    expect(sent.filter((c) => c === 'GetObjectCommand')).toHaveLength(48);
    expect(sent).toHaveLength(49);
    client.destroy();
  });
});

describe('the data fingerprint on S3', () => {
  it('takes image sizes from the listing: no request per image before the first batch', async () => {
    const client = createS3Client({ env: server.env });
    const heads: string[] = [];
    client.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'HeadObjectCommand') heads.push((args.input as { Key: string }).Key);
        return next(args);
      },
      { step: 'initialize' },
    );
    const summary = await explainImages({
      model: path.join(EXAMPLE, 'models/clean.onnx'),
      images: `s3://${BUCKET}/demo/images`,
      out: `s3://${BUCKET}/runs/heads`,
      batch: 8,
      overlays: false,
      quiet: true,
      storage: new Storage({ s3: { client } }),
    });
    expect(summary.images).toBe(48);
    expect(heads.filter((key) => key.startsWith('demo/images/'))).toEqual([]);
    // The manifest's fingerprint is the one a local run of the same files gets (sizes from stat).
    const manifest = JSON.parse((await object('runs/heads/run-manifest.json')).toString()) as { data: { sha256: string } };
    const localOut = await mkdtemp(path.join(tmpdir(), 'heatgate-s3-heads-'));
    await explainImages({ model: path.join(EXAMPLE, 'models/clean.onnx'), images: path.join(EXAMPLE, 'images'), out: localOut, overlays: false, quiet: true });
    const local = JSON.parse(await readFile(path.join(localOut, 'run-manifest.json'), 'utf8')) as { data: { sha256: string } };
    expect(manifest.data.sha256).toBe(local.data.sha256);
    client.destroy();
  }, 60_000);
});

describe('an interrupted run on S3', () => {
  it('resumes with --resume: the final results hold every image once, as an uninterrupted run does', async () => {
    const args = (out: string) => ({
      model: path.join(EXAMPLE, 'models/clean.onnx'),
      images: `s3://${BUCKET}/demo/images`,
      out,
      batch: 4,
      overlays: false,
      quiet: true,
      storage: new Storage(),
    });
    const full = await explainImages(args(`s3://${BUCKET}/runs/full`));
    expect(full.errors).toEqual([]);
    let batches = 0;
    const crash = new Error('killed after the second batch');
    const interrupted = await explainImages({
      ...args(`s3://${BUCKET}/runs/resumed`),
      analyser: { analyse: async () => void (++batches === 3 && (() => { throw crash; })()) },
    }).catch((e: unknown) => e);
    expect(interrupted).toBe(crash);
    // Two batches made it: two part objects, no results.jsonl yet.
    expect(await keys('runs/resumed/results')).toEqual([
      'runs/resumed/results.parts/00000001.jsonl',
      'runs/resumed/results.parts/00000002.jsonl',
    ]);
    const resumed = await run(['explain', '--model', args('').model, '--images', args('').images, '--out', `s3://${BUCKET}/runs/resumed`, '--batch', '4', '--no-overlays', '--quiet', '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/explained 48 images \(8 resumed, 0 failed\)/);
    const lines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as { image: string });
    const after = lines((await object('runs/resumed/results.jsonl')).toString('utf8'));
    const before = lines((await object('runs/full/results.jsonl')).toString('utf8'));
    expect(after.map((r) => r.image)).toEqual(before.map((r) => r.image)); // all 48, none repeated, in order
    expect(new Set(after.map((r) => r.image)).size).toBe(48);
    expect(after).toEqual(before);
    expect(await keys('runs/resumed/results.parts')).toEqual([]);
  }, 120_000);
});

describe('one image that S3 no longer has', () => {
  it('is that image\'s error record and the run goes on', async () => {
    for (const name of ['frame_0000.png', 'frame_0001.png', 'frame_0002.png']) await upload(`few/${name}`, path.join(EXAMPLE, 'images', name));
    let batches = 0;
    const summary = await explainImages({
      model: path.join(EXAMPLE, 'models/clean.onnx'),
      images: `s3://${BUCKET}/few`,
      out: `s3://${BUCKET}/runs/few`,
      batch: 1,
      overlays: false,
      quiet: true,
      storage: new Storage(),
      // Batch 0 is analysed while batch 1 is fetched; batch 2 is fetched after this, and its object is gone by then.
      analyser: {
        analyse: async () => {
          if (batches++ === 0) await server.client().send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'few/frame_0002.png' }));
        },
      },
    });
    expect(summary.errors).toEqual([{ image: 'frame_0002.png', error: `s3://${BUCKET}/few/frame_0002.png: cannot read image (not found)` }]);
    const records = (await object('runs/few/results.jsonl')).toString().trim().split('\n').map((l) => JSON.parse(l) as { image: string; error?: string });
    expect(records.map((r) => [r.image, r.error ?? null])).toEqual([
      ['frame_0000.png', null],
      ['frame_0001.png', null],
      ['frame_0002.png', `s3://${BUCKET}/few/frame_0002.png: cannot read image (not found)`],
    ]);
  }, 60_000);
});

describe('storage failures', () => {
  const explain = (images: string, out: string, model = `s3://${BUCKET}/demo/models/clean.onnx`) => [
    'explain', '--model', model, '--images', images, '--out', out, '--quiet', '--no-overlays',
  ];

  it('2: an s3:// input that does not exist, naming the flag and the location', async () => {
    const images = await run(explain(`s3://${BUCKET}/demo/imagez`, `s3://${BUCKET}/runs/x`));
    expect(images.code).toBe(EXIT_CODES.usage);
    expect(images.stderr).toBe(`heatgate: error: --images s3://${BUCKET}/demo/imagez: no such folder\n`);
    const model = await run(explain(`s3://${BUCKET}/demo/images`, `s3://${BUCKET}/runs/x`, 's3://no-such-bucket/model.onnx'));
    expect(model.code).toBe(EXIT_CODES.usage);
    expect(model.stderr).toBe('heatgate: error: --model s3://no-such-bucket/model.onnx: no such file\n');
    expect(await keys('runs/x')).toEqual([]); // nothing written
  });

  it('3: an s3:// input that exists but cannot be used: an empty labels object, a mask prefix with no mask for any image', async () => {
    await server.client().send(new PutObjectCommand({ Bucket: BUCKET, Key: 'bad/empty.csv', Body: '' }));
    const base = ['run', '--model', `s3://${BUCKET}/demo/models/clean.onnx`, '--images', `s3://${BUCKET}/demo/images`, '--out', `s3://${BUCKET}/runs/bad`, '--quiet'];
    const empty = await run([...base, '--labels', `s3://${BUCKET}/bad/empty.csv`]);
    expect(empty.code).toBe(EXIT_CODES.inputData);
    expect(empty.stderr).toBe(`heatgate: error: --labels s3://${BUCKET}/bad/empty.csv: empty file\n`);
    const masks = await run([...base, '--invalid-masks', `s3://${BUCKET}/demo/models`]);
    expect(masks.code).toBe(EXIT_CODES.inputData);
    expect(masks.stderr).toBe(
      `heatgate: error: --invalid-masks s3://${BUCKET}/demo/models: no mask for any of the 48 images ` +
        `(expected e.g. s3://${BUCKET}/demo/models/frame_0000.png, any image extension)\n`,
    );
    expect(await keys('runs/bad')).toEqual([]);
  });

  it('3: a bucket that refuses (403), one line naming the flag, and the secret key nowhere', async () => {
    const refused = await run(explain(`s3://${BUCKET}/demo/images`, `s3://${BUCKET}/runs/y`), {
      AWS_ACCESS_KEY_ID: 'AKIAFAKEACCESSKEY0001',
      AWS_SECRET_ACCESS_KEY: FAKE_SECRET,
    });
    expect(refused.code).toBe(EXIT_CODES.inputData);
    expect(refused.stderr).toMatch(new RegExp(`^heatgate: error: --model s3://${BUCKET}/demo/models/clean\\.onnx: cannot read \\(access denied \\(\\w+, HTTP 403\\)\\)\\n$`));
    expect(refused.stderr + refused.stdout).not.toContain(FAKE_SECRET);
    expect(refused.stderr + refused.stdout).not.toContain('AKIAFAKEACCESSKEY0001');
  });

  it('4: S3 that does not answer, after the SDK retries', async () => {
    const down = await run(explain(`s3://${BUCKET}/demo/images`, `s3://${BUCKET}/runs/z`), {
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', // discard port: connection refused
      AWS_MAX_ATTEMPTS: '2',
      AWS_SECRET_ACCESS_KEY: FAKE_SECRET,
    });
    expect(down.code).toBe(EXIT_CODES.infrastructure);
    expect(down.stderr).toMatch(new RegExp(`^heatgate: error: --model s3://${BUCKET}/demo/models/clean\\.onnx: cannot read \\(.*storage unavailable after retries.*\\)\\n$`));
    expect(down.stderr).not.toContain(FAKE_SECRET);
  });

  it('the CLI process prints one line: no AWS SDK Node-version notice on stderr', { timeout: 60_000 }, () => {
    // A fresh process: the SDK warns once per process, when the first S3 client is built.
    const env = { ...process.env, ...server.env };
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    const script = "const { main } = await import('./src/cli/main.ts'); process.exitCode = await main(process.argv.slice(1));";
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, ...explain(`s3://${BUCKET}/demo/nothing-here`, `s3://${BUCKET}/runs/w`)],
      { env, encoding: 'utf8' },
    );
    expect(child.status).toBe(EXIT_CODES.usage);
    expect(child.stderr).toBe(`heatgate: error: --images s3://${BUCKET}/demo/nothing-here: no such folder\n`);
  });

  it('2: an unsupported scheme names its flag before anything is read', async () => {
    const r = await run(explain(`s3://${BUCKET}/demo/images`, 'gs://bucket/out'));
    expect(r.code).toBe(EXIT_CODES.usage);
    expect(r.stderr).toBe('heatgate: error: --out: unsupported scheme "gs://"; expected a local path, file:// or s3:// (got "gs://bucket/out")\n');
  });
});

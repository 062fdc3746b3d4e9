import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { METRIC_NAMES } from '../analysis/metrics/registry.ts';
import { ConfigError, InputError } from '../errors.ts';
import { evaluateResults, resolvePolicy } from '../gate/gate.ts';
import { parsePolicy, type Policy } from '../gate/policy.ts';
import { parseRecord } from '../gate/records.ts';
import type { InputNotice } from '../notices.ts';
import type { GateResult } from '../report/gate-results.ts';
import { writeGateOutputs, type GateOutputs } from '../report/outputs.ts';
import { renderSummaryMarkdown } from '../report/summary-md.ts';
import { writeFileAtomic } from '../storage/atomic.ts';
import { NotFoundError } from '../storage/errors.ts';
import { fetchAhead } from '../storage/fetch-ahead.ts';
import { formatLocation, joinLocation, parseLocation, relativeLocation, type Location } from '../storage/location.ts';
import { COMMIT_MARKER, RESULTS_FILE, type OutputTarget } from '../storage/output.ts';
import { Storage } from '../storage/storage.ts';
import { manifestDifferences, MANIFEST_FILE, MANIFEST_VERSION, type RunManifest } from './run-manifest.ts';

export interface MergeOptions {
  /** The prefix (local folder or s3://) holding shard-0 .. shard-<n-1>, each the --out of `run --shard i/n`. */
  shardsFrom: string;
  /** Where the merged outputs go (local folder or s3://). */
  out: string;
  /** The gate policy; default: the built-in default policy. Must be the policy the shards ran with. */
  policy?: string;
  storage?: Storage;
  /** Overlays and heatmaps copied at once into --out. */
  concurrency?: number;
}

export interface MergeResult {
  gate: GateResult;
  /** n, the number of shards merged. */
  shards: number;
  /** Records in the merged results.jsonl. */
  images: number;
  /** Overlay and heatmap files copied from the shards into --out. */
  copied: number;
  /** The outputs by role, as locations in --out (formatLocation). */
  outputs: GateOutputs;
}

const SHARD_FOLDER = /^shard-(\d+)$/;
const BASELINE = 'baseline';

interface ShardFolder {
  /** `shard-<i>` as listed. */
  name: string;
  location: Location;
  files: Set<string>;
}

interface Shard extends ShardFolder {
  index: number;
  count: number;
  manifest: RunManifest;
}

/**
 * `heatgate merge`: the fan-in of `run --shard i/n`. Checks that shard-0 .. shard-<n-1> under `shardsFrom` are each
 * there once, finished, and of one run (else exit 3, nothing written to --out); combines their results.jsonl into the
 * one an unsharded run writes (the sorted image order), copies their overlays and heatmaps, and gates all images once
 * with the policy. Shards are read and --out is written through Storage, so both may be s3://; the gate itself reads
 * local files, so the merged results and the gate's outputs are staged in a local temp folder first.
 */
export async function mergeShards(options: MergeOptions): Promise<MergeResult> {
  const prefix = parseLocation(options.shardsFrom, '--shards-from');
  const outLoc = parseLocation(options.out, '--out');
  const storage = options.storage ?? new Storage();
  // The policy first: a bad one is exit 2 before any shard is read.
  const policy = await readPolicy(storage, options.policy);

  const shards = await checkShards(storage, prefix, await listShardFolders(storage, prefix));
  const first = shards[0];
  const inside = shards.find((s) => relativeLocation(s.location, outLoc) !== undefined);
  if (inside) throw new ConfigError(`is inside ${inside.name}: the merged outputs would overwrite that shard's; use e.g. <prefix>/merged`, `--out ${options.out}`);
  if (first.manifest.policy && first.manifest.policy.sha256 !== policy.source.sha256) {
    throw new ConfigError(
      `is not the policy the shards ran with (theirs: ${first.manifest.policy.file}, sha256 ${first.manifest.policy.sha256.slice(0, 12)}…; ` +
        `this one: sha256 ${policy.source.sha256.slice(0, 12)}…); the analysis depends on it, so merge with the same policy`,
      options.policy ? `--policy ${options.policy}` : '--policy (default policy)',
    );
  }
  const main = await mergeResults(storage, shards, '');
  const baseline = first.manifest.baselineModel ? await mergeResults(storage, shards, `${BASELINE}/`) : undefined;
  const notices = await mergeNotices(storage, shards);

  const stage = await mkdtemp(path.join(tmpdir(), 'heatgate-merge-'));
  try {
    await writeFileAtomic(path.join(stage, RESULTS_FILE), joinLines(main.lines));
    if (baseline) await writeFileAtomic(path.join(stage, BASELINE, RESULTS_FILE), joinLines(baseline.lines));
    const [height, width] = first.manifest.preprocessing.inputSize;
    const evaluated = await evaluateResults({
      results: path.join(stage, RESULTS_FILE),
      policy,
      ...(baseline && { baselineResults: path.join(stage, BASELINE, RESULTS_FILE) }),
      metrics: METRIC_NAMES,
      // The fingerprints one unsharded run would record.
      fingerprints: {
        model: first.manifest.model.sha256,
        data: dataFingerprint(main.records),
        ...(first.manifest.baselineModel && { baseline: first.manifest.baselineModel.sha256 }),
      },
      notices,
      inputShorterSide: Math.min(height, width),
    });
    // The report embeds the galleries' overlays: those few are staged (each once), the rest go straight to --out.
    const stagedOverlays = new Set<string>();
    for (const ref of evaluated.verdict.galleries.flatMap((g) => g.images)) {
      const from = ref.overlay && !stagedOverlays.has(ref.overlay) ? main.files.get(ref.overlay) : undefined;
      if (!from) continue;
      stagedOverlays.add(ref.overlay!);
      await writeFileAtomic(path.join(stage, ref.overlay!), await storage.read(from));
    }
    const staged = await writeGateOutputs(stage, evaluated.verdict, evaluated.summary);

    const manifest = mergedManifest(first.manifest, main.records.length, await imagesFingerprint(storage, first.manifest, main.records));
    const baselineManifest =
      baseline && first.files.has(`${BASELINE}/${MANIFEST_FILE}`)
        ? await readJson<RunManifest>(storage, joinLocation(first.location, `${BASELINE}/${MANIFEST_FILE}`))
        : undefined;
    const target = await storage.openOutput(outLoc, { resume: false });
    let copied = 0;
    try {
      for (let i = 0; i < main.lines.length; i += 5000) await target.appendResults(main.lines.slice(i, i + 5000));
      copied = await copyFiles(storage, target, main.files, options.concurrency ?? 8);
      await target.writeFile(MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`);
      if (baseline) {
        await target.writeFile(`${BASELINE}/${RESULTS_FILE}`, joinLines(baseline.lines));
        if (baselineManifest) {
          await target.writeFile(`${BASELINE}/${MANIFEST_FILE}`, `${JSON.stringify(mergedManifest(baselineManifest, baseline.records.length, manifest.data.sha256), null, 2)}\n`);
        }
      }
      await target.finalize();
      const outputs = locations(outLoc, staged);
      // The same files as the staged ones; summary.md names the report where it ends up.
      for (const [role, file] of Object.entries(staged) as [keyof GateOutputs, string][]) {
        if (role === 'verdict') continue;
        const content = role === 'summary' ? renderSummaryMarkdown(evaluated.verdict, outputs.report) : await readLocal(storage, file);
        await target.writeFile(path.basename(file), content);
      }
      // verdict.json last: a reader that sees it finds every other output in place.
      await target.writeFile(COMMIT_MARKER, await readLocal(storage, staged.verdict));
      return { gate: { ...evaluated, outputs }, shards: shards.length, images: main.records.length, copied, outputs };
    } finally {
      await target.close();
    }
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** The policy from a local path or s3:// (read through Storage), or the default policy. */
async function readPolicy(storage: Storage, policy: string | undefined): Promise<Policy> {
  if (policy === undefined) return resolvePolicy(undefined, { metrics: METRIC_NAMES });
  const loc = parseLocation(policy, '--policy');
  if (loc.scheme === 'file') return resolvePolicy(loc.path, { metrics: METRIC_NAMES });
  let bytes: Buffer;
  try {
    bytes = await storage.read(loc);
  } catch (error) {
    if (error instanceof NotFoundError) throw new ConfigError('policy file not found', `--policy ${policy}`);
    throw error;
  }
  return parsePolicy(bytes.toString('utf8'), policy, { metrics: METRIC_NAMES });
}

/** Every `shard-<i>` folder under the prefix and the files each holds (one recursive listing). */
async function listShardFolders(storage: Storage, prefix: Location): Promise<ShardFolder[]> {
  const folders = new Map<string, ShardFolder>();
  for await (const rel of storage.list(prefix)) {
    const slash = rel.indexOf('/');
    if (slash < 0) continue;
    const name = rel.slice(0, slash);
    if (!SHARD_FOLDER.test(name)) continue;
    let folder = folders.get(name);
    if (!folder) folders.set(name, (folder = { name, location: joinLocation(prefix, name), files: new Set() }));
    folder.files.add(rel.slice(slash + 1));
  }
  return [...folders.values()];
}

/**
 * The shards in index order, after every check that makes them one complete run: each shard-<i> has a manifest of
 * shard i/n, all say the same n, 0..n-1 are each there once, all describe the same run, and all finished.
 * @throws InputError (exit 3) naming the shard(s) and the problem
 */
async function checkShards(storage: Storage, prefix: Location, folders: ShardFolder[]): Promise<Shard[]> {
  const where = formatLocation(prefix);
  const fail = (problem: string) => new InputError(problem, `--shards-from ${where}`);
  if (folders.length === 0) throw fail('no shard-<i> folders here (expected the --out folders of `heatgate run --shard i/n --out <prefix>/shard-<i>`)');
  const shards: Shard[] = [];
  for (const folder of folders) {
    const file = joinLocation(folder.location, MANIFEST_FILE);
    if (!folder.files.has(MANIFEST_FILE)) throw new InputError(`no ${MANIFEST_FILE}: this shard never started, or it is not a heatgate run`, formatLocation(folder.location));
    const manifest = await readJson<RunManifest>(storage, file);
    if (manifest?.manifestVersion !== MANIFEST_VERSION) throw new InputError(`not a heatgate run manifest (manifestVersion ${JSON.stringify(manifest?.manifestVersion)})`, formatLocation(file));
    const m = /^(\d+)\/(\d+)$/.exec(manifest.data?.shard ?? '');
    if (!m) throw new InputError(`${folder.name} is not a shard: its ${MANIFEST_FILE} says shard ${JSON.stringify(manifest.data?.shard ?? null)} (it ran without --shard i/n)`, formatLocation(file));
    shards.push({ ...folder, index: Number(m[1]), count: Number(m[2]), manifest });
  }
  shards.sort((a, b) => a.index - b.index || (a.name < b.name ? -1 : 1));
  const counts = new Map<number, string[]>();
  for (const s of shards) counts.set(s.count, [...(counts.get(s.count) ?? []), s.name]);
  if (counts.size > 1) {
    const said = [...counts].map(([n, names]) => `${names.join(', ')} ${names.length > 1 ? 'say' : 'says'} n = ${n}`).join('; ');
    throw fail(`the shards disagree on n: ${said} (left over from an earlier run with another shard count?)`);
  }
  const n = shards[0].count;
  const byIndex = new Map<number, Shard[]>();
  for (const s of shards) byIndex.set(s.index, [...(byIndex.get(s.index) ?? []), s]);
  for (const [index, holders] of byIndex) {
    if (holders.length > 1) throw fail(`duplicate shard ${index}/${n}: ${holders.map((h) => h.name).join(' and ')} both hold it`);
  }
  for (const s of shards) {
    if (s.name !== `shard-${s.index}`) {
      throw fail(`${s.name} holds shard ${s.index}/${n} by its ${MANIFEST_FILE}; the folder of shard i/n must be named shard-i`);
    }
  }
  const missing = [...Array(n).keys()].filter((i) => !byIndex.has(i));
  if (missing.length > 0) throw fail(`missing shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${n}`).join(', ')} (no shard-${missing[0]} folder)`);
  const first = shards[0];
  if (first.manifest.command !== 'run') {
    throw fail(`${first.name} was made by \`heatgate ${first.manifest.command}\`; merge gates the shards of \`heatgate run --shard i/n\``);
  }
  for (const s of shards.slice(1)) {
    const differences = manifestDifferences(runOf(first.manifest), runOf(s.manifest));
    if (differences.length > 0) {
      const list = differences.map((d) => `${d.field}: ${d.old} vs ${d.new}`).join('; ');
      throw fail(`${s.name} is not of the same run as ${first.name} (${list})`);
    }
    if (s.manifest.data.folder !== first.manifest.data.folder) {
      throw fail(`${s.name} read its images from ${s.manifest.data.folder}, ${first.name} from ${first.manifest.data.folder}: not the same run`);
    }
  }
  for (const s of shards) {
    if (!s.files.has(COMMIT_MARKER)) throw fail(`shard ${s.index}/${n} did not finish (${s.name} has no ${COMMIT_MARKER}); rerun it with --resume`);
    if (!s.files.has(RESULTS_FILE)) throw fail(`shard ${s.index}/${n} has no ${RESULTS_FILE} in ${s.name}`);
    if (s.manifest.baselineModel && !s.files.has(`${BASELINE}/${RESULTS_FILE}`)) {
      throw fail(`shard ${s.index}/${n} ran with a baseline model but ${s.name} has no ${BASELINE}/${RESULTS_FILE}`);
    }
  }
  return shards;
}

/** The manifest without what differs between the shards of one run (their image lists) and the time. */
function runOf(manifest: RunManifest): RunManifest {
  return { ...manifest, createdAt: '', data: { folder: '', files: 0, sha256: '', shard: null } };
}

interface RecordKey {
  image: string;
  imageSha256?: string;
}

interface MergedResults {
  /** The results lines in the order of one unsharded run. */
  lines: string[];
  /** Per line, what the merge needs of its record (not the whole record: memory is the merge's limit). */
  records: RecordKey[];
  /** Overlay / heatmap path relative to --out → where it is in its shard. */
  files: Map<string, Location>;
}

/**
 * One results.jsonl from the shards' (`sub` = '' or 'baseline/'): shard i holds images i, i+n, ... of the sorted list,
 * so sorting each shard's records by image and interleaving them gives the sorted list, which is then checked.
 */
async function mergeResults(storage: Storage, shards: Shard[], sub: string): Promise<MergedResults> {
  const n = shards.length;
  const perShard: { line: string; record: RecordKey & { files: string[] } }[][] = [];
  for (const s of shards) {
    const loc = joinLocation(s.location, `${sub}${RESULTS_FILE}`);
    const where = formatLocation(loc);
    const rows = (await storage.read(loc))
      .toString('utf8')
      .split('\n')
      .map((line, i) => ({ line, number: i + 1 }))
      .filter(({ line }) => line.trim() !== '')
      .map(({ line, number }) => {
        const r = parseRecord(line, where, number);
        const files = [r.overlay, r.heatmap].filter((f): f is string => typeof f === 'string');
        return { line, record: { image: r.image, ...(typeof r.imageSha256 === 'string' && { imageSha256: r.imageSha256 }), files } };
      });
    if (rows.length !== s.manifest.data.files) {
      throw new InputError(`holds ${rows.length} records but shard ${s.index}/${n} has ${s.manifest.data.files} images (an interrupted or altered run; rerun the shard)`, where);
    }
    rows.sort((a, b) => byCodeUnit(a.record.image, b.record.image));
    perShard.push(rows);
  }
  const total = perShard.reduce((sum, rows) => sum + rows.length, 0);
  perShard.forEach((rows, i) => {
    const expected = Math.ceil((total - i) / n);
    if (rows.length !== expected) {
      throw new InputError(`shard ${i}/${n} has ${rows.length} images where ${expected} of ${total} belong to it: the shards did not split one image list`, formatLocation(shards[i].location));
    }
  });
  const lines: string[] = [];
  const records: RecordKey[] = [];
  const files = new Map<string, Location>();
  for (let k = 0; k < total; k++) {
    const shard = shards[k % n];
    const { line, record } = perShard[k % n][Math.floor(k / n)];
    const previous = records.at(-1)?.image;
    if (previous !== undefined && byCodeUnit(previous, record.image) >= 0) {
      throw new InputError(`image ${record.image} comes after ${previous}: the shards did not split one sorted image list`, formatLocation(shard.location));
    }
    lines.push(line);
    records.push({ image: record.image, ...(record.imageSha256 && { imageSha256: record.imageSha256 }) });
    for (const rel of record.files) {
      const source = `${formatLocation(shard.location)}/${sub}${RESULTS_FILE}`;
      if (rel.startsWith('/') || rel.split('/').includes('..')) throw new InputError(`${record.image}: file path ${JSON.stringify(rel)} leaves the shard folder`, source);
      files.set(rel, joinLocation(shard.location, `${sub}${rel}`, source));
    }
  }
  return { lines, records, files };
}

/** The shards' input notices (every shard sees the whole input, so they mostly repeat), each once, in first-seen order. */
async function mergeNotices(storage: Storage, shards: Shard[]): Promise<InputNotice[]> {
  const seen = new Map<string, InputNotice>();
  for (const s of shards) {
    const verdict = await readJson<{ notices?: InputNotice[] }>(storage, joinLocation(s.location, COMMIT_MARKER));
    for (const notice of verdict.notices ?? []) {
      const key = JSON.stringify(notice);
      if (!seen.has(key)) seen.set(key, notice);
    }
  }
  return [...seen.values()];
}

/** The data fingerprint explainImages computes: sha256 over the sorted `image \t imageSha256` lines. */
function dataFingerprint(records: readonly RecordKey[]): string {
  const hashes = new Map<string, string>();
  for (const r of records) if (r.imageSha256 !== undefined) hashes.set(r.image, r.imageSha256);
  return createHash('sha256')
    .update([...hashes.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}\t${v}\n`).join(''))
    .digest('hex');
}

/**
 * The whole image list's fingerprint as an unsharded run records it (listFingerprint: `name \t size` lines in the
 * sorted order, -1 for an image no longer there); the sizes are read from the images root through Storage.
 */
async function imagesFingerprint(storage: Storage, manifest: RunManifest, records: readonly RecordKey[]): Promise<string> {
  const root = parseLocation(manifest.data.folder, `data.folder of ${MANIFEST_FILE}`);
  const hash = createHash('sha256');
  const sizes = fetchAhead(
    records,
    async (r) => {
      const s = await storage.stat(joinLocation(root, r.image)); // undefined when gone; storage errors stay errors
      return `${r.image}\t${s?.kind === 'file' ? s.size : -1}\n`;
    },
    { concurrency: 16 },
  );
  for await (const line of sizes) hash.update(line);
  return hash.digest('hex');
}

function mergedManifest(shard: RunManifest, files: number, dataSha256: string): RunManifest {
  return { ...shard, createdAt: new Date().toISOString(), data: { folder: shard.data.folder, files, sha256: dataSha256, shard: null } };
}

/** Copies each overlay / heatmap from its shard to the same relative path in --out; returns how many. */
async function copyFiles(storage: Storage, target: OutputTarget, files: Map<string, Location>, concurrency: number): Promise<number> {
  let copied = 0;
  const reads = fetchAhead(files, async ([rel, from]) => ({ rel, bytes: await storage.read(from) }), { concurrency });
  for await (const { rel, bytes } of reads) {
    await target.writeFile(rel, bytes, { durable: false });
    copied++;
  }
  return copied;
}

async function readJson<T>(storage: Storage, loc: Location): Promise<T> {
  const bytes = await storage.read(loc);
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (error) {
    throw new InputError(`not valid JSON (${(error as Error).message})`, formatLocation(loc));
  }
}

function readLocal(storage: Storage, file: string): Promise<Buffer> {
  return storage.read({ scheme: 'file', path: file });
}

function locations(out: Location, staged: GateOutputs): GateOutputs {
  const result = {} as GateOutputs;
  for (const [role, file] of Object.entries(staged) as [keyof GateOutputs, string][]) result[role] = formatLocation(joinLocation(out, path.basename(file)));
  return result;
}

const joinLines = (lines: readonly string[]) => lines.map((l) => `${l}\n`).join('');

/** listImages' order (UTF-16 code units). */
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

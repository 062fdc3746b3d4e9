import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.ts';
import { tool } from '../gate/verdict.ts';
import { NotFoundError, restateStorageError } from '../storage/errors.ts';
import { fetchAhead } from '../storage/fetch-ahead.ts';
import { formatLocation, joinLocation, parseLocation, type Location } from '../storage/location.ts';
import { defaultStorage, type Storage } from '../storage/storage.ts';

/** The file in --out that says which run the folder holds; schemas/run-manifest.schema.json describes it. */
export const MANIFEST_FILE = 'run-manifest.json';
export const MANIFEST_VERSION = 1;

export interface FileFingerprint {
  file: string;
  sha256: string;
}

/** A folder by its file list: sha256 over the sorted `relative path \t size` lines (contents are not read). */
export interface FolderFingerprint {
  folder: string;
  files: number;
  sha256: string;
}

/**
 * What a run was made of. `--resume` continues a run only when everything here but `createdAt` and the paths
 * (`file`, `folder`) is the same: a moved but identical model or image folder is the same run.
 */
export interface RunManifest {
  manifestVersion: typeof MANIFEST_VERSION;
  heatgate: { version: string };
  command: string;
  createdAt: string;
  model: FileFingerprint;
  baselineModel: FileFingerprint | null;
  data: FolderFingerprint & { shard: string | null };
  method: string;
  layers: string[];
  /** "predicted", "labels" or "class N". */
  target: string;
  preprocessing: {
    resize: string;
    normalize: string;
    scale: number;
    mean: number[];
    std: number[];
    inputSize: [number, number];
    /** Absent in manifests of heatgate before issue 9 (then rgb, fixed size). */
    channelOrder?: 'rgb' | 'bgr';
    ownSize?: boolean;
    output?: string;
    /** Transformer token layers read with --tokens-grid / --skip-tokens (absent when inferred from the graph). */
    tokens?: { grid: [number, number] | null; skip: number | null };
    channels: number;
    layout: string;
  };
  inputs: {
    labels: FileFingerprint | null;
    classes: FileFingerprint | null;
    coco: FileFingerprint | null;
    invalidMasks: FolderFingerprint | null;
    roiMasks: FolderFingerprint | null;
  };
  policy: FileFingerprint | null;
}

/** What `run` adds to an `explain` run's manifest (explainImages knows the rest). */
export interface RunContext {
  command: string;
  policy?: FileFingerprint;
  baselineModel?: string;
  invalidMasks?: string;
  roiMasks?: string;
  coco?: string;
}

export function heatgateVersion(): string {
  return tool().version;
}

/** sha256 of a file at any location (streamed). */
export async function sha256File(file: string, storage: Storage = defaultStorage()): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of await storage.readStream(parseLocation(file))) hash.update(chunk as Buffer);
  } catch (error) {
    throw restateStorageError(error, (problem) => `cannot read file (${problem})`, file);
  }
  return hash.digest('hex');
}

export async function fileFingerprint(file: string | undefined, storage?: Storage): Promise<FileFingerprint | null> {
  return file === undefined ? null : { file, sha256: await sha256File(file, storage) };
}

/** Sizes fetched at once: one HEAD each on S3, so a long list does not wait on one round trip per image. */
const STAT_CONCURRENCY = 16;

/** The sorted list of `names` under `root` with their sizes (`known` ones as given, the others one stat each; no reads). */
export async function listFingerprint(
  root: string,
  names: readonly string[],
  storage: Storage = defaultStorage(),
  known?: ReadonlyMap<string, number>,
): Promise<FolderFingerprint> {
  const hash = createHash('sha256');
  const base = parseLocation(root);
  const sizes = fetchAhead(
    names,
    async (name) =>
      known?.get(name) ??
      storage.stat(joinLocation(base, name)).then(
        (s) => s?.size ?? -1,
        () => -1, // vanished or unreadable since listing: the per-image read reports it
      ),
    { concurrency: STAT_CONCURRENCY },
  );
  let i = 0;
  for await (const size of sizes) hash.update(`${names[i++]}\t${size}\n`);
  return { folder: root, files: names.length, sha256: hash.digest('hex') };
}

export async function folderFingerprint(folder: string | undefined, storage: Storage = defaultStorage()): Promise<FolderFingerprint | null> {
  if (folder === undefined) return null;
  const names: string[] = [];
  const sizes = new Map<string, number>();
  try {
    for await (const name of storage.list(parseLocation(folder), { includeHidden: true, onSize: (rel, size) => sizes.set(rel, size) })) names.push(name);
  } catch (error) {
    throw restateStorageError(error, (problem) => `cannot list folder (${problem})`, folder);
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return listFingerprint(folder, names, storage, sizes);
}

export async function readManifest(out: Location, storage: Storage = defaultStorage()): Promise<RunManifest | undefined> {
  const loc = joinLocation(out, MANIFEST_FILE);
  const file = formatLocation(loc);
  let text: string;
  try {
    text = (await storage.read(loc)).toString('utf8');
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw restateStorageError(error, (problem) => `cannot read the run manifest (${problem})`, file, ConfigError);
  }
  try {
    const manifest = JSON.parse(text) as RunManifest;
    if (manifest?.manifestVersion !== MANIFEST_VERSION) throw new Error(`manifestVersion ${JSON.stringify(manifest?.manifestVersion)}`);
    return manifest;
  } catch (error) {
    throw new ConfigError(`not a heatgate run manifest (${(error as Error).message}); start the run over without --resume`, file);
  }
}

export async function writeManifest(out: Location, manifest: RunManifest, storage: Storage = defaultStorage()): Promise<void> {
  await storage.write(joinLocation(out, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Keys that locate an input rather than identify it; not compared on --resume. */
const NOT_COMPARED = new Set(['createdAt', 'file', 'folder']);

export interface ManifestDifference {
  field: string;
  old: string;
  new: string;
}

/** Fields (dotted paths) whose values differ between the run in --out and the one asked for. */
export function manifestDifferences(old: RunManifest, current: RunManifest): ManifestDifference[] {
  const out: ManifestDifference[] = [];
  diff(old, current, '', out);
  return out;
}

/**
 * Throws the exit-2 error for `--resume` into a run made with other settings; each differing field is named with its
 * old and new value.
 */
export function assertSameRun(old: RunManifest, current: RunManifest, outDir: string): void {
  const differences = manifestDifferences(old, current);
  if (differences.length === 0) return;
  const list = differences.map((d) => `${d.field}: ${d.old} -> ${d.new}`).join('; ');
  throw new ConfigError(
    `--resume: this folder holds a run with other settings (${list}); resume with the original settings, or start over without --resume`,
    outDir,
  );
}

function diff(a: unknown, b: unknown, field: string, out: ManifestDifference[]): void {
  if (isObject(a) && isObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (!NOT_COMPARED.has(key)) diff(a[key], b[key], field ? `${field}.${key}` : key, out);
    }
    return;
  }
  const [before, after] = [show(a), show(b)];
  if (before !== after) out.push({ field, old: before, new: after });
}

/** A value as JSON without the uncompared keys; sha256 values short (enough to see that they differ). */
function show(value: unknown): string {
  if (value === undefined) return 'absent';
  return JSON.stringify(value, (key, v: unknown) => {
    if (NOT_COMPARED.has(key)) return undefined;
    return typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? `${v.slice(0, 12)}…` : v;
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

import type { Argv } from 'yargs';
import { ConfigError } from '../../errors.ts';
import { DEFAULT_MAX_PIXELS } from '../../imaging/decode.ts';
import { NORMALIZATION_PRESETS, type NormalizationPreset } from '../../imaging/normalize.ts';
import { parseInputSize } from '../../onnx/inspect.ts';
import { PROVIDER_CHOICES } from '../../onnx/providers.ts';
import type { ExplainRunOptions, TargetSpec } from '../../pipeline/explain.ts';
import { DEFAULT_GALLERY_SIZE, OVERLAY_MODES, type OverlayMode } from '../../pipeline/image-outputs.ts';
import { parseLocation } from '../../storage/location.ts';
import { Storage } from '../../storage/storage.ts';

const LOCATION = 'a local path, file:///path or s3://bucket/key';

/** The flag every command that reads or writes storage takes (also HEATGATE_S3_FORCE_PATH_STYLE=1). */
export function s3Flags(y: Argv) {
  return y.option('s3-force-path-style', {
    type: 'boolean',
    describe: 'address S3 buckets in the path (http://host/bucket/key), as MinIO and Ceph need; default: HEATGATE_S3_FORCE_PATH_STYLE, else on for IP and localhost endpoints',
  });
}

/**
 * The run's one Storage, after every location flag given has parsed (an unsupported scheme or a bad s3:// location
 * is exit 2 naming the flag, before anything is read).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function storageFrom(args: Record<string, any>, flags: readonly string[]): Storage {
  for (const flag of flags) {
    const value = args[flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())];
    if (value !== undefined) parseLocation(String(value), `--${flag}`);
  }
  const forcePathStyle = args.s3ForcePathStyle as boolean | undefined;
  return new Storage({ s3: forcePathStyle === undefined ? {} : { forcePathStyle } });
}
import { parseTokensGrid, type TokenOptions } from '../../onnx/tokens.ts';

/** Flags shared by `explain` and `run`: model, images, explanation and preprocessing. */
export function explainFlags(y: Argv) {
  return s3Flags(y)
    .option('model', { type: 'string', demandOption: true, describe: `ONNX image classifier (${LOCATION})` })
    .option('images', { type: 'string', demandOption: true, describe: 'folder or s3:// prefix of images (searched recursively)' })
    .option('out', { type: 'string', demandOption: true, describe: 'output folder or s3:// prefix' })
    .option('layer', { type: 'string', array: true, describe: 'target tensor(s); default: the automatic choice (see `heatgate layers`); several are averaged' })
    .option('tokens-grid', { type: 'string', describe: 'transformer token layers: the patch grid HxW (default: from the patch embedding)' })
    .option('skip-tokens', { type: 'number', describe: 'transformer token layers: leading tokens that are not patches (class token: 1; default: tokens - H*W)' })
    .option('method', { type: 'string', default: 'gradcam', describe: 'CAM method' })
    .option('target', { type: 'string', default: 'predicted', describe: '"predicted", a class index, or "labels" (the class from --labels)' })
    .option('labels', { type: 'string', describe: 'CSV of image,label (class index or name)' })
    .option('classes', { type: 'string', describe: 'class names, one per line (default: the model metadata heatgate.classes)' })
    .option('batch', { type: 'number', default: 8, describe: 'inputs per ONNX Runtime run (images, and their occluded copies when a rule reads an occlusion metric)' })
    .option('save-raw', { type: 'boolean', default: false, describe: 'write heatmaps/<image>.npy (raw map at layer resolution)' })
    .option('overlays', {
      type: 'string',
      default: 'worst',
      describe:
        'overlays/<image>.png: worst (the report gallery\'s images; explain: a sample), all (every image, encoded beside the inference) or none (--no-overlays)',
    })
    .option('gallery-size', { type: 'number', default: DEFAULT_GALLERY_SIZE, describe: 'images in the report gallery (and in explain\'s sample with --overlays worst)' })
    .option('resize', { choices: ['resize', 'center-crop', 'letterbox'] as const, default: 'resize' as const, describe: 'how images meet the model input size' })
    .option('normalize', { choices: NORMALIZATION_CHOICES, describe: 'pixel normalisation: imagenet (torchvision), unit [0,1], tf [-1,1], caffe (BGR, 0..255 minus the mean pixel), raw 0..255 (default: model metadata heatgate.normalize, else imagenet)' })
    .option('mean', { type: 'string', describe: 'per-channel mean r,g,b on the --normalize pixel scale (0..1; 0..255 with raw); with --std' })
    .option('std', { type: 'string', describe: 'per-channel std r,g,b on the same scale; with --mean' })
    .option('provider', {
      choices: PROVIDER_CHOICES,
      default: 'cpu' as const,
      describe: 'ONNX Runtime execution provider; auto: CUDA when its provider loads, else CPU (says which and why)',
    })
    .option('device-id', { type: 'number', describe: 'CUDA device ordinal (with --provider cuda or auto); default 0' })
    .option('threads', { type: 'number', default: 0, describe: 'intra-op threads (0 = one per core)' })
    .option('resume', { type: 'boolean', default: false, describe: 'continue an interrupted run in the same --out' })
    .option('shard', { type: 'string', describe: 'i/n: take every n-th image of the sorted list, starting at i' })
    .option('max-pixels', { type: 'number', default: DEFAULT_MAX_PIXELS, describe: 'refuse images with more pixels than this (decompression-bomb guard)' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' })
    // Model forms (issue 9)
    .options(modelFormFlags);
}

/** Flags that say how to read a model: shared by explain, run and layers. */
export const modelFormFlags = {
  output: { type: 'string', describe: 'the classifier output to explain (default: the first float output shaped like a class vector)' },
  'input-size': { type: 'string', describe: 'HxW for models whose input height/width are symbolic (default: metadata heatgate.input_size)' },
  channels: { choices: ['rgb', 'bgr'] as const, describe: 'colour channel order the model takes (default: metadata heatgate.channels; bgr with --normalize caffe; else rgb)' },
} as const;

const NORMALIZATION_CHOICES = Object.keys(NORMALIZATION_PRESETS) as NormalizationPreset[];

/** --input-size parsed, or undefined. */
export function inputSizeFrom(value: unknown): { height: number; width: number } | undefined {
  return value === undefined ? undefined : parseInputSize(String(value), '--input-size');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function explainOptionsFrom(args: Record<string, any>, moreLocations: readonly string[] = []): ExplainRunOptions {
  const storage = storageFrom(args, ['model', 'images', 'out', 'labels', 'classes', ...moreLocations]);
  return {
    storage,
    model: args.model,
    images: args.images,
    out: args.out,
    layers: args.layer,
    tokens: tokenOptionsFrom(args),
    method: args.method,
    target: parseTarget(args.target),
    labels: args.labels,
    classes: args.classes,
    batch: args.batch,
    saveRaw: args.saveRaw,
    overlays: overlaysFrom(args.overlays),
    gallerySize: args.gallerySize === undefined ? undefined : nonNegativeInteger('--gallery-size', args.gallerySize),
    resize: args.resize,
    normalize: args.normalize,
    mean: args.mean === undefined ? undefined : triple('--mean', args.mean),
    std: args.std === undefined ? undefined : triple('--std', args.std),
    provider: args.provider,
    deviceId: args.deviceId,
    threads: args.threads,
    resume: args.resume,
    quiet: args.quiet,
    shard: args.shard === undefined ? undefined : parseShard(args.shard),
    maxPixels: args.maxPixels === undefined ? undefined : positiveInteger('--max-pixels', args.maxPixels),
    output: args.output,
    inputSize: inputSizeFrom(args.inputSize),
    channels: args.channels,
  };
}

/** `--tokens-grid HxW` and `--skip-tokens n`; undefined when neither is given. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function tokenOptionsFrom(args: Record<string, any>): TokenOptions | undefined {
  if (args.tokensGrid === undefined && args.skipTokens === undefined) return undefined;
  const skip = args.skipTokens;
  if (skip !== undefined && (typeof skip !== 'number' || !Number.isInteger(skip) || skip < 0)) {
    throw new ConfigError(`--skip-tokens must be a non-negative integer, got ${String(skip)}`);
  }
  return { grid: args.tokensGrid === undefined ? undefined : parseTokensGrid(String(args.tokensGrid)), skip };
}

function parseTarget(value: string): TargetSpec {
  if (value === 'predicted') return { kind: 'predicted' };
  if (value === 'labels') return { kind: 'labels' };
  if (/^\d+$/.test(value)) return { kind: 'class', index: Number(value) };
  throw new ConfigError(`--target must be "predicted", "labels" or a class index, got "${value}"`);
}

function triple(flag: string, value: string): [number, number, number] {
  const parts = String(value).split(',').map(Number);
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p))) throw new ConfigError(`${flag} must be three numbers r,g,b, got "${value}"`);
  return parts as [number, number, number];
}

/** `--overlays <mode>`; `--no-overlays` (yargs' negation: false) is `none`. */
export function overlaysFrom(value: unknown): OverlayMode {
  if (value === false || value === 'false') return 'none';
  if (value === true || value === 'true') return 'all';
  if (typeof value === 'string' && (OVERLAY_MODES as readonly string[]).includes(value)) return value as OverlayMode;
  throw new ConfigError(`--overlays must be one of ${OVERLAY_MODES.join(', ')} (or --no-overlays), got "${String(value)}"`);
}

function nonNegativeInteger(flag: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new ConfigError(`${flag} must be a non-negative integer, got ${String(value)}`);
  return value;
}

function positiveInteger(flag: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new ConfigError(`${flag} must be a positive integer, got ${String(value)}`);
  return value;
}

function parseShard(value: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(value);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new ConfigError(`--shard must be i/n with 0 <= i < n, got "${value}"`);
  return { index, count };
}

import { maskCandidateNames } from '../analysis/mask-files.ts';
import { ConfigError, InputError } from '../errors.ts';
import { restateStorageError } from '../storage/errors.ts';
import { joinUri, parseLocation } from '../storage/location.ts';
import { defaultStorage, type Storage } from '../storage/storage.ts';
import { scanImages, type SkipReason } from '../imaging/list.ts';
import { IMAGE_EXTENSIONS } from '../imaging/formats.ts';
import { notice, type InputNotice } from '../notices.ts';
import { readLabelRows, unmatchedLabelRows, type LabelRows } from './labels.ts';

/**
 * Every location a run is given (a local path, file:// or s3://), checked up front, before the model loads, so no
 * run does work and then fails on a typo. One that does not exist is a ConfigError (exit 2: the command line or
 * policy is wrong); one that exists but is unreadable (S3: access denied), of the wrong kind, empty, or matches none
 * of the images is an InputError (exit 3); storage that cannot be reached is exit 4. Messages name the flag and the
 * location: `--invalid-masks data/invalidd: no such folder`, `--images s3://bucket/imgs: no such folder`.
 *
 * Relative paths: command-line paths are relative to the working directory (they are used as given); paths a
 * policy names are relative to the policy file (createRegionSource's baseDir).
 */

export type PathKind = 'file' | 'folder';

/** The paths of a run, as the user gave them (command line or library options). */
export interface InputPaths {
  policy?: string;
  model?: string;
  baselineModel?: string;
  images?: string;
  invalidMasks?: string;
  roiMasks?: string;
  coco?: string;
  labels?: string;
  classes?: string;
}

/** The one table of named inputs: the flag that names each and what it must be. */
const NAMED_INPUTS: readonly { key: keyof InputPaths; flag: string; kind: PathKind }[] = [
  { key: 'policy', flag: '--policy', kind: 'file' },
  { key: 'model', flag: '--model', kind: 'file' },
  { key: 'baselineModel', flag: '--baseline-model', kind: 'file' },
  { key: 'images', flag: '--images', kind: 'folder' },
  { key: 'invalidMasks', flag: '--invalid-masks', kind: 'folder' },
  { key: 'roiMasks', flag: '--roi-masks', kind: 'folder' },
  { key: 'coco', flag: '--coco', kind: 'file' },
  { key: 'labels', flag: '--labels', kind: 'file' },
  { key: 'classes', flag: '--classes', kind: 'file' },
];

export interface CheckedInputs {
  /** Every image under --images (before --shard), sorted. */
  images: string[];
  /** Image sizes the listing gave (S3), for the data fingerprint. */
  imageSizes?: ReadonlyMap<string, number>;
  /** The labels CSV, read and checked (one row per image). */
  labels?: LabelRows;
  /** Files skipped under --images, label rows that match no image, repeated label rows. */
  notices: InputNotice[];
}

/**
 * Checks one named location: exists (else exit 2), is of its kind, readable and not empty (else exit 3); storage
 * that does not answer is exit 4.
 */
export async function checkPath(flag: string, file: string, kind: PathKind, storage: Storage = defaultStorage()): Promise<void> {
  const where = `${flag} ${file}`;
  const loc = parseLocation(file, flag);
  const unreadable = (error: unknown, what: string) => restateStorageError(error, (problem) => `${what} (${problem})`, where);
  let info;
  try {
    info = await storage.stat(loc);
  } catch (error) {
    throw unreadable(error, 'cannot read');
  }
  if (!info) throw new ConfigError(`no such ${kind}`, where);
  if (kind === 'folder') {
    if (info.kind !== 'folder') throw new InputError('is a file, expected a folder', where);
    try {
      for await (const _ of storage.list(loc, { includeHidden: true })) return;
    } catch (error) {
      throw unreadable(error, 'cannot read folder');
    }
    throw new InputError('empty folder', where);
  }
  if (info.kind === 'folder') throw new InputError('is a folder, expected a file', where);
  if (info.size === 0) throw new InputError('empty file', where);
}

/**
 * Checks every given path (in NAMED_INPUTS order, so the first problem is reported the same way each time), lists
 * the images, checks that each mask folder has a mask for some image and that the labels name some image, and
 * collects notices about what will be left out.
 */
export async function checkInputs(paths: InputPaths, storage: Storage = defaultStorage()): Promise<CheckedInputs> {
  for (const { key, flag, kind } of NAMED_INPUTS) {
    const value = paths[key];
    if (value !== undefined) await checkPath(flag, value, kind, storage);
  }
  const notices: InputNotice[] = [];
  let images: string[] = [];
  let imageSizes: ReadonlyMap<string, number> | undefined;
  if (paths.images !== undefined) {
    const scan = await scanImages(paths.images, storage);
    images = scan.images;
    imageSizes = scan.sizes;
    if (images.length === 0) {
      throw new InputError(`no images (${[...IMAGE_EXTENSIONS].join(' ')}) in the folder or below it`, `--images ${paths.images}`);
    }
    notices.push(...skippedNotices(paths.images, scan.skipped));
  }
  for (const [flag, dir] of [['--invalid-masks', paths.invalidMasks], ['--roi-masks', paths.roiMasks]] as const) {
    const missing = dir !== undefined && images.length > 0 ? await checkMaskFolder(flag, dir, images, storage) : null;
    if (missing) notices.push(missing);
  }
  let labels: LabelRows | undefined;
  if (paths.labels !== undefined) {
    labels = await readLabelRows(paths.labels, '--labels', storage);
    notices.push(...labels.notices);
    if (images.length > 0) {
      const unmatched = unmatchedLabelRows(labels, images);
      if (unmatched && unmatched.count === labels.rows.length) {
        throw new InputError(
          `none of its ${labels.rows.length} label rows names an image under --images (e.g. ${labels.rows[0].image})`,
          `--labels ${paths.labels}`,
        );
      }
      if (unmatched) notices.push(unmatched);
    }
  }
  return { images, notices, ...(labels && { labels }), ...(imageSizes && { imageSizes }) };
}

const SKIP_MESSAGES: Record<SkipReason, string> = {
  unsupported: 'not a supported image type',
  hidden: 'hidden (name starts with ".")',
  link: 'a link to a folder or to nothing',
};

function skippedNotices(dir: string, skipped: Record<SkipReason, string[]>): InputNotice[] {
  return (Object.keys(SKIP_MESSAGES) as SkipReason[])
    .filter((reason) => skipped[reason].length > 0)
    .map((reason) =>
      notice({
        source: '--images',
        file: dir,
        kind: `skipped-${reason}`,
        count: skipped[reason].length,
        examples: skipped[reason],
        message: `${skipped[reason].length} entr${skipped[reason].length === 1 ? 'y' : 'ies'} under --images skipped: ${SKIP_MESSAGES[reason]}`,
      }),
    );
}

/**
 * A mask folder must hold a mask for at least one image: one that holds none is a wrong folder, not "no masks".
 * Images without a mask (their metrics on that region are null) are a notice.
 */
async function checkMaskFolder(flag: string, dir: string, images: readonly string[], storage: Storage): Promise<InputNotice | null> {
  // One listing of the folder (one request per 1000 names on S3), not a probe per image and extension.
  const files = new Set<string>();
  for await (const rel of storage.list(parseLocation(dir, flag))) files.add(rel);
  const missing = images.filter((image) => !maskCandidateNames(image).some((f) => files.has(f)));
  if (missing.length === images.length) {
    throw new InputError(
      `no mask for any of the ${images.length} images (expected e.g. ${joinUri(dir, images[0], flag)}, any image extension)`,
      `${flag} ${dir}`,
    );
  }
  if (missing.length === 0) return null;
  return notice({
    source: flag,
    file: dir,
    kind: 'images-without-mask',
    count: missing.length,
    examples: missing,
    message: `${missing.length} of ${images.length} images have no mask in ${flag}; their metrics on that region are null`,
  });
}

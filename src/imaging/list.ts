import path from 'node:path';
import { InputError } from '../errors.ts';
import { restateStorageError } from '../storage/errors.ts';
import { formatLocation, parseLocation, type Location } from '../storage/location.ts';
import type { ListOptions } from '../storage/backend.ts';
import { defaultStorage, type Storage } from '../storage/storage.ts';
import { IMAGE_EXTENSIONS } from './formats.ts';

/** Why a file or folder under the image root was not listed. */
export type SkipReason = 'unsupported' | 'hidden' | 'link';

export interface ImageScan {
  /** Image paths relative to the root, '/' separators, in UTF-8 byte order (S3's listing order). */
  images: string[];
  /** What was left out, by reason (paths relative to the root; a hidden or linked folder counts once). */
  skipped: Record<SkipReason, string[]>;
  /** Sizes of the images in bytes, where the listing gave them (S3); the data fingerprint then needs no request per image. */
  sizes: Map<string, number>;
}

/**
 * Image files under `dir` (a local folder, file:// or an s3:// prefix), recursively: paths relative to `dir` with '/'
 * separators, in UTF-8 byte order of the whole path (the storage listing's order: locale-independent, the same on
 * every backend, so every shard of a run sees the same list). Extensions are matched case-insensitively (.jpg .jpeg
 * .png .webp .tif .tiff). Names starting with '.' are skipped (macOS '._x.jpg' resource forks, .git); local links to
 * files are listed, links to folders are not followed (no cycles). Everything left out is reported in `skipped`.
 * @throws InputError when `dir` does not exist or is not a folder
 */
export async function scanImages(dir: string, storage: Storage = defaultStorage()): Promise<ImageScan> {
  const root = parseLocation(dir, '--images');
  await assertFolder(storage, root, dir);
  const found: string[] = [];
  const skipped: Record<SkipReason, string[]> = { unsupported: [], hidden: [], link: [] };
  const onSkipped = (rel: string, why: 'link' | 'special') => skipped[why === 'link' ? 'link' : 'unsupported'].push(rel);
  const sizes = new Map<string, number>();
  const onSize = (rel: string, size: number) => sizes.set(rel, size);
  let lastHidden: string | undefined;
  for await (const rel of listing(storage, root, dir, onSkipped, onSize)) {
    const segments = rel.split('/');
    const hidden = segments.findIndex((s) => s.startsWith('.'));
    if (hidden >= 0) {
      // A hidden folder counts once, however many files it holds (they list together: same prefix).
      const entry = segments.slice(0, hidden + 1).join('/');
      if (entry !== lastHidden) skipped.hidden.push(entry);
      lastHidden = entry;
    } else {
      (IMAGE_EXTENSIONS.has(path.posix.extname(rel).toLowerCase()) ? found : skipped.unsupported).push(rel);
    }
  }
  for (const list of Object.values(skipped)) list.sort(byCodeUnit);
  return { images: found, skipped, sizes };
}

/** The image list of `scanImages`, without the skipped entries. */
export async function listImages(dir: string, storage?: Storage): Promise<string[]> {
  return (await scanImages(dir, storage)).images;
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

async function assertFolder(storage: Storage, root: Location, dir: string): Promise<void> {
  let info;
  try {
    info = await storage.stat(root);
  } catch (error) {
    throw restateStorageError(error, (problem) => `cannot read image directory (${problem})`, dir);
  }
  if (!info) throw new InputError('image directory not found', dir);
  if (info.kind !== 'folder') throw new InputError('not a directory', dir);
}

async function* listing(storage: Storage, root: Location, dir: string, onSkipped: ListOptions['onSkipped'], onSize: ListOptions['onSize']): AsyncGenerator<string> {
  try {
    yield* storage.list(root, { includeHidden: true, onSkipped, onSize });
  } catch (error) {
    // Unreadable (exit 3) stays unreadable; an outage (exit 4) passes as it is.
    throw restateStorageError(error, (problem) => `cannot list directory (${problem})`, (error as InputError).file ?? formatLocation(root));
  }
}

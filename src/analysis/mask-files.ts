import path from 'node:path';
import { HeatgateError, InputError } from '../errors.ts';
import { warpMask, type Geometry } from '../imaging/index.ts';
import { restateStorageError } from '../storage/errors.ts';
import { formatLocation, joinLocation, parseLocation } from '../storage/location.ts';
import { defaultStorage, type Storage } from '../storage/storage.ts';

/**
 * Per-image mask files: `<dir>/<image path without extension>.<ext>`, where the extension may differ from
 * the image's (a JPEG photo usually has a PNG mask). Pixel value > 127 = inside (imaging's warpMask, which
 * also applies the image's own resize/crop/letterbox).
 */

/** Tried in this order after the image's own extension. */
export const MASK_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'tif', 'tiff', 'bmp'] as const;

/** The names (relative to the mask folder, '/' separators) a mask for `relPath` may have, in order of preference. */
export function maskCandidateNames(relPath: string): string[] {
  const rel = relPath.replace(/\\/g, '/');
  const ext = path.posix.extname(rel);
  const stem = rel.slice(0, rel.length - ext.length);
  const exts = [ext.slice(1), ...MASK_EXTENSIONS].filter((e, i, all) => e !== '' && all.indexOf(e) === i);
  // Upper-case variants too: cameras and Windows tools write .PNG / .JPG.
  const withCase = exts.flatMap((e) => (e === e.toUpperCase() ? [e] : [e, e.toUpperCase()]));
  return withCase.map((e) => `${stem}.${e}`);
}

export function maskCandidates(dir: string, relPath: string): string[] {
  return maskCandidateNames(relPath).map((name) => path.join(dir, name));
}

/** A mask folder (local, file:// or an s3:// prefix): listed once, then one read per image that has a mask. */
export interface MaskFolder {
  /** Loads the image's mask in the model frame, or null when the folder has none for it. */
  load(relPath: string, g: Geometry): Promise<{ file: string; mask: Uint8Array } | null>;
}

export function openMaskFolder(dir: string, storage: Storage = defaultStorage()): MaskFolder {
  const root = parseLocation(dir);
  // One listing (one request per 1000 names on S3) instead of a probe per image and candidate extension.
  let names: Promise<Set<string>> | undefined;
  const list = async () => {
    const found = new Set<string>();
    for await (const rel of storage.list(root)) found.add(rel);
    return found;
  };
  return {
    async load(relPath, g) {
      const present = await (names ??= list());
      const name = maskCandidateNames(relPath).find((n) => present.has(n));
      if (name === undefined) return null;
      const file = formatLocation(joinLocation(root, name));
      let data: Buffer;
      try {
        data = await storage.read(joinLocation(root, name));
      } catch (e) {
        throw restateStorageError(e, (problem) => `cannot read mask: ${problem}`, file);
      }
      try {
        return { file, mask: await warpMask(data, g, file) };
      } catch (e) {
        if (e instanceof HeatgateError) throw e;
        throw new InputError(`cannot decode mask image: ${(e as Error).message}`, file);
      }
    },
  };
}

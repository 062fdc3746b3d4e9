import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { HeatgateError, InfrastructureError, InputError } from '../errors.ts';
import { warpMask, type Geometry } from '../imaging/index.ts';

/**
 * Per-image mask files: `<dir>/<image path without extension>.<ext>`, where the extension may differ from
 * the image's (a JPEG photo usually has a PNG mask). Pixel value > 127 = inside (imaging's warpMask, which
 * also applies the image's own resize/crop/letterbox).
 */

/** Tried in this order after the image's own extension. */
export const MASK_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'tif', 'tiff', 'bmp'] as const;

export function maskCandidates(dir: string, relPath: string): string[] {
  const rel = relPath.replace(/\\/g, '/');
  const ext = path.posix.extname(rel);
  const stem = rel.slice(0, rel.length - ext.length);
  const exts = [ext.slice(1), ...MASK_EXTENSIONS].filter((e, i, all) => e !== '' && all.indexOf(e) === i);
  // Upper-case variants too: cameras and Windows tools write .PNG / .JPG.
  const withCase = exts.flatMap((e) => (e === e.toUpperCase() ? [e] : [e, e.toUpperCase()]));
  return withCase.map((e) => path.join(dir, `${stem}.${e}`));
}

/** The first existing mask file for the image, read; null when there is none. */
export async function readMaskFile(dir: string, relPath: string): Promise<{ file: string; data: Buffer } | null> {
  for (const file of maskCandidates(dir, relPath)) {
    try {
      return { file, data: await readFile(file) };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      if (code === 'EISDIR') throw new InputError('expected a mask image but found a directory', file);
      throw new InfrastructureError(`cannot read mask: ${code ?? (e as Error).message}`, file);
    }
  }
  return null;
}

/** Loads the image's mask from `dir` in the model frame, or null when the directory has none for it. */
export async function loadMaskFile(dir: string, relPath: string, g: Geometry): Promise<{ file: string; mask: Uint8Array } | null> {
  const found = await readMaskFile(dir, relPath);
  if (!found) return null;
  try {
    return { file: found.file, mask: await warpMask(found.data, g, found.file) };
  } catch (e) {
    if (e instanceof HeatgateError) throw e;
    throw new InputError(`cannot decode mask image: ${(e as Error).message}`, found.file);
  }
}

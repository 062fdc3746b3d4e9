import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors.ts';
import { IMAGE_EXTENSIONS } from './formats.ts';

/** Why a file or folder under the image root was not listed. */
export type SkipReason = 'unsupported' | 'hidden' | 'link';

export interface ImageScan {
  /** Image paths relative to the root, '/' separators, sorted by UTF-16 code units. */
  images: string[];
  /** What was left out, by reason (paths relative to the root; a hidden or linked folder counts once). */
  skipped: Record<SkipReason, string[]>;
}

/**
 * Image files under `dir`, recursively: paths relative to `dir` with '/' separators, sorted by UTF-16 code
 * units (locale-independent, so every shard of a run sees the same order). Extensions are matched
 * case-insensitively (.jpg .jpeg .png .webp .tif .tiff). Names starting with '.' are skipped (macOS '._x.jpg'
 * resource forks, .git); symbolic links to files are listed, links to directories are not followed (no cycles).
 * Everything left out is reported in `skipped`, so the caller can say so.
 * @throws InputError when `dir` does not exist or is not a directory
 */
export async function scanImages(dir: string): Promise<ImageScan> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new InputError('not a directory', dir);
  } catch (error) {
    if (error instanceof InputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? 'image directory not found' : `cannot read image directory (${code})`, dir);
  }
  const found: string[] = [];
  const skipped: Record<SkipReason, string[]> = { unsupported: [], hidden: [], link: [] };
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    } catch (error) {
      throw new InputError(`cannot list directory (${(error as NodeJS.ErrnoException).code})`, path.join(dir, rel));
    }
    for (const entry of entries) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.name.startsWith('.')) {
        skipped.hidden.push(child);
      } else if (entry.isDirectory()) {
        await walk(child);
      } else if (entry.isSymbolicLink() && !(await isFile(path.join(dir, child)))) {
        skipped.link.push(child); // a link to a folder (not followed: no cycles) or a dangling one
      } else if (entry.isFile() || entry.isSymbolicLink()) {
        (IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase()) ? found : skipped.unsupported).push(child);
      } else {
        skipped.unsupported.push(child); // a socket, a FIFO, a device
      }
    }
  };
  await walk('');
  for (const list of Object.values(skipped)) list.sort(byCodeUnit);
  return { images: found.sort(byCodeUnit), skipped };
}

/** The image list of `scanImages`, without the skipped entries. */
export async function listImages(dir: string): Promise<string[]> {
  return (await scanImages(dir)).images;
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false; // dangling link
  }
}

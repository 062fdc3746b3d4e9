import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors.ts';
import { IMAGE_EXTENSIONS } from './formats.ts';

/**
 * Image files under `dir`, recursively: paths relative to `dir` with '/' separators, sorted by UTF-16 code
 * units (locale-independent, so every shard of a run sees the same order). Extensions are matched
 * case-insensitively (.jpg .jpeg .png .webp .tif .tiff). Names starting with '.' are skipped (macOS '._x.jpg'
 * resource forks, .git); symbolic links to files are listed, links to directories are not followed (no cycles).
 * @throws InputError when `dir` does not exist or is not a directory
 */
export async function listImages(dir: string): Promise<string[]> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new InputError('not a directory', dir);
  } catch (error) {
    if (error instanceof InputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? 'image directory not found' : `cannot read image directory (${code})`, dir);
  }
  const found: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    } catch (error) {
      throw new InputError(`cannot list directory (${(error as NodeJS.ErrnoException).code})`, path.join(dir, rel));
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        await walk(child);
      } else if (IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) {
        if (entry.isFile() || (entry.isSymbolicLink() && (await isFile(path.join(dir, child))))) found.push(child);
      }
    }
  };
  await walk('');
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false; // dangling link
  }
}

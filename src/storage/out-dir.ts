import { randomBytes } from 'node:crypto';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, outputPathError } from '../errors.ts';

/**
 * Creates `dir` and its missing parents one level at a time. `mkdir(…, {recursive: true})` never returns on some
 * pseudo-filesystems (/proc: the kernel answers ENOENT for a parent that exists, and libuv retries forever); here the
 * walk is bounded by the path's depth, and each failure is one ConfigError (2) or InfrastructureError (4) naming `dir`.
 */
export async function ensureDir(dir: string): Promise<void> {
  const target = path.resolve(dir);
  const missing: string[] = [];
  let current = target;
  for (;;) {
    const info = await stat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw outputPathError(error, 'cannot use output folder', dir);
    });
    if (info) {
      if (!info.isDirectory()) {
        throw new ConfigError(current === target ? 'is a file, not a folder' : `its parent ${current} is a file, not a folder`, dir);
      }
      break;
    }
    const parent = path.dirname(current);
    if (parent === current) break; // the root itself is missing: mkdir below says why
    missing.push(current);
    current = parent;
  }
  for (const folder of missing.reverse()) {
    try {
      await mkdir(folder);
    } catch (error) {
      const raced = (error as NodeJS.ErrnoException).code === 'EEXIST' && (await stat(folder).then((s) => s.isDirectory(), () => false));
      if (!raced) throw outputPathError(error, folder === target ? 'cannot create output folder' : `cannot create folder ${folder}`, dir);
    }
  }
}

/**
 * Makes `dir` ready to hold a run's outputs: the folder exists (see ensureDir) and a file can be created in it, so an
 * unusable --out fails at the start with one line instead of after the first batch.
 */
export async function prepareOutDir(dir: string): Promise<void> {
  await ensureDir(dir);
  const probe = path.join(dir, `.heatgate-write-test.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    await (await open(probe, 'wx')).close();
  } catch (error) {
    throw outputPathError(error, 'cannot write to the output folder', dir);
  }
  await rm(probe, { force: true });
}

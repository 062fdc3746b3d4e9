import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { outputPathError } from '../errors.ts';
import { ensureDir } from './out-dir.ts';

export type FileContent = string | Uint8Array | Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;

/**
 * Writes `path` so that readers see either the old file or the complete new one, never a partial file:
 * the data goes to a temp file in the same directory (same filesystem, so rename is atomic), is fsynced,
 * then renamed over the target. On any failure the temp file is removed and the target is untouched.
 * Missing parent folders are created (one level at a time, see ensureDir). A path that cannot be written is a
 * ConfigError (2), other I/O failures an InfrastructureError (4). `durable: false` skips the fsync (per-image files, where a crash only
 * costs the image being redone on --resume).
 */
export async function writeFileAtomic(path: string, content: FileContent, options: { durable?: boolean } = {}): Promise<void> {
  await ensureDir(dirname(path));
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx');
    try {
      if (typeof content === 'string' || content instanceof Uint8Array) {
        await handle.writeFile(content);
      } else {
        for await (const chunk of content) {
          if (typeof chunk === 'string') await handle.write(chunk);
          else await handle.write(chunk);
        }
      }
      if (options.durable ?? true) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw outputPathError(error, 'cannot write output file', path);
  }
}

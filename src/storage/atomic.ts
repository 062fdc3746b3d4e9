import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HeatgateError, InfrastructureError } from '../errors.ts';

export type FileContent = string | Uint8Array | Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;

/**
 * Writes `path` so that readers see either the old file or the complete new one, never a partial file:
 * the data goes to a temp file in the same directory (same filesystem, so rename is atomic), is fsynced,
 * then renamed over the target. On any failure the temp file is removed and the target is untouched.
 * Missing parent folders are created. `durable: false` skips the fsync (per-image files, where a crash only
 * costs the image being redone on --resume).
 */
export async function writeFileAtomic(path: string, content: FileContent, options: { durable?: boolean } = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
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
    if (error instanceof HeatgateError) throw error;
    throw new InfrastructureError(`cannot write output file (${(error as Error).message})`, path);
  }
}

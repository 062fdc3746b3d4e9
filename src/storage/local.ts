import { createReadStream, type Dirent } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { HeatgateError, InfrastructureError, InputError } from '../errors.ts';
import { writeFileAtomic, type FileContent } from './atomic.ts';
import type { Backend, ListOptions, ObjectStat } from './backend.ts';
import { NotFoundError } from './errors.ts';
import { compareUtf8, type Location } from './location.ts';
import { AppendOutputTarget } from './output-append.ts';
import type { OutputTarget, OutputTargetOptions } from './output.ts';

/** Local files (plain paths and file:// URIs). */
export class LocalBackend implements Backend {
  async stat(loc: Location): Promise<ObjectStat | undefined> {
    const file = localPath(loc);
    try {
      const s = await stat(file);
      return s.isDirectory() ? { kind: 'folder' } : { kind: 'file', size: s.size };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw fsError(error, file, 'read');
    }
  }

  async read(loc: Location): Promise<Buffer> {
    const file = localPath(loc);
    try {
      return await readFile(file);
    } catch (error) {
      throw fsError(error, file, 'read');
    }
  }

  async readStream(loc: Location): Promise<Readable> {
    const file = localPath(loc);
    const stream = createReadStream(file);
    // Surface ENOENT/EACCES here, as a typed error, rather than on the first read.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (error) => reject(fsError(error, file, 'read')));
    });
    return stream;
  }

  async *list(root: Location, options: ListOptions = {}): AsyncGenerator<string> {
    const dir = localPath(root);
    const s = await this.stat(root);
    if (!s) throw new NotFoundError(dir, 'folder not found');
    if (s.kind !== 'folder') throw new InputError('not a folder', dir);
    yield* walk(dir, '', options.recursive ?? true, options.includeHidden ?? false, options.onSkipped);
  }

  async write(loc: Location, data: FileContent, options: { durable?: boolean } = {}): Promise<void> {
    await writeFileAtomic(localPath(loc), data, options);
  }

  async remove(loc: Location): Promise<void> {
    const file = localPath(loc);
    try {
      await rm(file, { force: true });
    } catch (error) {
      throw fsError(error, file, 'remove');
    }
  }

  openOutput(root: Location, options: OutputTargetOptions): Promise<OutputTarget> {
    return AppendOutputTarget.open(root, localPath(root), options);
  }
}

/**
 * Depth-first walk yielding files in UTF-8 byte order of their whole relative path: siblings are sorted with a
 * folder keyed as `name/`, so 'a-b' (0x2d) comes before everything in folder 'a' ('a/', 0x2f), as in an S3
 * listing. Holds one directory's entries per level. Links to files are listed; links to folders are not
 * followed (no cycles).
 */
async function* walk(
  dir: string,
  rel: string,
  recursive: boolean,
  includeHidden: boolean,
  onSkipped?: ListOptions['onSkipped'],
): AsyncGenerator<string> {
  const here = rel === '' ? dir : path.join(dir, rel);
  let entries: Dirent[];
  try {
    entries = await readdir(here, { withFileTypes: true });
  } catch (error) {
    throw fsError(error, here, 'list');
  }
  const items: { name: string; key: string; folder: boolean }[] = [];
  for (const entry of entries) {
    if (!includeHidden && entry.name.startsWith('.')) continue;
    let folder = entry.isDirectory();
    if (entry.isSymbolicLink()) {
      const target = await stat(path.join(here, entry.name)).catch(() => undefined); // dangling: skipped
      if (!target?.isFile()) {
        onSkipped?.(rel === '' ? entry.name : `${rel}/${entry.name}`, 'link');
        continue;
      }
      folder = false;
    } else if (!folder && !entry.isFile()) {
      onSkipped?.(rel === '' ? entry.name : `${rel}/${entry.name}`, 'special'); // sockets, FIFOs, devices
      continue;
    }
    items.push({ name: entry.name, key: folder ? `${entry.name}/` : entry.name, folder });
  }
  items.sort((a, b) => compareUtf8(a.key, b.key));
  for (const item of items) {
    const child = rel === '' ? item.name : `${rel}/${item.name}`;
    if (!item.folder) yield child;
    else if (recursive) yield* walk(dir, child, recursive, includeHidden, onSkipped);
  }
}

export function localPath(loc: Location): string {
  if (loc.scheme !== 'file') throw new Error(`LocalBackend got a ${loc.scheme} location`); // a bug: Storage dispatches
  return loc.path;
}

export const isNotFound = (error: unknown) => ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '');

/** ENOENT → NotFoundError; permission and wrong-kind errors → InputError; the rest (EIO, ENOSPC, EMFILE) → exit 4. */
export function fsError(error: unknown, file: string, action: 'read' | 'list' | 'write' | 'remove'): HeatgateError {
  if (error instanceof HeatgateError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const typed = isNotFound(error)
    ? new NotFoundError(file)
    : code === 'EACCES' || code === 'EPERM'
      ? new InputError(`permission denied (cannot ${action})`, file)
      : code === 'EISDIR'
        ? new InputError('is a folder, expected a file', file)
        : new InfrastructureError(`cannot ${action} (${code ?? (error as Error).message})`, file);
  typed.cause = error; // the errno code, for callers whose messages name it (see storageProblem)
  return typed;
}

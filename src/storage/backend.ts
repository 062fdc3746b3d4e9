import type { Readable } from 'node:stream';
import type { FileContent } from './atomic.ts';
import type { Location } from './location.ts';
import type { OutputTarget, OutputTargetOptions } from './output.ts';

export type { FileContent };

export interface ObjectStat {
  /** 'folder': a local directory, or an S3 prefix with at least one object under it (or the bucket itself). */
  kind: 'file' | 'folder';
  /** Bytes, for files. */
  size?: number;
}

export interface ListOptions {
  /** Descend into sub-folders / nested prefixes (default true). */
  recursive?: boolean;
  /** Also list names with a segment starting with '.' (default false: .git, macOS '._x.jpg', temp files). */
  includeHidden?: boolean;
  /**
   * Told about entries that are not listed because they are not plain files: local links to folders or to nothing
   * (`link`), sockets, FIFOs and devices (`special`). S3 has none.
   */
  onSkipped?: (rel: string, why: 'link' | 'special') => void;
  /**
   * Told each listed file's size when the listing carries it (S3 does; a local directory read does not), just
   * before its name is yielded: callers that need sizes save a request per file.
   */
  onSize?: (rel: string, size: number) => void;
}

/**
 * One storage backend (local files or S3). Locations passed in have this backend's scheme; the Storage facade
 * is the only code that picks a backend by scheme.
 *
 * Errors: a missing object is `undefined` from stat and NotFoundError (exit 3) elsewhere; permission and other
 * refusals are InputError (exit 3) naming the location; network, 5xx and timeouts (after the SDK's retries)
 * are InfrastructureError (exit 4). Messages never carry credentials or signed URLs.
 */
export interface Backend {
  stat(loc: Location): Promise<ObjectStat | undefined>;
  read(loc: Location): Promise<Buffer>;
  readStream(loc: Location): Promise<Readable>;
  /**
   * Paths of the files under `root`, relative to it with '/' separators, streamed in UTF-8 byte order (S3's
   * listing order; compareUtf8). Nothing is collected first: S3 holds one page, the local walk one directory's
   * entries per level. Folder markers (S3 keys ending in '/') are not listed.
   * @throws NotFoundError when the local folder or the bucket does not exist (an empty S3 prefix lists nothing)
   */
  list(root: Location, options?: ListOptions): AsyncIterable<string>;
  /** Readers see the old object or the complete new one, never a partial one. */
  write(loc: Location, data: FileContent, options?: { durable?: boolean }): Promise<void>;
  /** Removes a file or object; a missing one is not an error. */
  remove(loc: Location): Promise<void>;
  /** The output target for `--out` on this backend (see output.ts). */
  openOutput(root: Location, options: OutputTargetOptions): Promise<OutputTarget>;
}

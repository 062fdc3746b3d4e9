import { InputError } from '../errors.ts';

/**
 * The object or file does not exist (ENOENT, S3 NoSuchKey/NoSuchBucket/404): exit 3, like any unusable input.
 * One class for every backend, so callers that tolerate a missing file (an optional mask) catch one thing.
 */
export class NotFoundError extends InputError {
  constructor(location: string, detail = 'not found') {
    super(detail, location);
  }
}

/**
 * What went wrong, without the location: the errno code of a local failure (`ENOENT`, `EACCES`), as heatgate's
 * messages named it before storage was pluggable, else the storage error's own text (`not found`,
 * `access denied (AccessDenied, HTTP 403)`).
 */
export function storageProblem(error: unknown): string {
  const code = ((error as { cause?: NodeJS.ErrnoException }).cause as NodeJS.ErrnoException | undefined)?.code;
  if (code) return code;
  const e = error as { message?: string; file?: string };
  const message = e.message ?? String(error);
  return e.file && message.startsWith(`${e.file}: `) ? message.slice(e.file.length + 2) : message;
}

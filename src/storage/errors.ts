import { ConfigError, HeatgateError, InfrastructureError, InputError } from '../errors.ts';

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

/**
 * A storage failure restated by a reader in its own words (`cannot read model: ...`) about `where`, keeping what kind
 * of failure it is: no credentials or region stay exit 2, an outage exit 4, a refused or broken file `fallback` (the
 * reader's class for a file it cannot use: exit 3 by default). Anything else (a bug) passes unchanged.
 */
export function restateStorageError(
  error: unknown,
  message: (problem: string) => string,
  where: string,
  fallback: new (message: string, file?: string) => HeatgateError = InputError,
): Error {
  if (!(error instanceof HeatgateError) || error.kind === 'bug') return error as Error;
  const text = message(storageProblem(error));
  if (error instanceof ConfigError) return new ConfigError(text, where);
  if (error instanceof InfrastructureError) return new InfrastructureError(text, where);
  return new fallback(text, where);
}

/**
 * Every failure heatgate reports is a HeatgateError with a stable code; the CLI maps codes to exit codes
 * (0 pass, 1 gate failed, 2 usage/config, 3 input data, 4 storage/infrastructure (worth a retry), 70 heatgate bug).
 */
export const EXIT_CODES = {
  pass: 0,
  gateFailed: 1,
  usage: 2,
  inputData: 3,
  infrastructure: 4,
  /** heatgate's own bug (an unexpected exception): EX_SOFTWARE from sysexits.h. Never retried by manifests. */
  bug: 70,
} as const;

export type ErrorKind = 'usage' | 'inputData' | 'infrastructure' | 'bug';

export class HeatgateError extends Error {
  constructor(
    message: string,
    readonly kind: ErrorKind,
    /** The file or URI the error is about, when there is one. */
    readonly file?: string,
  ) {
    super(file ? `${file}: ${message}` : message);
    this.name = new.target.name;
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/** Bad flags, bad policy or config files, unknown layer names: exit 2. */
export class ConfigError extends HeatgateError {
  constructor(message: string, file?: string) {
    super(message, 'usage', file);
  }
}

/** A model, image, mask or annotation file that cannot be used: exit 3. */
export class InputError extends HeatgateError {
  constructor(message: string, file?: string) {
    super(message, 'inputData', file);
  }
}

/** Storage, network or runtime failures that are not the input's fault: exit 4. */
export class InfrastructureError extends HeatgateError {
  constructor(message: string, file?: string) {
    super(message, 'infrastructure', file);
  }
}

/**
 * heatgate's own fault, detected where it happens (e.g. ONNX Runtime rejects the augmented graph heatgate built from a
 * model it accepted): exit 70, reported like an unexpected exception.
 */
export class BugError extends HeatgateError {
  constructor(message: string, file?: string) {
    super(message, 'bug', file);
  }
}

/** An op on the differentiated path that has no gradient rule. */
export class UnsupportedOpError extends InputError {
  constructor(
    readonly opType: string,
    readonly nodeName: string,
    readonly supported: readonly string[],
    file?: string,
  ) {
    super(
      `no gradient rule for op ${opType} (node "${nodeName}") on the path from the target layer to the logits; ` +
        `supported ops: ${supported.join(', ')}`,
      file,
    );
  }
}

/** A third-party message (ONNX Runtime's carry newlines and source paths) on one line, for one-line errors. */
export function singleLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).join(' | ');
}

/** sharp-style message for a bad parameter value. */
export function invalidParameter(name: string, expected: string, actual: unknown): ConfigError {
  return new ConfigError(`expected ${expected} for ${name} but received ${JSON.stringify(actual)}`);
}

/** errno codes that mean "this path cannot be used as given" (the user fixes the flag): exit 2. */
const PATH_PROBLEMS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only filesystem',
  ENOTDIR: 'a parent is a file, not a folder',
  EISDIR: 'is a folder',
  ENOTEMPTY: 'a folder is in the way',
  EEXIST: 'already exists and is not a folder',
  ENOENT: 'the filesystem does not allow creating it here',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many symbolic links',
};

/**
 * Maps a filesystem error on an output path to its exit code: a path that cannot be used (permissions, read-only, a
 * file where a folder should be) is a ConfigError (2); anything else (EIO, ENOSPC, EMFILE...) is storage trouble worth
 * a retry (4). `what` says what was being done ("cannot create folder").
 */
export function outputPathError(error: unknown, what: string, file: string): HeatgateError {
  if (error instanceof HeatgateError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const problem = code ? PATH_PROBLEMS[code] : undefined;
  if (problem) return new ConfigError(`${what} (${code}: ${problem})`, file);
  return new InfrastructureError(`${what} (${code ?? (error as Error).message})`, file);
}

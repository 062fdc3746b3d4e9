import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { FileContent } from './atomic.ts';
import type { Backend, ListOptions, ObjectStat } from './backend.ts';
import { LocalBackend } from './local.ts';
import type { Location } from './location.ts';
import type { OutputTarget, OutputTargetOptions } from './output.ts';
import type { S3BackendOptions } from './s3.ts';
import type { S3ClientOptions } from './s3-config.ts';

export interface StorageOptions {
  /** How to build the S3 client, on first use of an s3:// location (a local-only run never reads AWS settings). */
  s3?: S3ClientOptions & S3BackendOptions & { client?: S3Client };
}

/**
 * Every input and output location goes through here; this is the one place that looks at the scheme.
 * The same methods as Backend, dispatched by location.
 */
export class Storage implements Backend {
  private readonly local = new LocalBackend();
  private s3Backend?: Promise<Backend>;

  constructor(private readonly options: StorageOptions = {}) {}

  /**
   * The backend of a location. The AWS SDK is imported on the first s3:// location only: a local run neither
   * reads AWS settings nor loads the SDK (about 24 MiB and 0.1 s of start-up).
   */
  async backend(loc: Location): Promise<Backend> {
    switch (loc.scheme) {
      case 'file':
        return this.local;
      case 's3':
        this.s3Backend ??= (async () => {
          const [{ S3Backend }, { createS3Client }] = await Promise.all([import('./s3.ts'), import('./s3-client.ts')]);
          return new S3Backend(this.options.s3?.client ?? createS3Client(this.options.s3), this.options.s3);
        })();
        return this.s3Backend;
    }
  }

  async stat(loc: Location): Promise<ObjectStat | undefined> {
    return (await this.backend(loc)).stat(loc);
  }
  async read(loc: Location): Promise<Buffer> {
    return (await this.backend(loc)).read(loc);
  }
  async readStream(loc: Location): Promise<Readable> {
    return (await this.backend(loc)).readStream(loc);
  }
  async *list(root: Location, options?: ListOptions): AsyncIterable<string> {
    yield* (await this.backend(root)).list(root, options);
  }
  async write(loc: Location, data: FileContent, options?: { durable?: boolean }): Promise<void> {
    return (await this.backend(loc)).write(loc, data, options);
  }
  async remove(loc: Location): Promise<void> {
    return (await this.backend(loc)).remove(loc);
  }
  async openOutput(root: Location, options: OutputTargetOptions): Promise<OutputTarget> {
    return (await this.backend(root)).openOutput(root, options);
  }
}

let shared: Storage | undefined;

/**
 * The Storage of library calls that pass none: S3 settings from the AWS environment only. The CLI builds its own
 * per run (with --s3-force-path-style) and passes it down.
 */
export function defaultStorage(): Storage {
  return (shared ??= new Storage());
}

import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { FileContent } from './atomic.ts';
import type { Backend, ListOptions, ObjectStat } from './backend.ts';
import { LocalBackend } from './local.ts';
import type { Location } from './location.ts';
import type { OutputTarget, OutputTargetOptions } from './output.ts';
import { S3Backend, type S3BackendOptions } from './s3.ts';
import { createS3Client, type S3ClientOptions } from './s3-config.ts';

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
  private s3Backend?: S3Backend;

  constructor(private readonly options: StorageOptions = {}) {}

  backend(loc: Location): Backend {
    switch (loc.scheme) {
      case 'file':
        return this.local;
      case 's3':
        this.s3Backend ??= new S3Backend(this.options.s3?.client ?? createS3Client(this.options.s3), this.options.s3);
        return this.s3Backend;
    }
  }

  stat(loc: Location): Promise<ObjectStat | undefined> {
    return this.backend(loc).stat(loc);
  }
  read(loc: Location): Promise<Buffer> {
    return this.backend(loc).read(loc);
  }
  readStream(loc: Location): Promise<Readable> {
    return this.backend(loc).readStream(loc);
  }
  list(root: Location, options?: ListOptions): AsyncIterable<string> {
    return this.backend(root).list(root, options);
  }
  write(loc: Location, data: FileContent, options?: { durable?: boolean }): Promise<void> {
    return this.backend(loc).write(loc, data, options);
  }
  remove(loc: Location): Promise<void> {
    return this.backend(loc).remove(loc);
  }
  openOutput(root: Location, options: OutputTargetOptions): Promise<OutputTarget> {
    return this.backend(root).openOutput(root, options);
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

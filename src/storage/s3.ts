import { PassThrough, Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  paginateListObjectsV2,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ConfigError, HeatgateError, InfrastructureError, InputError } from '../errors.ts';
import type { FileContent } from './atomic.ts';
import type { Backend, ListOptions, ObjectStat } from './backend.ts';
import { NotFoundError } from './errors.ts';
import { formatLocation, keyPrefix, type Location } from './location.ts';
import { PartsOutputTarget } from './output-parts.ts';
import type { OutputTarget, OutputTargetOptions } from './output.ts';

export interface S3BackendOptions {
  /** Keys per ListObjectsV2 page (S3's maximum and default: 1000). */
  pageSize?: number;
  /** Whole bodies above this many bytes, and every streamed body, go through a multipart Upload. */
  multipartThreshold?: number;
  /** Multipart part size (S3's minimum: 5 MiB). */
  partSize?: number;
  /** Parts uploaded at once per object. */
  uploadConcurrency?: number;
}

const MIB = 1024 * 1024;
export const S3_BACKEND_DEFAULTS = { pageSize: 1000, multipartThreshold: 16 * MIB, partSize: 8 * MIB, uploadConcurrency: 4 } as const;

type S3Location = Extract<Location, { scheme: 's3' }>;

/** S3 and S3-compatible stores through @aws-sdk/client-s3 v3; the client comes from createS3Client. */
export class S3Backend implements Backend {
  private readonly options: Required<S3BackendOptions>;

  constructor(
    readonly client: S3Client,
    options: S3BackendOptions = {},
  ) {
    const given = Object.fromEntries(Object.entries(options).filter(([k, v]) => v !== undefined && k in S3_BACKEND_DEFAULTS));
    this.options = { ...S3_BACKEND_DEFAULTS, ...given };
    if (this.options.partSize < 5 * MIB) throw new RangeError('S3 multipart parts must be at least 5 MiB');
  }

  async stat(loc: Location): Promise<ObjectStat | undefined> {
    const { bucket, key } = s3(loc);
    if (key === '') {
      return this.call(loc, 'read', () => this.client.send(new HeadBucketCommand({ Bucket: bucket })))
        .then((): ObjectStat => ({ kind: 'folder' }))
        .catch(notFoundAsUndefined);
    }
    if (!key.endsWith('/')) {
      const head = await this.call(loc, 'read', () => this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).catch(notFoundAsUndefined);
      if (head) return { kind: 'file', size: head.ContentLength ?? 0 };
    }
    // S3 has no folders: a prefix is one if anything lies under it.
    const page = await this.call(loc, 'list', () =>
      this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: keyPrefix(key), MaxKeys: 1 })),
    ).catch(notFoundAsUndefined);
    return page && (page.KeyCount ?? page.Contents?.length ?? 0) > 0 ? { kind: 'folder' } : undefined;
  }

  async read(loc: Location): Promise<Buffer> {
    const { bucket, key } = s3(loc);
    return this.call(loc, 'read', async () => {
      const response = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await response.Body!.transformToByteArray());
    });
  }

  async readStream(loc: Location): Promise<Readable> {
    const { bucket, key } = s3(loc);
    const response = await this.call(loc, 'read', () => this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
    const body = response.Body as Readable;
    // A connection lost mid-body surfaces on the stream: give it the same typed error.
    const out = new PassThrough();
    body.once('error', (error) => out.destroy(s3Error(error, loc, 'read')));
    body.pipe(out);
    return out;
  }

  async *list(root: Location, options: ListOptions = {}): AsyncGenerator<string> {
    const { bucket, key } = s3(root);
    const prefix = keyPrefix(key);
    const recursive = options.recursive ?? true;
    const includeHidden = options.includeHidden ?? false;
    const pages = paginateListObjectsV2(
      { client: this.client, pageSize: this.options.pageSize },
      { Bucket: bucket, Prefix: prefix, ...(recursive ? {} : { Delimiter: '/' }) },
    );
    const iterator = pages[Symbol.asyncIterator]();
    for (;;) {
      const page = await this.call(root, 'list', () => iterator.next());
      if (page.done) return;
      for (const object of page.value.Contents ?? []) {
        const rel = object.Key!.slice(prefix.length);
        if (rel === '' || rel.endsWith('/')) continue; // folder markers made by consoles
        if (!includeHidden && rel.split('/').some((s) => s.startsWith('.'))) continue;
        if (object.Size !== undefined) options.onSize?.(rel, object.Size);
        yield rel;
      }
    }
  }

  async write(loc: Location, data: FileContent): Promise<void> {
    const { bucket, key } = s3(loc);
    const whole = typeof data === 'string' ? Buffer.from(data) : data instanceof Uint8Array ? data : undefined;
    await this.call(loc, 'write', async () => {
      if (whole && whole.byteLength <= this.options.multipartThreshold) {
        await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: whole }));
        return;
      }
      // Parts appear as one object only on CompleteMultipartUpload; a failure aborts the upload.
      const body = whole ?? Readable.from(chunks(data as Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>));
      const upload = new Upload({
        client: this.client,
        params: { Bucket: bucket, Key: key, Body: body },
        partSize: this.options.partSize,
        queueSize: this.options.uploadConcurrency,
      });
      await upload.done();
    });
  }

  async remove(loc: Location): Promise<void> {
    const { bucket, key } = s3(loc);
    await this.call(loc, 'remove', () => this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))).catch(notFoundAsUndefined);
  }

  openOutput(root: Location, options: OutputTargetOptions): Promise<OutputTarget> {
    return PartsOutputTarget.open(this, root, options);
  }

  private async call<T>(loc: Location, action: S3Action, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw s3Error(error, loc, action);
    }
  }
}

type S3Action = 'read' | 'list' | 'write' | 'remove';

async function* chunks(data: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>): AsyncGenerator<Buffer> {
  for await (const chunk of data) yield typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function s3(loc: Location): S3Location {
  if (loc.scheme !== 's3') throw new Error(`S3Backend got a ${loc.scheme} location`); // a bug: Storage dispatches
  return loc;
}

function notFoundAsUndefined(error: unknown): undefined {
  if (error instanceof NotFoundError) return undefined;
  throw error;
}

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket']);
const DENIED = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AllAccessDisabled',
  'AccountProblem',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
]);
const PROGRAMMING_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError];

/**
 * Maps an SDK failure to heatgate's errors. The message carries the location, the error code and the HTTP status
 * only, never the SDK's message text, request headers or URLs (which can hold signatures).
 */
export function s3Error(error: unknown, loc: Location, action: S3Action): Error {
  if (error instanceof HeatgateError) return error;
  const e = error as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const where = formatLocation(loc);
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const tag = status ? `${name}, HTTP ${status}` : e.code && e.code !== name ? (name === 'Error' ? e.code : `${name} ${e.code}`) : name;
  if (NOT_FOUND.has(name) || status === 404) {
    return new NotFoundError(where, name === 'NoSuchBucket' && loc.scheme === 's3' ? `bucket ${loc.bucket} does not exist` : 'not found');
  }
  if (DENIED.has(name) || status === 403 || status === 401) return new InputError(`access denied (${tag})`, where);
  if (name === 'CredentialsProviderError') {
    return new ConfigError('no AWS credentials found (environment, profile, web identity, container or instance metadata)', where);
  }
  if (/region is missing/i.test(e.message ?? '')) return new ConfigError('no AWS region: set AWS_REGION', where);
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return new InputError(`S3 refused to ${action} (${tag})`, where);
  }
  if (status === undefined && PROGRAMMING_ERRORS.some((type) => error instanceof type) && !e.code) return error as Error;
  return new InfrastructureError(`cannot ${action}: storage unavailable after retries (${tag})`, where);
}

import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, EXIT_CODES, InputError } from '../../src/errors.ts';
import { NotFoundError } from '../../src/storage/errors.ts';
import { fetchAhead } from '../../src/storage/fetch-ahead.ts';
import { joinLocation, parseLocation } from '../../src/storage/location.ts';
import { S3Backend } from '../../src/storage/s3.ts';
import { createS3Client } from '../../src/storage/s3-client.ts';
import { Storage } from '../../src/storage/storage.ts';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.ts';

let server: S3TestServer;
let client: S3Client;
/** Command names the client sent, in order (a middleware on the client under test). */
let sent: string[];
let s3: S3Backend;
let restoreEnv: () => void;

beforeAll(async () => {
  server = await startS3Server({ buckets: ['data', 'out'] });
  restoreEnv = server.applyEnv(); // the SDK's credential chain reads process.env
  client = createS3Client({ env: server.env });
  sent = [];
  client.middlewareStack.add((next, context) => (args) => (sent.push(context.commandName as string), next(args)), { step: 'initialize' });
  s3 = new S3Backend(client, { pageSize: 7, multipartThreshold: 5 * 1024 * 1024, partSize: 5 * 1024 * 1024 });
  // 50 objects at several depths, written straight through the SDK.
  const put = (Key: string, Body: string) => server.client().send(new PutObjectCommand({ Bucket: 'data', Key, Body }));
  for (let i = 0; i < 50; i++) await put(`set/${i % 3 === 0 ? 'deep/er/' : i % 3 === 1 ? 'deep/' : ''}img-${String(i).padStart(2, '0')}.png`, `#${i}`);
  await put('set/.hidden/x.png', 'h');
  await put('set/deep/', ''); // a console-made folder marker
  await put('setter/outside.png', 'o');
});

afterAll(async () => {
  client?.destroy();
  restoreEnv?.();
  await server?.stop();
});

const loc = (uri: string) => parseLocation(uri);
const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

describe('S3Backend against s3rver', () => {
  it('lists 50 objects over pages of 7, recursively, in byte order, without markers, hidden keys or siblings', async () => {
    sent.length = 0;
    const keys = await collect(s3.list(loc('s3://data/set')));
    expect(keys).toHaveLength(50);
    expect(keys).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(keys.slice(0, 3)).toEqual(['deep/er/img-00.png', 'deep/er/img-03.png', 'deep/er/img-06.png']);
    expect(keys).toContain('img-02.png');
    expect(keys).not.toContain('deep/');
    expect(sent.filter((c) => c === 'ListObjectsV2Command')).toHaveLength(Math.ceil(52 / 7)); // 50 + marker + hidden
  });

  it('lists one level with a delimiter, and hidden keys on request', async () => {
    const top = await collect(s3.list(loc('s3://data/set/'), { recursive: false }));
    expect(top).toHaveLength(16); // i % 3 === 2 for i < 50: 2, 5, ..., 47
    expect(top.every((k) => !k.includes('/'))).toBe(true);
    expect(await collect(s3.list(loc('s3://data/set'), { includeHidden: true }))).toContain('.hidden/x.png');
  });

  it('reads, streams, writes and removes objects', async () => {
    expect((await s3.read(loc('s3://data/set/img-02.png'))).toString()).toBe('#2');
    const streamed: Buffer[] = [];
    for await (const c of await s3.readStream(loc('s3://data/set/deep/img-01.png'))) streamed.push(c as Buffer);
    expect(Buffer.concat(streamed).toString()).toBe('#1');
    await s3.write(loc('s3://out/a/b.json'), '{"x":1}');
    await s3.write(loc('s3://out/a/streamed.txt'), (async function* () {
      yield 'one ';
      yield Buffer.from('two');
    })());
    const got = await server.client().send(new GetObjectCommand({ Bucket: 'out', Key: 'a/streamed.txt' }));
    expect(await got.Body!.transformToString()).toBe('one two'); // no aws-chunked framing in the object
    expect((await s3.read(loc('s3://out/a/b.json'))).toString()).toBe('{"x":1}');
    await s3.remove(loc('s3://out/a/b.json'));
    expect(await s3.stat(loc('s3://out/a/b.json'))).toBeUndefined();
    await s3.remove(loc('s3://out/a/b.json')); // already gone: fine
  });

  it('stats objects, prefixes and buckets', async () => {
    expect(await s3.stat(loc('s3://data/set/img-02.png'))).toEqual({ kind: 'file', size: 2 });
    expect(await s3.stat(loc('s3://data/set/deep'))).toEqual({ kind: 'folder' });
    expect(await s3.stat(loc('s3://data/set/deep/'))).toEqual({ kind: 'folder' });
    expect(await s3.stat(loc('s3://data'))).toEqual({ kind: 'folder' });
    expect(await s3.stat(loc('s3://data/set/nope'))).toBeUndefined();
    expect(await s3.stat(loc('s3://no-such-bucket/x'))).toBeUndefined();
    expect(await s3.stat(loc('s3://no-such-bucket'))).toBeUndefined();
  });

  it('reports a missing key or bucket as NotFoundError (exit 3) naming the location', async () => {
    const key = await s3.read(loc('s3://data/set/nope.png')).catch((e: unknown) => e);
    expect(key).toBeInstanceOf(NotFoundError);
    expect((key as Error).message).toBe('s3://data/set/nope.png: not found');
    expect((key as NotFoundError).exitCode).toBe(EXIT_CODES.inputData);
    await expect(s3.read(loc('s3://no-such-bucket/x.png'))).rejects.toThrow('s3://no-such-bucket/x.png: bucket no-such-bucket does not exist');
    await expect(collect(s3.list(loc('s3://no-such-bucket/imgs')))).rejects.toBeInstanceOf(NotFoundError);
    await expect(s3.write(loc('s3://no-such-bucket/x'), 'x')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('reports refused credentials as InputError (exit 3) without leaking the secret', async () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const denied = new S3Backend(createS3Client({ env: { ...server.env, AWS_ACCESS_KEY_ID: 'AKIAWRONG', AWS_SECRET_ACCESS_KEY: secret } }));
    // The SDK's credential chain reads process.env.
    process.env.AWS_ACCESS_KEY_ID = 'AKIAWRONG';
    process.env.AWS_SECRET_ACCESS_KEY = secret;
    try {
      const error = await denied.read(loc('s3://data/set/img-02.png')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect(error).not.toBeInstanceOf(NotFoundError);
      expect((error as Error).message).toBe('s3://data/set/img-02.png: access denied (InvalidAccessKeyId, HTTP 403)');
      expect((error as Error).message).not.toContain(secret);
      expect((error as Error).message).not.toContain('AKIAWRONG');
    } finally {
      Object.assign(process.env, server.env);
      denied.client.destroy();
    }
  });

  it('uploads above the threshold in 5 MiB parts, and the object reads back whole', async () => {
    const size = 12 * 1024 * 1024 + 123;
    const big = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) big[i] = (i / 4096) % 251;
    sent.length = 0;
    await s3.write(loc('s3://out/big.bin'), big);
    expect(sent.filter((c) => c === 'UploadPartCommand')).toHaveLength(3);
    expect(sent).toContain('CompleteMultipartUploadCommand');
    expect(sent).not.toContain('PutObjectCommand');
    expect((await s3.read(loc('s3://out/big.bin'))).equals(big)).toBe(true);

    sent.length = 0;
    await s3.write(loc('s3://out/small.bin'), big.subarray(0, 1024));
    expect(sent).toEqual(['PutObjectCommand']);
  });

  it('fetches objects ahead in listing order through the Storage facade', async () => {
    const storage = new Storage({ s3: { client } });
    const root = loc('s3://data/set');
    const names = storage.list(root);
    const bodies = await collect(fetchAhead(names, (rel) => storage.read(joinLocation(root, rel)), { concurrency: 4 }));
    const expected = (await collect(s3.list(root))).map((rel) => `#${Number(/img-(\d+)/.exec(rel)![1])}`);
    expect(bodies.map((b) => b.toString())).toEqual(expected);
  });
});

describe('Storage facade', () => {
  it('builds the S3 client only for an s3:// location, from the environment', async () => {
    const storage = new Storage({ s3: { env: { AWS_ENDPOINT_URL_S3: 'not a url' } } });
    expect(await storage.stat(loc('/'))).toEqual({ kind: 'folder' });
    await expect(storage.backend(loc('s3://b/k'))).rejects.toThrow(ConfigError);
    await expect(storage.backend(loc('s3://b/k'))).rejects.toThrow('AWS_ENDPOINT_URL_S3: expected an http:// or https:// URL');
  });
});

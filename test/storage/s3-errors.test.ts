import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, EXIT_CODES, InfrastructureError, InputError } from '../../src/errors.ts';
import { parseLocation } from '../../src/storage/location.ts';
import { S3Backend, s3Error } from '../../src/storage/s3.ts';
import { createS3Client } from '../../src/storage/s3-client.ts';
import type { S3ClientOptions } from '../../src/storage/s3-config.ts';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.ts';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Credentials for the SDK's chain, which reads process.env; restored after the test. */
function withCredentials(vars: Record<string, string | undefined>): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  cleanups.push(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

/** A loopback HTTP server answering every request with `handler`; counts requests. */
async function fakeS3(handler: Parameters<typeof createServer>[1]): Promise<{ endpoint: string; requests: () => number }> {
  let count = 0;
  const server: Server = createServer((req, res) => {
    count++;
    handler!(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  cleanups.push(() => void server.closeAllConnections());
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => count };
}

function backend(env: Record<string, string>, options: S3ClientOptions = {}): S3Backend {
  withCredentials({ AWS_ACCESS_KEY_ID: 'AKIATEST', AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: undefined });
  const b = new S3Backend(createS3Client({ env: { AWS_REGION: 'us-east-1', ...env }, ...options }));
  cleanups.push(() => b.client.destroy());
  return b;
}

const loc = parseLocation('s3://bucket/images/a.png');

async function failure(promise: Promise<unknown>): Promise<Error> {
  const result = await promise.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!result) throw new Error('expected a failure');
  return result;
}

function expectClean(error: Error): void {
  expect(error.message).not.toContain(SECRET);
  expect(error.message).not.toContain('AKIATEST');
  expect(error.message).not.toMatch(/Signature|X-Amz-Credential|Authorization/i);
  expect(error.message.split('\n')).toHaveLength(1);
}

describe('S3 failures map to exit codes', () => {
  it('5xx after the SDK retries: InfrastructureError (exit 4)', async () => {
    const fake = await fakeS3((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0"?><Error><Code>InternalError</Code><Message>boom</Message></Error>');
    });
    const error = await failure(backend({ AWS_ENDPOINT_URL_S3: fake.endpoint }, { maxAttempts: 3 }).read(loc));
    expect(error).toBeInstanceOf(InfrastructureError);
    expect((error as InfrastructureError).exitCode).toBe(EXIT_CODES.infrastructure);
    expect(error.message).toBe('s3://bucket/images/a.png: cannot read: storage unavailable after retries (InternalError, HTTP 500)');
    expect(fake.requests()).toBe(3); // the SDK's own retries, not a loop of ours
    expectClean(error);
  });

  it('503 SlowDown on a write: InfrastructureError', async () => {
    const fake = await fakeS3((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
    });
    const error = await failure(backend({ AWS_ENDPOINT_URL_S3: fake.endpoint }, { maxAttempts: 1 }).write(loc, 'x'));
    expect(error).toBeInstanceOf(InfrastructureError);
    expect(error.message).toBe('s3://bucket/images/a.png: cannot write: storage unavailable after retries (SlowDown, HTTP 503)');
  });

  it('403 AccessDenied: InputError (exit 3) naming the location', async () => {
    const fake = await fakeS3((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
    });
    const error = await failure(backend({ AWS_ENDPOINT_URL_S3: fake.endpoint }).read(loc));
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toBe('s3://bucket/images/a.png: access denied (AccessDenied, HTTP 403)');
    expectClean(error);
  });

  it('connection refused: InfrastructureError', async () => {
    const fake = await fakeS3(() => undefined);
    await cleanups.pop()!(); // closeAllConnections
    await cleanups.pop()!(); // close: the port is now free
    const error = await failure(backend({ AWS_ENDPOINT_URL_S3: fake.endpoint }, { maxAttempts: 2 }).read(loc));
    expect(error).toBeInstanceOf(InfrastructureError);
    expect(error.message).toMatch(/^s3:\/\/bucket\/images\/a\.png: cannot read: storage unavailable after retries \(.*ECONNREFUSED.*\)$/);
  });

  it('a server that never answers: the handler socket timeout, then InfrastructureError', async () => {
    const fake = await fakeS3(() => undefined); // accepts, never responds
    const b = backend({ AWS_ENDPOINT_URL_S3: fake.endpoint, HEATGATE_S3_SOCKET_TIMEOUT_MS: '200' }, { maxAttempts: 2 });
    const error = await failure(b.read(loc));
    expect(error).toBeInstanceOf(InfrastructureError);
    expect(error.message).toMatch(/^s3:\/\/bucket\/images\/a\.png: cannot read: storage unavailable after retries \(.*\)$/);
    expect(fake.requests()).toBe(2);
  });

  it('no credentials anywhere: ConfigError (exit 2)', async () => {
    withCredentials({
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
      AWS_CONFIG_FILE: '/nonexistent/heatgate/config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/heatgate/credentials',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    const fake = await fakeS3((_req, res) => res.end());
    const b = new S3Backend(createS3Client({ env: { AWS_ENDPOINT_URL_S3: fake.endpoint } }));
    cleanups.push(() => b.client.destroy());
    const error = await failure(b.read(loc));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe('s3://bucket/images/a.png: no AWS credentials found (environment, profile, web identity, container or instance metadata)');
    expect(fake.requests()).toBe(0);
  });

  it('no region anywhere (no endpoint, no AWS_REGION, no profile): ConfigError (exit 2)', async () => {
    withCredentials({ AWS_ACCESS_KEY_ID: 'AKIATEST', AWS_SECRET_ACCESS_KEY: SECRET, AWS_REGION: undefined, AWS_PROFILE: undefined, AWS_CONFIG_FILE: '/nonexistent/heatgate/config' });
    const b = new S3Backend(createS3Client({ env: {} }));
    cleanups.push(() => b.client.destroy());
    const error = await failure(b.read(loc));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe('s3://bucket/images/a.png: no AWS region: set AWS_REGION');
  });

  it('a programming error is not disguised as a storage failure', () => {
    const bug = new TypeError('x is not a function');
    expect(s3Error(bug, loc, 'read')).toBe(bug);
  });
});

describe('AWS_CA_BUNDLE against s3rver over HTTPS', () => {
  const fixtures = join(import.meta.dirname, 'fixtures');
  let server: S3TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('trusts an internal CA from AWS_CA_BUNDLE, and fails without it', async () => {
    server = await startS3Server({
      buckets: ['secure'],
      https: { key: join(fixtures, 'loopback-key.pem'), cert: join(fixtures, 'loopback-cert.pem') },
    });
    expect(server.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    withCredentials({ AWS_ACCESS_KEY_ID: server.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: server.env.AWS_SECRET_ACCESS_KEY });
    const trusted = new S3Backend(createS3Client({ env: { ...server.env, AWS_CA_BUNDLE: join(fixtures, 'loopback-cert.pem') } }));
    cleanups.push(() => trusted.client.destroy());
    await trusted.write(parseLocation('s3://secure/hello.txt'), 'over TLS');
    expect((await trusted.read(parseLocation('s3://secure/hello.txt'))).toString()).toBe('over TLS');

    const untrusted = new S3Backend(createS3Client({ env: server.env, maxAttempts: 1 }));
    cleanups.push(() => untrusted.client.destroy());
    const error = await failure(untrusted.read(parseLocation('s3://secure/hello.txt')));
    expect(error).toBeInstanceOf(InfrastructureError);
    expect(error.message).toContain('SELF_SIGNED_CERT'); // Node's code for an untrusted self-signed certificate
  });
});

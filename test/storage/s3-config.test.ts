import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, EXIT_CODES } from '../../src/errors.ts';
import { createS3Client, s3ClientConfig } from '../../src/storage/s3-client.ts';
import { resolveS3Settings, S3_DEFAULTS } from '../../src/storage/s3-config.ts';

describe('resolveS3Settings', () => {
  it('leaves AWS to the SDK when nothing is set: no endpoint, the SDK region chain, virtual-hosted, SDK checksums', () => {
    expect(resolveS3Settings({ env: {} })).toEqual({
      endpoint: undefined,
      region: undefined,
      forcePathStyle: false,
      caBundle: undefined,
      connectionTimeoutMs: S3_DEFAULTS.connectionTimeoutMs,
      socketTimeoutMs: S3_DEFAULTS.socketTimeoutMs,
      checksumsWhenRequired: false,
    });
    expect(resolveS3Settings({ env: { AWS_REGION: 'eu-west-1' } }).region).toBe('eu-west-1');
  });

  it('prefers AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL, and defaults the region to us-east-1 with an endpoint', () => {
    const both = resolveS3Settings({ env: { AWS_ENDPOINT_URL: 'https://generic.example', AWS_ENDPOINT_URL_S3: 'https://s3.example' } });
    expect(both.endpoint).toBe('https://s3.example');
    expect(both.region).toBe('us-east-1');
    expect(both.checksumsWhenRequired).toBe(true);
    expect(resolveS3Settings({ env: { AWS_ENDPOINT_URL: 'https://generic.example' } }).endpoint).toBe('https://generic.example');
    expect(resolveS3Settings({ env: { AWS_ENDPOINT_URL: 'https://m.example', AWS_REGION: 'eu-central-1' } }).region).toBe('eu-central-1');
  });

  it.each([
    ['http://127.0.0.1:9000', true],
    ['http://[::1]:9000', true],
    ['http://localhost:9000', true],
    ['https://10.1.2.3', true],
    ['https://minio.internal:9000', false],
    ['https://s3.eu-west-1.amazonaws.com', false],
  ])('path-style addressing for %s: %s', (endpoint, pathStyle) => {
    expect(resolveS3Settings({ env: { AWS_ENDPOINT_URL_S3: endpoint } }).forcePathStyle).toBe(pathStyle);
  });

  it('forces path style from HEATGATE_S3_FORCE_PATH_STYLE or the option, the option winning', () => {
    const env = { AWS_ENDPOINT_URL_S3: 'https://minio.internal' };
    expect(resolveS3Settings({ env: { ...env, HEATGATE_S3_FORCE_PATH_STYLE: '1' } }).forcePathStyle).toBe(true);
    expect(resolveS3Settings({ env: { ...env, HEATGATE_S3_FORCE_PATH_STYLE: 'true' } }).forcePathStyle).toBe(true);
    expect(resolveS3Settings({ env: { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1', HEATGATE_S3_FORCE_PATH_STYLE: '0' } }).forcePathStyle).toBe(false);
    expect(resolveS3Settings({ env: { ...env, HEATGATE_S3_FORCE_PATH_STYLE: '1' }, forcePathStyle: false }).forcePathStyle).toBe(false);
    expect(resolveS3Settings({ env, forcePathStyle: true }).forcePathStyle).toBe(true);
  });

  it.each([
    [{ AWS_ENDPOINT_URL_S3: 'minio:9000' }, 'AWS_ENDPOINT_URL_S3: expected an http:// or https:// URL such as http://minio:9000, got "minio:9000"'],
    [{ AWS_ENDPOINT_URL_S3: 'not a url' }, 'AWS_ENDPOINT_URL_S3: expected an http:// or https:// URL such as http://minio:9000, got "not a url"'],
    [{ AWS_ENDPOINT_URL: 'ftp://x' }, 'AWS_ENDPOINT_URL: expected an http:// or https:// URL such as http://minio:9000, got "ftp://x"'],
    [{ HEATGATE_S3_FORCE_PATH_STYLE: 'maybe' }, 'HEATGATE_S3_FORCE_PATH_STYLE: expected 1/true or 0/false, got "maybe"'],
    [{ HEATGATE_S3_CONNECT_TIMEOUT_MS: '-5' }, 'HEATGATE_S3_CONNECT_TIMEOUT_MS: expected a positive number of milliseconds, got "-5"'],
  ])('rejects %j with a ConfigError naming the variable', (env, message) => {
    const error = (() => {
      try {
        resolveS3Settings({ env });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(message);
    expect((error as ConfigError).exitCode).toBe(EXIT_CODES.usage);
  });

  it('refuses credentials in the endpoint URL without echoing them', () => {
    const error = (() => {
      try {
        resolveS3Settings({ env: { AWS_ENDPOINT_URL_S3: 'https://admin:s3cr3t@minio.internal' } });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.message).not.toContain('s3cr3t');
  });

  it('reads timeouts from the environment', () => {
    const s = resolveS3Settings({ env: { HEATGATE_S3_CONNECT_TIMEOUT_MS: '1500', HEATGATE_S3_SOCKET_TIMEOUT_MS: '2500' } });
    expect([s.connectionTimeoutMs, s.socketTimeoutMs]).toEqual([1500, 2500]);
  });
});

describe('s3ClientConfig / createS3Client', () => {
  it('hands endpoint, region, path style and checksum mode to the SDK client', async () => {
    const client = createS3Client({ env: { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000', AWS_REGION: '' }, maxAttempts: 2 });
    try {
      const endpoint = await client.config.endpoint!();
      expect(`${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`).toBe('http://127.0.0.1:9000');
      expect(await client.config.region()).toBe('us-east-1');
      expect(client.config.forcePathStyle).toBe(true);
      expect(await client.config.maxAttempts()).toBe(2);
      expect(await client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
      expect(await client.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
    } finally {
      client.destroy();
    }
  });

  it('keeps an explicit AWS_REQUEST_CHECKSUM_CALCULATION for custom endpoints', () => {
    const env = { AWS_ENDPOINT_URL_S3: 'https://s3.example', AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_SUPPORTED' };
    const config = s3ClientConfig(resolveS3Settings({ env }), { env });
    expect(config.requestChecksumCalculation).toBeUndefined();
    expect(config.responseChecksumValidation).toBe('WHEN_REQUIRED');
  });

  it('adds AWS_CA_BUNDLE to the trusted roots of the HTTPS agent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'heatgate-ca-'));
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    writeFileSync(join(dir, 'ca.pem'), pem);
    const config = s3ClientConfig(resolveS3Settings({ env: { AWS_CA_BUNDLE: join(dir, 'ca.pem') } }));
    const handler = config.requestHandler as { configProvider: Promise<{ httpsAgent: { options: { ca: string[] } } }> };
    const ca = (await handler.configProvider).httpsAgent.options.ca;
    expect(ca).toContain(pem);
    expect(ca.length).toBeGreaterThan(1); // Node's roots stay trusted (AWS itself still works)
  });

  it.each([
    ['missing.pem', 'cannot read CA bundle'],
    ['not-pem.txt', 'holds no PEM certificate'],
  ])('rejects an unusable AWS_CA_BUNDLE (%s) naming the variable', (name, problem) => {
    const dir = mkdtempSync(join(tmpdir(), 'heatgate-ca-'));
    writeFileSync(join(dir, 'not-pem.txt'), 'hello');
    const settings = resolveS3Settings({ env: { AWS_CA_BUNDLE: join(dir, name) } });
    expect(() => s3ClientConfig(settings)).toThrow(ConfigError);
    expect(() => s3ClientConfig(settings)).toThrow(`AWS_CA_BUNDLE: `);
    expect(() => s3ClientConfig(settings)).toThrow(problem);
  });
});

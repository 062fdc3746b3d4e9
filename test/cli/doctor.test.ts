/**
 * `heatgate doctor`: versions, providers, GPU, S3 settings and credentials, with fake credentials in the environment
 * (which it must resolve and never print), and exit 4 when a provider named with --provider is missing.
 */
import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DoctorReport } from '../../src/doctor.ts';
import { s3Settings } from '../../src/doctor.ts';
import { cudaProviderLibrary } from '../../src/onnx/providers.ts';
import { cli } from './helpers.ts';

const require = createRequire(import.meta.url);
const SECRET = 'dOcToRfAkEsEcReT/0123456789abcdefghijKLMN';
const KEY_ID = 'AKIADOCTORFAKE123456';


beforeEach(() => {
  for (const name of ['AWS_PROFILE', 'AWS_ENDPOINT_URL', 'AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_CA_BUNDLE', 'HEATGATE_S3_FORCE_PATH_STYLE', 'AWS_SESSION_TOKEN']) {
    vi.stubEnv(name, undefined);
  }
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  vi.stubEnv('AWS_ACCESS_KEY_ID', KEY_ID);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', SECRET);
  vi.stubEnv('AWS_ENDPOINT_URL_S3', 'http://127.0.0.1:9000');
});
afterEach(() => vi.unstubAllEnvs());

describe('heatgate doctor --json', () => {
  it('reports versions, providers, GPU, S3 settings and resolved credentials without the secret', async () => {
    const r = await cli(['doctor', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.heatgate).toBe(require('../../package.json').version);
    expect(report.node).toBe(process.version);
    expect(report.onnxruntime.version).toBe(require('onnxruntime-node/package.json').version);
    expect(report.providers.find((p) => p.name === 'cpu')).toMatchObject({ bundled: true, status: 'works' });
    const cuda = report.providers.find((p) => p.name === 'cuda');
    expect(cuda?.bundled).toBe(false);
    expect(report.cudaLibrary.present).toBe(cudaProviderLibrary().present);
    if (!report.cudaLibrary.present) expect(cuda).toMatchObject({ status: 'fails', reason: expect.stringContaining('not installed') });
    expect(typeof report.gpu.found).toBe('boolean');
    expect(report.s3).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      endpointFrom: 'AWS_ENDPOINT_URL_S3',
      region: 'us-east-1',
      regionFrom: 'default with a custom endpoint',
      forcePathStyle: true,
      caBundle: null,
    });
    expect(report.credentials).toEqual({ resolved: true, source: 'env_vars', accessKeyIdPrefix: 'AKIA…' });
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stdout + r.stderr).not.toContain(KEY_ID);
  });

  it('text output has the same facts, one per line', async () => {
    const r = await cli(['doctor']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^heatgate \d+\.\d+\.\d+\nnode v\d+/);
    expect(r.stdout).toMatch(/^ {2}cpu +bundled +works$/m);
    expect(r.stdout).toMatch(/^S3 endpoint: http:\/\/127\.0\.0\.1:9000 \(AWS_ENDPOINT_URL_S3\)$/m);
    expect(r.stdout).toMatch(/^AWS credentials: resolved \(env_vars\), access key id AKIA…$/m);
    expect(r.stdout).not.toContain(SECRET);
  });
});

describe('heatgate doctor --provider', () => {
  it('exits 4 with one error line when the named provider is missing; 0 for cpu and auto', async () => {
    expect((await cli(['doctor', '--provider', 'cpu'])).code).toBe(0);
    expect((await cli(['doctor', '--provider', 'auto'])).code).toBe(0);
    const cuda = await cli(['doctor', '--provider', 'cuda']);
    const works = (JSON.parse((await cli(['doctor', '--json'])).stdout) as DoctorReport).providers.find((p) => p.name === 'cuda')!.status === 'works';
    if (works) {
      expect(cuda.code).toBe(0);
    } else {
      expect(cuda.code).toBe(4);
      expect(cuda.stderr).toMatch(/^heatgate: error: execution provider cuda is not available: [^\n]+\n$/);
    }
  });
});

describe('s3Settings', () => {
  it('reports what the storage layer uses: AWS_ENDPOINT_URL without an S3-specific one, us-east-1 with an endpoint (the SDK ignores AWS_DEFAULT_REGION), path-style when asked', () => {
    expect(s3Settings({ AWS_ENDPOINT_URL: 'https://minio.internal', AWS_DEFAULT_REGION: 'eu-west-1', HEATGATE_S3_FORCE_PATH_STYLE: '1', AWS_CA_BUNDLE: '/ca.pem' })).toEqual({
      endpoint: 'https://minio.internal',
      endpointFrom: 'AWS_ENDPOINT_URL',
      region: 'us-east-1',
      regionFrom: 'default with a custom endpoint',
      forcePathStyle: true,
      caBundle: '/ca.pem',
    });
    expect(s3Settings({ AWS_ENDPOINT_URL: 'minio:9000' }).problem).toMatch(/AWS_ENDPOINT_URL: expected an http:\/\/ or https:\/\/ URL/);
    expect(s3Settings({ AWS_REGION: 'us-west-2' })).toMatchObject({ endpoint: null, region: 'us-west-2', regionFrom: 'AWS_REGION', forcePathStyle: false });
    expect(s3Settings({ AWS_ENDPOINT_URL_S3: 'http://localhost:9000', HEATGATE_S3_FORCE_PATH_STYLE: 'false' }).forcePathStyle).toBe(false);
  });
});

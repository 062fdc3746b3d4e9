/**
 * Execution provider selection (src/onnx/session.ts): auto falls back to CPU and says why, an explicit provider that
 * cannot start is exit 4 with one line, bad flag combinations are exit 2. This machine has no CUDA provider library
 * (the npm install skips its download); where one is installed the CUDA expectations flip, checked the same way.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, EXIT_CODES, InfrastructureError } from '../../src/errors.ts';
import { encodeModel } from '../../src/onnx/model.ts';
import { cudaProviderLibrary, ortReason, probeProvider } from '../../src/onnx/providers.ts';
import { openSession } from '../../src/onnx/session.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';

const model = encodeModel(tinyCnn({ size: 8, channels: 2, classes: 3 }).model);
const cuda = cudaProviderLibrary();
const cudaWorks = cuda.present && (await probeProvider('cuda')).ok;

describe('openSession', () => {
  it('cpu is what was asked for', async () => {
    const opened = await openSession(model, 'tiny.onnx', { provider: 'cpu' });
    expect(opened).toMatchObject({ provider: 'cpu', reason: 'requested' });
    await opened.session.release();
  });

  it('auto takes CUDA when its provider loads, else CPU with the reason', async () => {
    const opened = await openSession(model, 'tiny.onnx', { provider: 'auto' });
    if (cudaWorks) {
      expect(opened).toMatchObject({ provider: 'cuda', reason: 'auto: CUDA provider loaded' });
    } else {
      expect(opened.provider).toBe('cpu');
      expect(opened.reason).toMatch(/^auto: CUDA provider not available: \S/);
      if (!cuda.present) expect(opened.reason).toContain('libonnxruntime_providers_cuda.so is not installed');
    }
    await opened.session.release();
  });

  it('an explicit cuda that cannot start is an infrastructure error (exit 4) naming the cause, in one line', async () => {
    if (cudaWorks) return void (await (await openSession(model, 'tiny.onnx', { provider: 'cuda' })).session.release());
    const error = await openSession(model, 'tiny.onnx', { provider: 'cuda' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfrastructureError);
    expect((error as InfrastructureError).exitCode).toBe(EXIT_CODES.infrastructure);
    expect((error as Error).message).toMatch(/^cannot start the CUDA execution provider: /);
    expect((error as Error).message).not.toContain('\n');
  });

  it('an explicit webgpu without an adapter is exit 4 with ONNX Runtime\'s reason, minus its C++ source location', async () => {
    const probe = await probeProvider('webgpu');
    if (probe.ok) return;
    const error = await openSession(model, 'tiny.onnx', { provider: 'webgpu' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfrastructureError);
    expect((error as Error).message).toBe(`cannot start the WebGPU execution provider: ${probe.reason}`);
    expect(probe.reason).not.toMatch(/onnxruntime_src|\.cc:\d+/);
  });

  it('ortReason keeps the reason of a failed ORT check and leaves other messages whole', () => {
    const ort = new Error('/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 void f()::<lambda()> status == Success was false. Failed to get a WebGPU adapter: No supported adapters\n');
    expect(ortReason(ort)).toBe('Failed to get a WebGPU adapter: No supported adapters');
    expect(ortReason(new Error('Failed to load shared library'))).toBe('Failed to load shared library');
  });

  it('rejects --device-id with cpu or webgpu, negative ids and unknown providers (exit 2)', async () => {
    for (const options of [
      { provider: 'cpu' as const, deviceId: 1 },
      { provider: 'webgpu' as const, deviceId: 0 },
      { provider: 'cuda' as const, deviceId: -1 },
      { provider: 'tpu' as 'cpu' },
    ]) {
      const error = await openSession(model, 'tiny.onnx', options).catch((e: unknown) => e);
      expect(error, JSON.stringify(options)).toBeInstanceOf(ConfigError);
    }
  });
});

describe('the CLI on a pipe', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'heatgate-provider-'));
  const example = path.resolve('examples/underpass');
  /** The CLI from the sources in a child process: ONNX Runtime's native logger writes to fd 2, past any spy. */
  const run = (args: string[]) => {
    const script = "const { main } = await import('./src/cli/main.ts'); process.exitCode = await main(process.argv.slice(1));";
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', ...args], { encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, stderr: r.stderr };
  };
  const explain = (provider: string) => [
    'explain', '--model', path.join(example, 'models', 'clean.onnx'), '--images', path.join(example, 'images'),
    '--out', path.join(dir, provider), '--quiet', '--no-overlays', '--provider', provider,
  ];

  it('--provider auto says which provider and why, and ONNX Runtime adds no coloured log lines', () => {
    const r = run(explain('auto'));
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/\x1b/); // eslint-disable-line no-control-regex
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(cudaWorks ? /^heatgate: provider: cuda \(auto: CUDA provider loaded\)$/ : /^heatgate: provider: cpu \(auto: CUDA provider not available: .+\)$/);
    expect(lines.at(-1)).toMatch(/^heatgate: explained 48 images .* on (cpu|cuda) \(auto: /);
    expect(lines).toHaveLength(2);
  });

  it('--provider cuda without a working CUDA provider: exit 4 and exactly one line', () => {
    if (cudaWorks) return;
    const r = run(explain('cuda'));
    expect(r.code).toBe(EXIT_CODES.infrastructure);
    expect(r.stderr).toMatch(/^heatgate: error: cannot start the CUDA execution provider: [^\n]+\n$/);
  });
});

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { redact } from '../redact.ts';
import { toNodeProto, makeValueInfo } from './builder.ts';
import { encodeModel } from './model.ts';
import { DataType, onnx } from './proto.ts';

/** What `--provider` accepts: `auto` takes CUDA when its provider loads, else CPU. */
export const PROVIDER_CHOICES = ['auto', 'cpu', 'cuda', 'webgpu'] as const;
export type ExecutionProvider = (typeof PROVIDER_CHOICES)[number];
export type ConcreteProvider = Exclude<ExecutionProvider, 'auto'>;

const require = createRequire(import.meta.url);

// ONNX Runtime's native logger writes colour-coded lines (ESC[1;31m ... ESC[m) straight to fd 2, past heatgate's log
// format and redaction: the stray escape codes in pipeline logs. Every failure it logs also comes back as an
// exception, which heatgate reports itself (and explainCudaFailure recovers the detail the log had).
ort.env.logLevel = 'fatal';

/** onnxruntime-node's version and the folder holding its native libraries for this platform. */
export function onnxRuntimeInstall(): { version: string; binDir: string } {
  const pkgFile = require.resolve('onnxruntime-node/package.json');
  const version = (require(pkgFile) as { version: string }).version;
  return { version, binDir: path.join(path.dirname(pkgFile), 'bin', 'napi-v6', process.platform, process.arch) };
}

/** The CUDA provider's shared library. Not in the npm package: its install script fetches it (the cuda image does). */
export function cudaProviderLibrary(): { file: string; present: boolean } {
  const name = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  const file = path.join(onnxRuntimeInstall().binDir, name);
  return { file, present: existsSync(file) };
}

/** The execution providers this onnxruntime-node build knows, and whether each ships inside the npm package. */
export function supportedBackends(): { name: string; bundled: boolean }[] {
  return ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
}

/**
 * Why the CUDA provider did not load, in one line. ONNX Runtime's own exception says only "Failed to load shared
 * library" (the detail goes to its native log, which heatgate silences), so this looks for the library and, when it
 * is there, asks the dynamic loader, whose message names the missing dependency (e.g. libcudnn.so.9).
 */
export function explainCudaFailure(ortError: unknown): string {
  const ortMessage = oneLine(ortError instanceof Error ? ortError.message : String(ortError));
  const lib = cudaProviderLibrary();
  if (!lib.present) {
    return `${path.basename(lib.file)} is not installed (onnxruntime-node's CUDA download was skipped; the cuda image has it)`;
  }
  const loader = dlopenError(lib.file);
  return loader ? `${ortMessage}: ${loader}` : ortMessage;
}

/** The dynamic loader's error for a shared library, or undefined when it loads. */
function dlopenError(file: string): string | undefined {
  try {
    process.dlopen({ exports: {} } as NodeJS.Module, file);
    return undefined;
  } catch (error) {
    const message = oneLine((error as Error).message);
    // It loaded: it is a plain shared library, not a Node addon.
    return /did not self-register|Module did not|napi_register/i.test(message) ? undefined : message;
  }
}

let probeModel: Uint8Array | undefined;

/** A one-node model (Relu on 1x4 floats) for checking that a provider can run anything at all. */
export function tinyProbeModel(): Uint8Array {
  probeModel ??= encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'heatgate-doctor',
    graph: onnx.GraphProto.create({
      name: 'probe',
      node: [toNodeProto({ opType: 'Relu', inputs: ['x'], outputs: ['y'] })],
      input: [makeValueInfo('x', DataType.FLOAT, [1, 4])],
      output: [makeValueInfo('y', DataType.FLOAT, [1, 4])],
    }),
  });
  return probeModel;
}

/** Creates and runs a session on the probe model with one provider; the error message when it cannot. */
export async function probeProvider(provider: ConcreteProvider, deviceId?: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const session = await ort.InferenceSession.create(tinyProbeModel(), {
      executionProviders: [providerOption(provider, deviceId)],
      logSeverityLevel: 3,
    });
    try {
      await session.run({ x: new ort.Tensor('float32', Float32Array.from([-1, 0, 1, 2]), [1, 4]) });
    } finally {
      await session.release();
    }
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: provider === 'cuda' ? explainCudaFailure(error) : ortReason(error) };
  }
}

export function providerOption(provider: ConcreteProvider, deviceId?: number): ort.InferenceSession.ExecutionProviderConfig {
  return provider === 'cuda' && deviceId !== undefined ? { name: 'cuda', deviceId } : provider;
}

/**
 * ONNX Runtime's exception text in one line, without the C++ source location and failed-check prefix it puts before
 * the reason ("/onnxruntime_src/...cc:136 <signature> <check> was false. Failed to get a WebGPU adapter: ...").
 */
export function ortReason(error: unknown): string {
  const text = oneLine(error instanceof Error ? error.message : String(error));
  const located = /^\S+\.(?:cc|cpp|h):\d+ .* was false\. (.+)$/.exec(text);
  return located ? located[1] : text;
}

function oneLine(text: string): string {
  return redact(text.replace(/\s*\n\s*/g, ' ').trim());
}

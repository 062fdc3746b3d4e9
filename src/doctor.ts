import { execFile } from 'node:child_process';
import { tool } from './gate/verdict.ts';
import {
  cudaProviderLibrary,
  onnxRuntimeInstall,
  probeProvider,
  supportedBackends,
  type ConcreteProvider,
  type ExecutionProvider,
} from './onnx/providers.ts';
import { errorText } from './redact.ts';
import { resolveS3Settings } from './storage/s3-config.ts';

/** `heatgate doctor`: what this install can run on and where it would read and write. Never prints a secret. */
export interface DoctorReport {
  heatgate: string;
  node: string;
  platform: string;
  onnxruntime: { version: string; binDir: string };
  providers: ProviderStatus[];
  cudaLibrary: { file: string; present: boolean };
  gpu: { found: boolean; devices: string[]; note?: string };
  s3: S3Settings;
  credentials: CredentialStatus;
}

export interface ProviderStatus {
  name: string;
  /** Ships inside the npm package (else a separate download, like the CUDA provider). */
  bundled: boolean;
  /** 'works' after a session ran a one-node model on it; 'fails' with the reason; 'not probed' otherwise. */
  status: 'works' | 'fails' | 'not probed';
  reason?: string;
}

export interface S3Settings {
  endpoint: string | null;
  endpointFrom: string | null;
  region: string | null;
  regionFrom: string | null;
  forcePathStyle: boolean;
  caBundle: string | null;
  /** Why the storage layer would refuse these settings (exit 2 on first use of s3://). */
  problem?: string;
}

export type CredentialStatus =
  | { resolved: true; source: string; accessKeyIdPrefix: string; expires?: string }
  | { resolved: false; reason: string };

export interface DoctorOptions {
  /** A provider the user wants checked (webgpu and tensorrt are probed only when named). */
  provider?: ExecutionProvider;
  deviceId?: number;
  /** For the S3 settings (default process.env); the SDK's credential chain always reads process.env. */
  env?: NodeJS.ProcessEnv;
  /** Seconds for nvidia-smi and for the credential chain. */
  timeoutSeconds?: number;
}

export async function doctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const env = options.env ?? process.env;
  const timeoutMs = (options.timeoutSeconds ?? 5) * 1000;
  const cudaLibrary = cudaProviderLibrary();
  const wanted = options.provider === 'auto' ? 'cuda' : options.provider;
  const providers: ProviderStatus[] = [];
  for (const backend of supportedBackends()) {
    // CPU and CUDA always (the question doctor is run for; without its library CUDA fails at once); others when named.
    const probe = backend.name === 'cpu' || backend.name === 'cuda' || backend.name === wanted;
    if (!probe) {
      providers.push({ ...backend, status: 'not probed' });
      continue;
    }
    const result = await probeProvider(backend.name as ConcreteProvider, backend.name === 'cuda' ? options.deviceId : undefined);
    providers.push({ ...backend, status: result.ok ? 'works' : 'fails', ...(!result.ok && { reason: result.reason }) });
  }
  const [gpu, credentials] = await Promise.all([nvidiaSmi(timeoutMs), resolveCredentials(env, timeoutMs)]);
  return {
    heatgate: tool().version,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    onnxruntime: onnxRuntimeInstall(),
    providers,
    cudaLibrary,
    gpu,
    s3: s3Settings(env),
    credentials,
  };
}

/** The provider `--provider` asked for is missing or fails: the reason, else undefined. */
export function missingProvider(report: DoctorReport, provider: ExecutionProvider | undefined): string | undefined {
  if (!provider || provider === 'auto') return undefined;
  const status = report.providers.find((p) => p.name === provider);
  if (!status) return `this onnxruntime-node build has no ${provider} execution provider`;
  return status.status === 'works' ? undefined : (status.reason ?? `${provider} was not probed`);
}

function nvidiaSmi(timeoutMs: number): Promise<DoctorReport['gpu']> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'],
      { timeout: timeoutMs, encoding: 'utf8' },
      (error, stdout) => {
        if (error) {
          const code = (error as NodeJS.ErrnoException).code;
          const note = code === 'ENOENT' ? 'nvidia-smi not found (no NVIDIA driver visible)' : `nvidia-smi failed: ${errorText(error)}`;
          resolve({ found: false, devices: [], note });
          return;
        }
        const devices = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
        resolve({ found: devices.length > 0, devices });
      },
    );
  });
}

/**
 * The S3 settings heatgate's storage layer will use (src/storage/s3-config.ts decides; this only says where each
 * value came from). A variable the storage layer refuses (a bad endpoint URL, a bad flag value) is the `problem`.
 */
export function s3Settings(env: NodeJS.ProcessEnv): S3Settings {
  const endpointFrom = env.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : env.AWS_ENDPOINT_URL ? 'AWS_ENDPOINT_URL' : null;
  let settings: ReturnType<typeof resolveS3Settings>;
  try {
    settings = resolveS3Settings({ env });
  } catch (error) {
    return { endpoint: null, endpointFrom, region: null, regionFrom: null, forcePathStyle: false, caBundle: null, problem: errorText(error) };
  }
  const regionFrom = env.AWS_REGION ? 'AWS_REGION' : settings.region ? 'default with a custom endpoint' : null;
  return {
    endpoint: settings.endpoint ?? null,
    endpointFrom,
    region: settings.region ?? null,
    regionFrom,
    forcePathStyle: settings.forcePathStyle,
    caBundle: settings.caBundle ?? null,
  };
}

/** Resolves credentials through the S3 client's default chain (env, profile, web identity, container, IMDS). */
async function resolveCredentials(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CredentialStatus> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const { S3Client } = await import('@aws-sdk/client-s3');
    const client = new S3Client({ region: s3Settings(env).region ?? 'us-east-1', maxAttempts: 1 });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      timer.unref();
    });
    const credentials = await Promise.race([client.config.credentials(), timeout]);
    client.destroy();
    const source = Object.keys((credentials as { $source?: Record<string, string> }).$source ?? {})
      .map((k) => k.replace(/^CREDENTIALS_/, '').toLowerCase())
      .join(', ');
    return {
      resolved: true,
      source: source || 'default chain',
      // AKIA… long-term keys, ASIA… temporary ones: the prefix says which without saying whose.
      accessKeyIdPrefix: `${credentials.accessKeyId.slice(0, 4)}…`,
      ...(credentials.expiration && { expires: credentials.expiration.toISOString() }),
    };
  } catch (error) {
    return { resolved: false, reason: errorText(error) };
  } finally {
    clearTimeout(timer);
  }
}

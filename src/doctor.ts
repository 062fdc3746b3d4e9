import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
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
 * The S3 settings heatgate's storage layer takes from the standard AWS environment: endpoint
 * (AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL), region (AWS_REGION, else AWS_DEFAULT_REGION; us-east-1 when an
 * endpoint is set without one), path-style addressing (HEATGATE_S3_FORCE_PATH_STYLE, or an IP/localhost endpoint),
 * AWS_CA_BUNDLE.
 */
export function s3Settings(env: NodeJS.ProcessEnv): S3Settings {
  const endpointFrom = env.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : env.AWS_ENDPOINT_URL ? 'AWS_ENDPOINT_URL' : null;
  const endpoint = endpointFrom ? env[endpointFrom]! : null;
  let regionFrom: string | null = env.AWS_REGION ? 'AWS_REGION' : env.AWS_DEFAULT_REGION ? 'AWS_DEFAULT_REGION' : null;
  let region = regionFrom ? env[regionFrom]! : null;
  if (!region && endpoint) [region, regionFrom] = ['us-east-1', 'default with a custom endpoint'];
  let host = '';
  try {
    host = endpoint ? new URL(endpoint).hostname.replace(/^\[|\]$/g, '') : '';
  } catch {
    host = '';
  }
  const flag = env.HEATGATE_S3_FORCE_PATH_STYLE;
  const forcePathStyle = flag !== undefined && flag !== '' ? /^(1|true|yes)$/i.test(flag) : host === 'localhost' || isIP(host) !== 0;
  return { endpoint, endpointFrom, region, regionFrom, forcePathStyle, caBundle: env.AWS_CA_BUNDLE || null };
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

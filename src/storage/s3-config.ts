import { isIP } from 'node:net';
import { ConfigError } from '../errors.ts';

/** What the caller (the CLI) can decide beyond the environment. */
export interface S3ClientOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** `--s3-force-path-style`; overrides HEATGATE_S3_FORCE_PATH_STYLE. */
  forcePathStyle?: boolean;
  /** Overrides AWS_MAX_ATTEMPTS (tests; the SDK reads the variable itself otherwise). */
  maxAttempts?: number;
}

/** The decisions createS3Client makes, as plain data (tested without a network). */
export interface S3Settings {
  /** From AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL; undefined = AWS's own endpoints. */
  endpoint?: string;
  /** From AWS_REGION; 'us-east-1' when an endpoint is set without a region; undefined = the SDK's chain (profile). */
  region?: string;
  forcePathStyle: boolean;
  /** AWS_CA_BUNDLE: a PEM file trusted in addition to Node's root certificates. */
  caBundle?: string;
  connectionTimeoutMs: number;
  /** A socket idle this long is abandoned (then the SDK retries). */
  socketTimeoutMs: number;
  /**
   * Send and check CRC checksums only where S3 requires them. On for custom endpoints: MinIO, Ceph and other
   * S3-compatible stores predating AWS's 2025 default reject or mangle the new checksum headers.
   */
  checksumsWhenRequired: boolean;
}

export const S3_DEFAULTS = { connectionTimeoutMs: 10_000, socketTimeoutMs: 60_000 } as const;

/**
 * Reads the standard AWS environment (plus heatgate's own variables) into settings. Credentials are not read
 * here: the SDK's default chain finds them (environment, shared config/profile, web identity/IRSA, container and
 * instance metadata). Retries are the SDK's too (AWS_RETRY_MODE standard|adaptive, AWS_MAX_ATTEMPTS).
 * @throws ConfigError naming the variable for a malformed endpoint, path-style flag or timeout
 */
export function resolveS3Settings(options: S3ClientOptions = {}): S3Settings {
  const env = options.env ?? process.env;
  const endpointVar = env.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : env.AWS_ENDPOINT_URL ? 'AWS_ENDPOINT_URL' : undefined;
  let endpoint: string | undefined;
  let host: string | undefined;
  if (endpointVar) {
    const raw = env[endpointVar]!;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ConfigError(`expected an http:// or https:// URL such as http://minio:9000, got ${JSON.stringify(raw)}`, endpointVar);
    }
    // Never echo a value that holds a secret.
    if (url.username || url.password) throw new ConfigError('credentials in the endpoint URL are not supported; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY', endpointVar);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigError(`expected an http:// or https:// URL such as http://minio:9000, got ${JSON.stringify(raw)}`, endpointVar);
    }
    endpoint = raw;
    host = url.hostname.replace(/^\[|\]$/g, '');
  }
  const region = env.AWS_REGION || (endpoint ? 'us-east-1' : undefined);
  const pathStyleFromEnv = parseBoolean(env.HEATGATE_S3_FORCE_PATH_STYLE, 'HEATGATE_S3_FORCE_PATH_STYLE');
  // Virtual-hosted addressing puts the bucket in the host name, which an IP address or localhost cannot take.
  const hostNeedsPathStyle = host !== undefined && (isIP(host) !== 0 || host === 'localhost');
  const forcePathStyle = options.forcePathStyle ?? pathStyleFromEnv ?? hostNeedsPathStyle;
  return {
    endpoint,
    region,
    forcePathStyle,
    caBundle: env.AWS_CA_BUNDLE || undefined,
    connectionTimeoutMs: parseMillis(env.HEATGATE_S3_CONNECT_TIMEOUT_MS, 'HEATGATE_S3_CONNECT_TIMEOUT_MS') ?? S3_DEFAULTS.connectionTimeoutMs,
    socketTimeoutMs: parseMillis(env.HEATGATE_S3_SOCKET_TIMEOUT_MS, 'HEATGATE_S3_SOCKET_TIMEOUT_MS') ?? S3_DEFAULTS.socketTimeoutMs,
    checksumsWhenRequired: endpoint !== undefined,
  };
}

function parseBoolean(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (['1', 'true', 'yes'].includes(value.toLowerCase())) return true;
  if (['0', 'false', 'no'].includes(value.toLowerCase())) return false;
  throw new ConfigError(`expected 1/true or 0/false, got ${JSON.stringify(value)}`, name);
}

function parseMillis(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms <= 0) throw new ConfigError(`expected a positive number of milliseconds, got ${JSON.stringify(value)}`, name);
  return ms;
}

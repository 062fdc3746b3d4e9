import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ConfigError } from '../errors.ts';
import { resolveS3Settings, type S3ClientOptions, type S3Settings } from './s3-config.ts';

// The AWS SDK side of the S3 settings (s3-config.ts reads the environment without loading the SDK): imported only
// when a run touches an s3:// location (storage.ts).

/** The SDK client config for settings; reads the CA bundle. @throws ConfigError when AWS_CA_BUNDLE cannot be read */
export function s3ClientConfig(settings: S3Settings, options: S3ClientOptions = {}): S3ClientConfig {
  let ca: string[] | undefined;
  if (settings.caBundle) {
    let pem: string;
    try {
      pem = readFileSync(settings.caBundle, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read CA bundle ${settings.caBundle} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'AWS_CA_BUNDLE');
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`${settings.caBundle} holds no PEM certificate`, 'AWS_CA_BUNDLE');
    ca = [...rootCertificates, pem];
  }
  const config: S3ClientConfig = {
    requestHandler: new NodeHttpHandler({
      connectionTimeout: settings.connectionTimeoutMs,
      socketTimeout: settings.socketTimeoutMs,
      ...(ca ? { httpsAgent: new HttpsAgent({ keepAlive: true, ca }) } : {}),
    }),
    forcePathStyle: settings.forcePathStyle,
    // A bucket in another region than the configured one answers 301; follow it instead of failing.
    followRegionRedirects: true,
  };
  if (settings.endpoint) config.endpoint = settings.endpoint;
  if (settings.region) config.region = settings.region;
  if (options.maxAttempts !== undefined) config.maxAttempts = options.maxAttempts;
  if (settings.checksumsWhenRequired) {
    const env = options.env ?? process.env;
    // An explicit AWS_* setting wins (the SDK reads those variables when the option is absent).
    if (!env.AWS_REQUEST_CHECKSUM_CALCULATION) config.requestChecksumCalculation = 'WHEN_REQUIRED';
    if (!env.AWS_RESPONSE_CHECKSUM_VALIDATION) config.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  return config;
}

/** The one place heatgate builds an S3 client. */
export function createS3Client(options: S3ClientOptions = {}): S3Client {
  return new S3Client(s3ClientConfig(resolveS3Settings(options), options));
}

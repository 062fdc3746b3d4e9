import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

/**
 * A real S3 server (s3rver) on 127.0.0.1 with a random port and a temp directory, for tests.
 *
 * It runs in a child process because s3rver's ListObjectsV2 continuation tokens use DES, which Node 20's
 * OpenSSL 3 only offers with --openssl-legacy-provider; the test process itself stays on the default provider.
 * s3rver accepts the access key S3RVER with secret S3RVER and rejects other access keys (InvalidAccessKeyId, 403).
 */
export interface S3TestServer {
  endpoint: string;
  port: number;
  /** Where s3rver keeps the objects (removed by stop()). */
  directory: string;
  /** The standard AWS variables that point heatgate at this server (endpoint, region, credentials). */
  env: Record<string, string>;
  /** A client with the right endpoint and credentials, for arranging and checking objects in tests. */
  client(): S3Client;
  createBucket(name: string): Promise<void>;
  /** Sets `env` on process.env; returns a function that restores the previous values. */
  applyEnv(): () => void;
  stop(): Promise<void>;
}

const CHILD = `
const S3rver = require(process.argv[1]);
const tls = JSON.parse(process.argv[4]);
const fs = require('node:fs');
const server = new S3rver({ address: '127.0.0.1', port: 0, directory: process.argv[2], silent: true,
  configureBuckets: JSON.parse(process.argv[3]).map((name) => ({ name })),
  ...(tls ? { key: fs.readFileSync(tls.key), cert: fs.readFileSync(tls.cert) } : {}) });
server.run().then((address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'),
  (error) => { process.stderr.write(String(error) + '\\n'); process.exit(1); });
process.on('SIGTERM', () => server.close().finally(() => process.exit(0)));
`;

export interface S3TestServerOptions {
  /** Buckets that exist from the start. */
  buckets?: string[];
  /** Serve HTTPS with this PEM key and certificate (files). */
  https?: { key: string; cert: string };
}

export async function startS3Server(options: S3TestServerOptions = {}): Promise<S3TestServer> {
  const directory = mkdtempSync(join(tmpdir(), 'heatgate-s3rver-'));
  const s3rverPath = createRequire(import.meta.url).resolve('s3rver');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD, s3rverPath, directory, JSON.stringify(options.buckets ?? []), JSON.stringify(options.https ?? null)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}): ${stderr}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
  const endpoint = `${options.https ? 'https' : 'http'}://127.0.0.1:${port}`;
  const env = {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  };
  let client: S3Client | undefined;
  const makeClient = () =>
    (client ??= new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    }));
  return {
    endpoint,
    port,
    directory,
    env,
    client: makeClient,
    async createBucket(name) {
      await makeClient().send(new CreateBucketCommand({ Bucket: name }));
    },
    applyEnv() {
      const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
      Object.assign(process.env, env);
      return () => {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      };
    },
    async stop() {
      client?.destroy();
      await stopChild(child);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

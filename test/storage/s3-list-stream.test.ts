import { ListObjectsV2Command, S3Client, type ListObjectsV2CommandInput, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { fetchAhead } from '../../src/storage/fetch-ahead.ts';
import { joinLocation, parseLocation } from '../../src/storage/location.ts';
import { S3Backend } from '../../src/storage/s3.ts';

const TOTAL = 100_000;
const keyOf = (i: number) => `big/${String(i).padStart(6, '0')}.jpg`;

/**
 * A real S3Client whose `send` answers ListObjectsV2 from a generated key space of 100,000 keys (no server, no
 * objects), recording which pages were served, so a test can see how far the listing runs ahead of its consumer.
 */
function fakeListingClient() {
  const client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const served: number[] = [];
  client.send = (async (command: unknown) => {
    if (!(command instanceof ListObjectsV2Command)) throw new Error('unexpected command');
    const input = command.input as ListObjectsV2CommandInput;
    const start = input.ContinuationToken ? Number(input.ContinuationToken) : 0;
    const end = Math.min(TOTAL, start + (input.MaxKeys ?? 1000));
    served.push(start);
    const Contents = Array.from({ length: end - start }, (_, k) => ({ Key: keyOf(start + k), Size: 1 }));
    return {
      Contents,
      KeyCount: Contents.length,
      IsTruncated: end < TOTAL,
      NextContinuationToken: end < TOTAL ? String(end) : undefined,
      $metadata: {},
    } satisfies ListObjectsV2CommandOutput;
  }) as S3Client['send'];
  return { client, served };
}

describe('S3 listing of 100,000 keys streams page by page', () => {
  it('never asks for a page before the previous one is consumed', async () => {
    const { client, served } = fakeListingClient();
    const s3 = new S3Backend(client, { pageSize: 1000 });
    let consumed = 0;
    let maxPagesAhead = 0;
    for await (const rel of s3.list(parseLocation('s3://bucket/big'))) {
      if (rel !== keyOf(consumed).slice('big/'.length)) throw new Error(`out of order at ${consumed}: ${rel}`);
      consumed++;
      // Pages served so far cover at most the page being consumed.
      maxPagesAhead = Math.max(maxPagesAhead, served.length - Math.ceil(consumed / 1000));
    }
    expect(consumed).toBe(TOTAL);
    expect(served).toHaveLength(100);
    expect(maxPagesAhead).toBe(0);
  });

  it('feeding fetchAhead, keys are pulled only as far as the fetch window plus one page', async () => {
    const { client, served } = fakeListingClient();
    const s3 = new S3Backend(client, { pageSize: 1000 });
    const root = parseLocation('s3://bucket/big');
    let fetched = 0;
    let yielded = 0;
    for await (const name of fetchAhead(s3.list(root), async (rel) => (fetched++, joinLocation(root, rel)), { concurrency: 8, maxAhead: 16 })) {
      yielded++;
      expect(fetched - yielded).toBeLessThanOrEqual(16);
      expect(served.length).toBeLessThanOrEqual(Math.ceil((yielded + 16) / 1000) + 1);
      if (name.scheme === 's3' && name.key === keyOf(2500)) break; // the consumer stops early
    }
    expect(served).toHaveLength(3);
    expect(fetched).toBeLessThanOrEqual(2501 + 16);
  });
});

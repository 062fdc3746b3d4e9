import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { joinLocation, parseLocation, type Location } from '../../src/storage/location.ts';
import type { OutputTarget } from '../../src/storage/output.ts';
import { LocalBackend } from '../../src/storage/local.ts';
import { PartsOutputTarget } from '../../src/storage/output-parts.ts';
import { createS3Client } from '../../src/storage/s3-client.ts';
import { Storage } from '../../src/storage/storage.ts';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.ts';

const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};
const line = (image: string) => JSON.stringify({ image, predicted: 1 });
const text = async (storage: Storage, loc: Location) => (await storage.read(loc)).toString();

describe('local output target: append in place', () => {
  const storage = new Storage();
  const tmp = () => mkdtempSync(join(tmpdir(), 'heatgate-outtarget-'));

  it('appends batches, resumes from them, writes whole files, removes the stale verdict on open', async () => {
    const dir = tmp();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'verdict.json'), '{"verdict":"pass"}'); // from an earlier run
    const first = await storage.openOutput(parseLocation(dir), { resume: false });
    expect(existsSync(join(dir, 'verdict.json'))).toBe(false);
    await first.appendResults([line('a.png'), line('b.png')]);
    await first.appendResults([line('c.png')]);
    await first.close(); // interrupted: no finalize
    expect(readFileSync(join(dir, 'results.jsonl'), 'utf8')).toBe(`${line('a.png')}\n${line('b.png')}\n${line('c.png')}\n`);

    const second = await storage.openOutput(parseLocation(dir), { resume: true });
    expect(await collect(second.readResults())).toEqual([line('a.png'), line('b.png'), line('c.png')]);
    await second.appendResults([line('d.png')]);
    await second.writeFile('overlays/sub/d.png.png', Buffer.from([1, 2, 3]));
    await second.finalize();
    await second.writeFile('verdict.json', '{"verdict":"fail"}');
    await second.close();
    expect(readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n')).toHaveLength(4);
    expect([...readFileSync(join(dir, 'overlays/sub/d.png.png'))]).toEqual([1, 2, 3]);
  });

  it('on resume refuses a damaged line before the last one: an InputError naming the line, nothing cut', async () => {
    const dir = tmp();
    const damaged = `${line('a.png')}\n{"image": "b.png", garbage\n${line('c.png')}\n`;
    writeFileSync(join(dir, 'results.jsonl'), damaged);
    const error = await storage.openOutput(parseLocation(dir), { resume: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(new RegExp(`^${join(dir, 'results.jsonl')}: line 2: not valid JSON`));
    expect(readFileSync(join(dir, 'results.jsonl'), 'utf8')).toBe(damaged);
    // A bad last line that still ends in a newline was written whole: damage too, not a torn write.
    writeFileSync(join(dir, 'results.jsonl'), `${line('a.png')}\n{"image"\n`);
    await expect(storage.openOutput(parseLocation(dir), { resume: true })).rejects.toThrow(/line 2: not valid JSON/);
  });

  it('on resume cuts a torn last line and repairs a lost newline', async () => {
    const torn = tmp();
    writeFileSync(join(torn, 'results.jsonl'), `${line('a.png')}\n{"image":"b.p`);
    const t = await storage.openOutput(parseLocation(torn), { resume: true });
    expect(await collect(t.readResults())).toEqual([line('a.png')]);
    await t.appendResults([line('b.png')]);
    await t.close();
    expect(readFileSync(join(torn, 'results.jsonl'), 'utf8')).toBe(`${line('a.png')}\n${line('b.png')}\n`);

    const glued = tmp();
    writeFileSync(join(glued, 'results.jsonl'), `${line('a.png')}\n${line('b.png')}`);
    const g = await storage.openOutput(parseLocation(glued), { resume: true });
    expect(await collect(g.readResults())).toEqual([line('a.png'), line('b.png')]);
    await g.appendResults([line('c.png')]);
    await g.close();
    expect(readFileSync(join(glued, 'results.jsonl'), 'utf8')).toBe(`${line('a.png')}\n${line('b.png')}\n${line('c.png')}\n`);
  });

  it('starts over without --resume', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'results.jsonl'), `${line('old.png')}\n`);
    const t = await storage.openOutput(parseLocation(dir), { resume: false });
    expect(await collect(t.readResults())).toEqual([]);
    await t.appendResults([line('new.png')]);
    await t.close();
    expect(readFileSync(join(dir, 'results.jsonl'), 'utf8')).toBe(`${line('new.png')}\n`);
  });

  it('a writer without results (heatgate gate) leaves results.jsonl alone', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'results.jsonl'), `${line('a.png')}\n`);
    writeFileSync(join(dir, 'verdict.json'), '{}');
    const t = await storage.openOutput(parseLocation(dir), { resume: false, writesResults: false });
    expect(existsSync(join(dir, 'verdict.json'))).toBe(false);
    await expect(t.appendResults([line('b.png')])).rejects.toThrow('writesResults: false');
    await t.writeFile('verdict.json', '{"verdict":"pass"}');
    await t.finalize();
    await t.close();
    expect(readFileSync(join(dir, 'results.jsonl'), 'utf8')).toBe(`${line('a.png')}\n`);
  });

  it('refuses a line with a newline (it would split one record in two)', async () => {
    const t = await storage.openOutput(parseLocation(tmp()), { resume: false });
    await expect(t.appendResults(['{"a":\n1}'])).rejects.toThrow('a results line contains a newline');
    await t.close();
  });
});

describe('parts output target over any backend: a fresh run cut off while discarding the old one', () => {
  it('leaves nothing of the old run for a later --resume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'heatgate-parts-'));
    const out = parseLocation(dir);
    const local = new LocalBackend();
    const old = await PartsOutputTarget.open(local, out, { resume: false });
    for (const image of ['o1.png', 'o2.png', 'o3.png', 'o4.png', 'o5.png']) await old.appendResults([line(image)]);
    // The fresh run's process dies after removing two of the five old parts.
    let removals = 0;
    const dying = Object.create(local) as LocalBackend;
    dying.remove = async (loc) => {
      if (++removals > 2) throw new Error('killed');
      return local.remove(loc);
    };
    await expect(PartsOutputTarget.open(dying, out, { resume: false })).rejects.toThrow('killed');
    const resumed = await PartsOutputTarget.open(local, out, { resume: true });
    expect(await collect(resumed.readResults())).toEqual([]);
  });
});

describe('S3 output target: one part object per flush', () => {
  let server: S3TestServer;
  let client: S3Client;
  let restoreEnv: () => void;
  let storage: Storage;
  let n = 0;
  const freshOut = () => parseLocation(`s3://out/run-${++n}`);
  const keys = async (root: Location) => collect(storage.list(root, { includeHidden: true }));

  beforeAll(async () => {
    server = await startS3Server({ buckets: ['out'] });
    restoreEnv = server.applyEnv();
    client = createS3Client({ env: server.env });
    storage = new Storage({ s3: { client, pageSize: 3 } });
  });
  afterAll(async () => {
    client?.destroy();
    restoreEnv?.();
    await server?.stop();
  });

  async function interruptedRun(out: Location, batches: string[][]): Promise<OutputTarget> {
    const t = await storage.openOutput(out, { resume: false });
    for (const batch of batches) await t.appendResults(batch.map(line));
    return t; // the process dies here: no finalize
  }

  it('resumes an interrupted writer from its parts, in order, and assembles results.jsonl at the end', async () => {
    const out = freshOut();
    const batches = Array.from({ length: 5 }, (_, b) => [`b${b}-1.png`, `b${b}-2.png`]);
    await interruptedRun(out, batches);
    expect(await keys(out)).toEqual(['results.parts/00000001.jsonl', 'results.parts/00000002.jsonl', 'results.parts/00000003.jsonl', 'results.parts/00000004.jsonl', 'results.parts/00000005.jsonl']);

    const resumed = await storage.openOutput(out, { resume: true });
    expect(await collect(resumed.readResults())).toEqual(batches.flat().map(line));
    await resumed.appendResults([line('late.png')]);
    await resumed.writeFile('overlays/late.png.png', Buffer.from([9]));
    await resumed.finalize();
    await resumed.writeFile('verdict.json', '{"verdict":"pass"}');
    await resumed.close();

    expect(await text(storage, joinLocation(out, 'results.jsonl'))).toBe([...batches.flat(), 'late.png'].map((i) => `${line(i)}\n`).join(''));
    expect(await keys(out)).toEqual(['overlays/late.png.png', 'results.jsonl', 'verdict.json']);
  });

  it('resumes a finished run: results.jsonl becomes part 0, the stale verdict goes first', async () => {
    const out = freshOut();
    const t = await interruptedRun(out, [['a.png', 'b.png']]);
    await t.finalize();
    await t.writeFile('verdict.json', '{}');

    const again = await storage.openOutput(out, { resume: true });
    expect(await storage.stat(joinLocation(out, 'verdict.json'))).toBeUndefined();
    expect(await keys(out)).toEqual(['results.parts/00000000.jsonl']);
    expect(await collect(again.readResults())).toEqual([line('a.png'), line('b.png')]);
    await again.appendResults([line('c.png')]);
    // Interrupted again, then resumed once more: nothing lost, nothing twice.
    const third = await storage.openOutput(out, { resume: true });
    expect(await collect(third.readResults())).toEqual([line('a.png'), line('b.png'), line('c.png')]);
    await third.finalize();
    expect(await text(storage, joinLocation(out, 'results.jsonl'))).toBe(`${line('a.png')}\n${line('b.png')}\n${line('c.png')}\n`);
  });

  it('a finalize cut off after writing results.jsonl leaves no duplicates on resume', async () => {
    const out = freshOut();
    await interruptedRun(out, [['a.png'], ['b.png'], ['c.png']]);
    // The crash: results.jsonl assembled, but only part 2 removed.
    await storage.write(joinLocation(out, 'results.jsonl'), `${line('a.png')}\n${line('b.png')}\n${line('c.png')}\n`);
    await storage.remove(joinLocation(out, 'results.parts/00000002.jsonl'));

    const resumed = await storage.openOutput(out, { resume: true });
    expect(await collect(resumed.readResults())).toEqual([line('a.png'), line('b.png'), line('c.png')]);
    await resumed.appendResults([line('d.png')]);
    await resumed.finalize();
    expect((await text(storage, joinLocation(out, 'results.jsonl'))).trim().split('\n')).toEqual(['a.png', 'b.png', 'c.png', 'd.png'].map(line));
  });

  it('without --resume, old parts and results are cleared', async () => {
    const out = freshOut();
    await interruptedRun(out, [['old-1.png'], ['old-2.png']]);
    await storage.write(joinLocation(out, 'results.jsonl'), `${line('older.png')}\n`);
    const fresh = await storage.openOutput(out, { resume: false });
    expect(await keys(out)).toEqual([]);
    expect(await collect(fresh.readResults())).toEqual([]);
    await fresh.appendResults([line('new.png')]);
    await fresh.finalize();
    expect(await text(storage, joinLocation(out, 'results.jsonl'))).toBe(`${line('new.png')}\n`);
  });

  it('numbers parts in call order even when appends are not awaited one by one', async () => {
    const out = freshOut();
    const t = await storage.openOutput(out, { resume: false });
    await Promise.all(Array.from({ length: 12 }, (_, i) => t.appendResults([line(`i${i}.png`)])));
    const resumed = await storage.openOutput(out, { resume: true });
    expect(await collect(resumed.readResults())).toEqual(Array.from({ length: 12 }, (_, i) => line(`i${i}.png`)));
  });

  it('a writer without results (heatgate gate) leaves results.jsonl and parts alone', async () => {
    const out = freshOut();
    const t = await interruptedRun(out, [['a.png']]);
    await t.finalize();
    await storage.write(joinLocation(out, 'results.parts/00000007.jsonl'), `${line('x.png')}\n`);
    const gate = await storage.openOutput(out, { resume: false, writesResults: false });
    await gate.writeFile('verdict.json', '{}');
    await gate.finalize();
    expect(await keys(out)).toEqual(['results.jsonl', 'results.parts/00000007.jsonl', 'verdict.json']);
    await expect(gate.appendResults([line('b.png')])).rejects.toThrow('writesResults: false');
  });

  it('finalizes an empty run to an empty results.jsonl', async () => {
    const out = freshOut();
    const t = await storage.openOutput(out, { resume: false });
    await t.finalize();
    expect(await text(storage, joinLocation(out, 'results.jsonl'))).toBe('');
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { readResults } from '../../src/gate/records.ts';

const dir = mkdtempSync(join(tmpdir(), 'heatgate-records-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function readAll(path: string) {
  const stream = readResults(path);
  const records = [];
  for await (const r of stream.records) records.push(r);
  return { records, sha256: await stream.sha256 };
}

describe('readResults', () => {
  it('streams records, skips blank lines and hashes the bytes', async () => {
    const text = '{"image":"a.png","metrics":{"invalidMass":0.1}}\n\n{"image":"b.png","error":"boom"}\r\n';
    const { records, sha256 } = await readAll(file('ok.jsonl', text));
    expect(records.map((r) => r.image)).toEqual(['a.png', 'b.png']);
    expect(records[1].error).toBe('boom');
    expect(sha256).toBe(createHash('sha256').update(text).digest('hex'));
  });

  it.each([
    ['not JSON', '{"image":"a.png"}\n{"image": oops}\n', /bad\.jsonl: line 2: not valid JSON/],
    ['an array', '[1,2]\n', /line 1: expected a JSON object/],
    ['no image', '{"metrics":{}}\n', /line 1: "image" must be a non-empty string/],
    ['a string metric', '{"image":"a","metrics":{"invalidMass":"0.1"}}\n', /line 1: metric "invalidMass" must be a finite number or null, got "0.1"/],
    ['a string target', '{"image":"a","target":"1"}\n', /line 1: "target" must be a number, got "1"/],
    ['metrics as a list', '{"image":"a","metrics":[0.1]}\n', /line 1: "metrics" must be an object/],
  ])('a line with %s is an InputError naming the file and line', async (_what, text, message) => {
    const path = file('bad.jsonl', text);
    const error = await readAll(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).exitCode).toBe(3);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message.startsWith(`${path}: line `)).toBe(true);
  });

  it('a missing file is an InputError', async () => {
    const error = await readAll(join(dir, 'missing.jsonl')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(/missing\.jsonl: cannot read results file \(ENOENT\)/);
  });
});

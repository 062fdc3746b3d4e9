/** schemas/result.schema.json (JSON Schema draft-07) describes the results.jsonl lines heatgate really writes. */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it, vi } from 'vitest';
import schema from '../../schemas/result.schema.json' with { type: 'json' };
import { main } from '../../src/cli/main.ts';

const EXAMPLE = 'examples/underpass';
const validate = new Ajv({ allErrors: true }).compile(schema);

async function lines(args: string[], out: string): Promise<Record<string, unknown>[]> {
  const o = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await main([...args, '--out', out, '--quiet']);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  return (await readFile(path.join(out, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
}

describe('result.schema.json', () => {
  it('accepts every line of a real run (metrics, labels, regions, raw maps, overlays) and of a run whose images failed', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-schema-'));
    const model = ['--model', `${EXAMPLE}/models/shortcut.onnx`, '--images', `${EXAMPLE}/images`];
    const ok = await lines(['run', ...model, '--invalid-masks', `${EXAMPLE}/invalid`, '--roi-masks', `${EXAMPLE}/roi`, '--labels', `${EXAMPLE}/labels.csv`, '--save-raw'], path.join(dir, 'run'));
    const failed = await lines(['explain', ...model, '--max-pixels', '100', '--no-overlays'], path.join(dir, 'failed'));
    expect(ok).toHaveLength(48);
    expect(ok[0]).toHaveProperty('metrics.invalidMass');
    expect(ok[0]).toHaveProperty('regions');
    expect(failed[0]).toHaveProperty('error');
    for (const line of [...ok, ...failed]) expect(validate(line), JSON.stringify(validate.errors)).toBe(true);
  });

  it('rejects lines that break the contract', () => {
    const good = { image: 'a.png', predicted: 1, confidence: 0.9, target: 1, method: 'gradcam', layer: 'x', metrics: { invalidMass: null } };
    expect(validate(good)).toBe(true);
    const bad: Record<string, unknown>[] = [
      { ...good, image: '' },
      { ...good, predicted: -1 },
      { ...good, confidence: 1.5 },
      { ...good, metrics: { invalidMass: 'high' } },
      { ...good, label: 0.5 },
      { ...good, error: 'both a result and an error' },
      { image: 'a.png' },
      { image: 'a.png', error: '' },
    ];
    for (const line of bad) expect(validate(line), JSON.stringify(line)).toBe(false);
  });
});

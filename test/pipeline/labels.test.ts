/** Labels CSV (issue 7): a file with no rows, or an image labelled twice differently, is exit 3; the rest is noticed. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { readLabelRows, resolveLabels } from '../../src/pipeline/labels.ts';
import { runGate } from '../../src/pipeline/run.ts';
import { cli } from '../cli/helpers.ts';

const EXAMPLE = 'examples/underpass';

async function csv(text: string): Promise<string> {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-labels-')), 'labels.csv');
  await writeFile(file, text);
  return file;
}


describe('readLabelRows', () => {
  it('reads rows with their line numbers; a header is recognised by its image column', async () => {
    const file = await csv('image,label\n\n./a.png,0\nsub\\b.jpg,pedestrian\n');
    const { rows, notices } = await readLabelRows(file);
    expect(rows).toEqual([
      { image: 'a.png', label: '0', line: 3 },
      { image: 'sub/b.jpg', label: 'pedestrian', line: 4 },
    ]);
    expect(notices).toEqual([]);
    expect(resolveLabels({ file, rows, notices }, ['empty', 'pedestrian'], 2)).toEqual(new Map([['a.png', 0], ['sub/b.jpg', 1]]));
  });

  it('a file with no rows (empty, blank lines, header only) is an InputError', async () => {
    await expect(readLabelRows(await csv('\n\n'))).rejects.toThrow(/--labels .*labels\.csv: no label rows \(the file is empty\)/);
    await expect(readLabelRows(await csv('image,label\n'))).rejects.toThrow(InputError);
    await expect(readLabelRows(await csv('image,label\n'))).rejects.toThrow(/no label rows \(only a header\)/);
  });

  it('one image with two different labels is an InputError naming both lines; the same label twice is a notice', async () => {
    await expect(readLabelRows(await csv('image,label\na.png,0\nb.png,1\na.png,1\n'))).rejects.toThrow(
      /labels\.csv: a\.png is labelled "0" on line 2 and "1" on line 4$/,
    );
    const { rows, notices } = await readLabelRows(await csv('a.png,0\nb.png,1\n./a.png,0\n'));
    expect(rows.map((r) => r.image)).toEqual(['a.png', 'b.png']);
    expect(notices).toMatchObject([{ source: '--labels', kind: 'duplicate-label-rows', count: 1, examples: ['a.png (lines 1 and 3)'] }]);
  });
});

describe('labels on the demo', () => {
  const args = (labels: string, out: string) =>
    ['run', '--model', `${EXAMPLE}/models/clean.onnx`, '--images', `${EXAMPLE}/images`, '--labels', labels, '--out', out, '--quiet', '--no-overlays'];

  it('a header-only labels file is exit 3 instead of skipping the accuracy rule', async () => {
    const file = await csv('image,label\n');
    const r = await cli(args(file, path.join(path.dirname(file), 'out')));
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`heatgate: error: --labels ${file}: no label rows (only a header)\n`);
  });

  it('an image listed twice with different labels is exit 3 naming both lines', async () => {
    const text = await readFile(`${EXAMPLE}/labels.csv`, 'utf8');
    const file = await csv(`${text.trimEnd()}\nframe_0001.png,0\n`);
    const r = await cli(args(file, path.join(path.dirname(file), 'out')));
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`heatgate: error: --labels ${file}: frame_0001.png is labelled "1" on line 3 and "0" on line 50\n`);
  });

  it('rows that match no image are counted in a notice, with examples; a file that matches none is exit 3', async () => {
    const text = await readFile(`${EXAMPLE}/labels.csv`, 'utf8');
    const file = await csv(`${text.trimEnd()}\nold/frame_9999.png,1\nframe_1000.png,0\n`);
    const out = path.join(path.dirname(file), 'out');
    const result = await runGate({ model: `${EXAMPLE}/models/clean.onnx`, images: `${EXAMPLE}/images`, labels: file, out, quiet: true, overlays: false });
    expect(result.notices).toContainEqual(
      expect.objectContaining({ source: '--labels', file, kind: 'unmatched-label-rows', count: 2, examples: ['line 50: old/frame_9999.png', 'line 51: frame_1000.png'] }),
    );
    const none = await csv('image,label\nx.png,0\ny.png,1\n');
    const r = await cli(args(none, out));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/none of its 2 label rows names an image under --images/);
  });
});

import { mkdtemp, mkdir, readFile, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeNpy } from '../../src/imaging/index.ts';
import { saveModel } from '../../src/onnx/model.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';
import { cli } from '../cli/helpers.ts';

let dir: string;
let model: string;
let images: string;

async function png(file: string, seed: number, width = 20, height = 16): Promise<void> {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + seed * 101) % 251;
  await mkdir(path.dirname(file), { recursive: true });
  await sharp(data, { raw: { width, height, channels: 3 } }).png().toFile(file);
}

async function records(out: string): Promise<Record<string, unknown>[]> {
  return (await readFile(path.join(out, 'results.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}


beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'heatgate-explain-'));
  model = path.join(dir, 'tiny.onnx');
  await saveModel(tinyCnn({ size: 8, channels: 4, classes: 3 }).model, model);
  images = path.join(dir, 'images');
  for (let i = 0; i < 5; i++) await png(path.join(images, i < 3 ? `a${i}.png` : `sub/b${i}.png`), i);
});

describe('heatgate explain', () => {
  it('writes one results line per image, raw maps at layer resolution and overlays at image size', async () => {
    const out = path.join(dir, 'out1');
    const { code, stderr } = await cli(['explain', '--model', model, '--images', images, '--out', out, '--save-raw', '--batch', '2', '--quiet']);
    expect(stderr).toContain('explained 5 images');
    expect(code).toBe(0);
    const rows = await records(out);
    expect(rows.map((r) => r.image)).toEqual(['a0.png', 'a1.png', 'a2.png', 'sub/b3.png', 'sub/b4.png']);
    for (const r of rows) {
      expect(r).toMatchObject({ method: 'gradcam', layer: 'act', label: null });
      expect(r.target).toBe(r.predicted);
      const npy = decodeNpy(await readFile(path.join(out, r.heatmap as string)));
      expect(npy.shape).toEqual([8, 8]);
      expect(Math.min(...(npy.data as Float32Array))).toBeGreaterThanOrEqual(0);
      const meta = await sharp(path.join(out, r.overlay as string)).metadata();
      expect([meta.width, meta.height]).toEqual([20, 16]);
    }
  });

  it('explains a fixed class and labels from a CSV', async () => {
    const out = path.join(dir, 'out2');
    const labels = path.join(dir, 'labels.csv');
    await writeFile(labels, 'image,label\na0.png,2\na1.png,1\na2.png,0\nsub/b3.png,1\nsub/b4.png,2\n');
    expect((await cli(['explain', '--model', model, '--images', images, '--out', out, '--target', 'labels', '--labels', labels, '--no-overlays', '--quiet'])).code).toBe(0);
    expect((await records(out)).map((r) => [r.target, r.label])).toEqual([[2, 2], [1, 1], [0, 0], [1, 1], [2, 2]]);
    const fixed = path.join(dir, 'out3');
    expect((await cli(['explain', '--model', model, '--images', images, '--out', fixed, '--target', '1', '--no-overlays', '--quiet'])).code).toBe(0);
    expect((await records(fixed)).every((r) => r.target === 1)).toBe(true);
  });

  it('gives an image without a label an error record under --target labels instead of explaining the predicted class', async () => {
    const out = path.join(dir, 'out-nolabel');
    const labels = path.join(dir, 'partial-labels.csv');
    await writeFile(labels, 'image,label\na0.png,2\na1.png,1\na2.png,0\nsub/b3.png,1\n'); // sub/b4.png has none
    const { code, stderr } = await cli(['explain', '--model', model, '--images', images, '--out', out, '--target', 'labels', '--labels', labels, '--no-overlays', '--quiet']);
    expect(code).toBe(3);
    const missing = `${path.join(images, 'sub/b4.png')}: no label for this image in --labels`;
    expect(stderr).toContain(`heatgate: error: ${missing}`);
    const rows = await records(out);
    expect(rows.find((r) => r.image === 'sub/b4.png')).toEqual({ image: 'sub/b4.png', error: missing, imageSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(rows.filter((r) => r.error === undefined).map((r) => [r.target, r.label])).toEqual([[2, 2], [1, 1], [0, 0], [1, 1]]);
  });

  it('resumes an interrupted run: done images are kept, a torn last line is dropped, nothing is repeated', async () => {
    const out = path.join(dir, 'out4');
    const args = ['explain', '--model', model, '--images', images, '--out', out, '--no-overlays', '--quiet', '--save-raw'];
    expect((await cli(args)).code).toBe(0);
    const complete = await records(out);
    const lines = (await readFile(path.join(out, 'results.jsonl'), 'utf8')).split('\n');
    await writeFile(path.join(out, 'results.jsonl'), `${lines.slice(0, 2).join('\n')}\n${lines[2].slice(0, 25)}`); // killed mid-write
    const { code, stderr } = await cli([...args, '--resume']);
    expect(code).toBe(0);
    // The count covers the whole results.jsonl, as verdict.json does; the resumed images are said separately.
    expect(stderr).toContain('explained 5 images (2 resumed, 0 failed)');
    const resumed = await records(out);
    expect(resumed.map((r) => r.image)).toEqual(complete.map((r) => r.image));
    expect(resumed).toEqual(complete);
  });

  it('resumes after a kill that left the last record without its newline', async () => {
    const out = path.join(dir, 'out4b');
    const args = ['explain', '--model', model, '--images', images, '--out', out, '--no-overlays', '--quiet'];
    expect((await cli(args)).code).toBe(0);
    const complete = await records(out);
    const lines = (await readFile(path.join(out, 'results.jsonl'), 'utf8')).split('\n');
    await writeFile(path.join(out, 'results.jsonl'), lines.slice(0, 3).join('\n')); // third record whole, newline lost
    expect((await cli([...args, '--resume'])).code).toBe(0);
    expect(await records(out)).toEqual(complete);
  });

  it('records an unreadable image as an error line, keeps the others and exits 3', async () => {
    const bad = path.join(dir, 'bad-images');
    await png(path.join(bad, 'good.png'), 9);
    await writeFile(path.join(bad, 'broken.png'), 'not really a png');
    const out = path.join(dir, 'out5');
    const { code, stderr } = await cli(['explain', '--model', model, '--images', bad, '--out', out, '--no-overlays', '--quiet']);
    expect(code).toBe(3);
    expect(stderr).toMatch(/broken\.png/);
    const rows = await records(out);
    expect(rows.find((r) => r.image === 'broken.png')?.error).toMatch(/broken\.png/);
    expect(rows.find((r) => r.image === 'good.png')?.predicted).toBeTypeOf('number');
  });

  it.each([
    [['--batch', '0'], /--batch must be a positive integer/, 2],
    [['--target', 'seven'], /--target must be/, 2],
    [['--target', '3'], /not a class index of the model \(0\.\.2\)/, 2],
    [['--layer', 'nope'], /heatgate layers/, 2],
    [['--mean', '0.5,0.5'], /--mean must be three numbers/, 2],
    [['--method', 'magic'], /unknown CAM method "magic"/, 2],
  ])('rejects %j with a clear error and exit code %#', async (extra, message, exitCode) => {
    const out = path.join(dir, 'out-bad');
    const { code, stderr } = await cli(['explain', '--model', model, '--images', images, '--out', out, '--quiet', ...extra]);
    expect(stderr).toMatch(message);
    expect(code).toBe(exitCode);
  });

  it('names the folder when there are no images, and the model when it is not one', async () => {
    const empty = path.join(dir, 'empty');
    await mkdir(empty, { recursive: true });
    const r1 = await cli(['explain', '--model', model, '--images', empty, '--out', path.join(dir, 'o6'), '--quiet']);
    expect(r1.code).toBe(3);
    expect(r1.stderr).toContain(`--images ${empty}: empty folder`);
    const junk = path.join(dir, 'junk.onnx');
    await writeFile(junk, 'nope');
    const r2 = await cli(['explain', '--model', junk, '--images', images, '--out', path.join(dir, 'o7'), '--quiet']);
    expect(r2.code).toBe(3);
    expect(r2.stderr).toContain(`${junk}: not an ONNX model`);
    expect(await readdir(dir)).not.toContain('o7');
  });
});

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { maskCandidates } from '../../src/analysis/mask-files.ts';
import { countOnes } from '../../src/analysis/masks.ts';
import { createRegionSource } from '../../src/analysis/regions.ts';
import { ConfigError, InputError } from '../../src/errors.ts';
import { geometryFor } from '../../src/imaging/index.ts';
import { draw, show } from './helpers.ts';

// A 4x4 source, model frame 4x4 (identity), so expected masks can be drawn directly.
const g = geometryFor(4, 4, 4, 4, 'resize');
let root: string;

async function png(file: string, rows: string): Promise<void> {
  const bits = draw(rows);
  mkdirSync(path.dirname(file), { recursive: true });
  await sharp(Buffer.from(bits.map((b) => b * 255)), { raw: { width: 4, height: 4, channels: 1 } }).toFile(file);
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'heatgate-regions-'));
  await png(path.join(root, 'invalid/day1/a.png'), '#...\n#...\n....\n....');
  await png(path.join(root, 'roi/day1/b.PNG'), '....\n.##.\n.##.\n....');
  writeFileSync(path.join(root, 'invalid/day1/c.png'), 'not an image');
  writeFileSync(
    path.join(root, 'ann.json'),
    JSON.stringify({
      images: [{ id: 1, file_name: 'day1/a.jpg', width: 4, height: 4 }],
      annotations: [{ id: 1, image_id: 1, category_id: 5, bbox: [3, 0, 1, 4] }],
      categories: [{ id: 5, name: 'timestamp' }],
    }),
  );
});

describe('region sources', () => {
  it('tries the same stem with other image extensions, lower and upper case', () => {
    const c = maskCandidates('/m', 'day1/a.jpg').map((f) => path.basename(f));
    expect(c.slice(0, 4)).toEqual(['a.jpg', 'a.JPG', 'a.png', 'a.PNG']);
    expect(c).toContain('a.bmp');
    expect(c).toContain('a.TIFF');
  });

  it('unions mask files, COCO and static regions per role and lists the sources', async () => {
    const source = await createRegionSource(
      {
        invalidMasks: 'invalid',
        roiMasks: 'roi',
        coco: { file: 'ann.json', categories: { invalid: ['timestamp'], roi: [] } },
        static: [{ name: 'floor', role: 'invalid', box: [0, 0.75, 1, 0.25], units: 'fraction' }],
      },
      { baseDir: root },
    );
    expect(source.roles).toEqual(['roi', 'invalid']);
    // (COCO contributes to both roles of image a; its source is listed once)
    const a = await source.forImage('day1/a.jpg', g);
    expect(show(a.invalid!, 4)).toBe(show(draw(`
      #..#
      #..#
      ...#
      ####`), 4));
    expect(countOnes(a.roi!)).toBe(0); // no roi/day1/a.* file; COCO lists the image but maps no roi category to it
    expect(a.sources).toEqual([
      `invalidMasks:${path.join(root, 'invalid/day1/a.png')}`,
      `coco:${path.join(root, 'ann.json')}#images[0]`,
      'static:floor',
    ]);
    const b = await source.forImage('day1/b.jpg', g);
    expect(show(b.roi!, 4)).toBe(show(draw('....\n.##.\n.##.\n....'), 4));
    expect(show(b.invalid!, 4)).toBe(show(draw('....\n....\n....\n####'), 4)); // static only: b is not in COCO
    // the cached static mask was not modified by the union for image a
    expect(countOnes((await source.forImage('day1/b.jpg', g)).invalid!)).toBe(4);
  });

  it('gives null, not an error, for an image without any mask', async () => {
    const source = await createRegionSource({ invalidMasks: 'invalid', roiMasks: 'roi' }, { baseDir: root });
    expect(await source.forImage('day2/z.jpg', g)).toEqual({ roi: null, invalid: null, sources: [] });
  });

  it('names the mask file that cannot be decoded', async () => {
    const source = await createRegionSource({ invalidMasks: 'invalid' }, { baseDir: root });
    const error = await source.forImage('day1/c.jpg', g).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(new RegExp(`^${path.join(root, 'invalid/day1/c.png')}: `));
  });

  it('names the mask file whose size differs from the image', async () => {
    const source = await createRegionSource({ invalidMasks: 'invalid' }, { baseDir: root });
    await expect(source.forImage('day1/a.jpg', geometryFor(8, 4, 4, 4, 'resize'))).rejects.toThrow(/a\.png: mask is 4x4 but its image is 8x4/);
  });

  it('rejects bad configs with a ConfigError naming the config file', async () => {
    const bad: [object, RegExp][] = [
      [{ masks: 'x' }, /heatgate\.yaml: masks: unknown key/],
      [{ roiMasks: 3 }, /heatgate\.yaml: roiMasks: expected a directory path/],
      [{ coco: { file: 'ann.json', categories: { sky: ['x'] } } }, /heatgate\.yaml: coco\.categories\.sky: unknown role/],
      [{ coco: { file: 'ann.json', categories: { roi: ['person'] } } }, /heatgate\.yaml: coco\.categories\.roi\[0\] names category "person"/],
      [{ static: [{ name: 'x', role: 'roi' }] }, /heatgate\.yaml: static\[0\]: give exactly one of box or polygon/],
    ];
    for (const [config, message] of bad) {
      const error = await createRegionSource(config, { baseDir: root, configFile: 'heatgate.yaml' }).catch((e: unknown) => e);
      expect(error, JSON.stringify(config)).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
    }
  });
});

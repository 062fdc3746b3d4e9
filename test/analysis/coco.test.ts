import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { indexCoco, loadCoco, rasterizeCocoImage, type CocoRoleMap } from '../../src/analysis/coco.ts';
import { countOnes } from '../../src/analysis/masks.ts';
import { ConfigError, InputError } from '../../src/errors.ts';
import { geometryFor, warpMask } from '../../src/imaging/index.ts';
import { rleEncode, rleToString } from '../../src/analysis/rle.ts';
import { draw, show } from './helpers.ts';

const roles: CocoRoleMap = { roi: ['person'], invalid: ['watermark'] };
const categories = [
  { id: 1, name: 'person' },
  { id: 2, name: 'watermark' },
  { id: 3, name: 'car' },
];

function doc(annotations: object[], images: object[] = [{ id: 7, file_name: 'cam1/a.jpg', width: 4, height: 3 }]) {
  return { images, annotations, categories };
}

async function masksFor(data: unknown, relPath = 'cam1/a.jpg', g = geometryFor(4, 3, 4, 3, 'resize')) {
  const index = indexCoco(data, roles, 'ann.json');
  const image = index.lookup(relPath);
  if (!image) throw new Error(`no image ${relPath}`);
  return rasterizeCocoImage(index, image, g);
}

// 3 rows x 4 columns, drawn by hand; column-major runs: 2 zeros, 5 ones, 5 zeros → counts [2, 5, 5] → '255'
const drawnRle = `
  .##.
  .#..
  ##..`;

describe('COCO annotations', () => {
  it('rasterises a polygon segmentation (pixel centres) into the roi mask', async () => {
    // triangle (0,0) (4,0) (0,3): centre (u+.5, v+.5) inside x/4 + y/3 < 1
    const m = await masksFor(doc([{ id: 1, image_id: 7, category_id: 1, segmentation: [[0, 0, 4, 0, 0, 3]] }]));
    expect(show(m.roi!, 4)).toBe(show(draw(`
      ###.
      ##..
      #...`), 4));
    expect(countOnes(m.invalid!)).toBe(0); // listed in the file, no watermark: empty, not null
  });

  it('decodes compressed and uncompressed RLE the same way, column-major', async () => {
    const compressed = await masksFor(doc([{ id: 1, image_id: 7, category_id: 2, segmentation: { size: [3, 4], counts: '255' } }]));
    const counts = await masksFor(doc([{ id: 1, image_id: 7, category_id: 2, iscrowd: 1, segmentation: { size: [3, 4], counts: [2, 5, 5] } }]));
    expect(show(compressed.invalid!, 4)).toBe(show(draw(drawnRle), 4));
    expect(show(counts.invalid!, 4)).toBe(show(draw(drawnRle), 4));
  });

  it('uses the bbox when there is no segmentation, unions annotations and ignores unmapped categories', async () => {
    const m = await masksFor(
      doc([
        { id: 1, image_id: 7, category_id: 1, bbox: [0, 0, 1, 3], segmentation: [] },
        { id: 2, image_id: 7, category_id: 1, bbox: [3, 2, 1, 1] },
        { id: 3, image_id: 7, category_id: 3, bbox: [0, 0, 4, 3] },
      ]),
    );
    expect(show(m.roi!, 4)).toBe(show(draw(`
      #...
      #...
      #..#`), 4));
  });

  it('maps polygons and RLE through resize and letterbox geometries', async () => {
    const images = [{ id: 1, file_name: 'big.png', width: 40, height: 20 }];
    // polygon box 10..30 x 5..15 in a 40x20 image, resized to 8x4 (scale 0.2): x 2..6, y 1..3
    const poly = await masksFor(doc([{ id: 1, image_id: 1, category_id: 1, segmentation: [[10, 5, 30, 5, 30, 15, 10, 15]] }], images), 'big.png', geometryFor(40, 20, 8, 4, 'resize'));
    expect(show(poly.roi!, 8)).toBe(show(draw(`
      ........
      ..####..
      ..####..
      ........`), 8));
    // full-image RLE (one run of 800 ones) letterboxed into 8x8: scale 0.2 → 8x4 rows 2..5
    const rle = await masksFor(doc([{ id: 1, image_id: 1, category_id: 2, segmentation: { size: [20, 40], counts: [0, 800] } }], images), 'big.png', geometryFor(40, 20, 8, 8, 'letterbox'));
    expect(show(rle.invalid!, 8)).toBe(show(draw(`
      ........
      ........
      ########
      ########
      ########
      ########
      ........
      ........`), 8));
  });

  it('warps an RLE mask exactly as the same mask stored as a PNG file (imaging.warpMask)', async () => {
    // an irregular 30x20 mask: a disc and a bar
    const w = 30, h = 20;
    const rowMajor = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rowMajor[y * w + x] = (x - 9) ** 2 + (y - 9) ** 2 < 40 || (x > 20 && y > 3 && y < 17) ? 1 : 0;
    const colMajor = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) colMajor[x * h + y] = rowMajor[y * w + x];
    const png = await sharp(Buffer.from(rowMajor.map((v) => v * 255)), { raw: { width: w, height: h, channels: 1 } }).png().toBuffer();
    const images = [{ id: 1, file_name: 'm.png', width: w, height: h }];
    for (const [dw, dh, mode] of [[12, 12, 'center-crop'], [16, 16, 'letterbox'], [45, 25, 'resize']] as const) {
      const g = geometryFor(w, h, dw, dh, mode);
      const fromRle = await masksFor(doc([{ id: 1, image_id: 1, category_id: 1, segmentation: { size: [h, w], counts: rleToString(rleEncode(colMajor)) } }], images), 'm.png', g);
      const fromPng = await warpMask(png, g, 'm.png');
      expect(show(fromRle.roi!, dw), mode).toBe(show(fromPng, dw));
      expect(countOnes(fromPng), mode).toBeGreaterThan(0);
    }
  });

  it('matches images by relative path, or by a unique bare file name', () => {
    const index = indexCoco(
      doc([], [
        { id: 1, file_name: 'cam1/a.jpg', width: 4, height: 3 },
        { id: 2, file_name: 'b.jpg', width: 4, height: 3 },
        { id: 3, file_name: './c.jpg', width: 4, height: 3 },
      ]),
      roles,
      'ann.json',
    );
    expect(index.lookup('cam1/a.jpg')?.index).toBe(0);
    expect(index.lookup('cam1\\a.jpg')?.index).toBe(0);
    expect(index.lookup('a.jpg')).toBeUndefined(); // COCO names a folder: the path must match
    expect(index.lookup('day2/b.jpg')?.index).toBe(1);
    expect(index.lookup('c.jpg')?.index).toBe(2);
    expect(index.lookup('x.jpg')).toBeUndefined();
  });

  it('leaves a role the map does not name null', async () => {
    const index = indexCoco(doc([]), { invalid: ['watermark'] }, 'ann.json');
    const m = await rasterizeCocoImage(index, index.lookup('cam1/a.jpg')!, geometryFor(4, 3, 4, 3, 'resize'));
    expect(m.roi).toBeNull();
    expect(m.invalid).not.toBeNull();
  });

  const malformed: [string, unknown, RegExp][] = [
    ['a list', [], /expected a COCO object/],
    ['no images', { annotations: [], categories }, /images: expected a list/],
    ['an odd polygon', doc([{ id: 1, image_id: 7, category_id: 1, bbox: [0, 0, 1, 1] }, { id: 2, image_id: 7, category_id: 1, segmentation: [[0, 0, 4, 0, 4]] }]), /annotations\[1\]\.segmentation\[0\]: odd number of coordinates/],
    ['a 2-point polygon', doc([{ id: 1, image_id: 7, category_id: 1, segmentation: [[0, 0, 4, 0]] }]), /annotations\[0\]\.segmentation\[0\]: a polygon needs at least 3 points/],
    ['a non-numeric polygon', doc([{ id: 1, image_id: 7, category_id: 1, segmentation: [[0, 0, 4, 'x', 1, 1]] }]), /annotations\[0\]\.segmentation\[0\]: expected a flat list/],
    ['an RLE of another size', doc([{ id: 1, image_id: 7, category_id: 1, segmentation: { size: [4, 3], counts: '255' } }]), /annotations\[0\]\.segmentation\.size: \[4, 3\] differs from images\[0\]/],
    ['bad compressed counts', doc([{ id: 1, image_id: 7, category_id: 1, segmentation: { size: [3, 4], counts: '25~' } }]), /annotations\[0\]\.segmentation\.counts: .*character 2/],
    ['short counts', doc([{ id: 1, image_id: 7, category_id: 1, segmentation: { size: [3, 4], counts: [2, 5] } }]), /annotations\[0\]\.segmentation\.counts: counts cover 7 pixels/],
    ['an unknown image id', doc([{ id: 1, image_id: 8, category_id: 1, bbox: [0, 0, 1, 1] }]), /annotations\[0\]\.image_id: no image has id 8/],
    ['no geometry', doc([{ id: 1, image_id: 7, category_id: 2 }]), /annotations\[0\]: has neither a segmentation nor a bbox/],
    ['a bad bbox', doc([{ id: 1, image_id: 7, category_id: 2, bbox: [0, 0, 1] }]), /annotations\[0\]\.bbox: expected \[x, y, w, h\]/],
    ['a bad image size', doc([], [{ id: 7, file_name: 'a.jpg', width: 0, height: 3 }]), /images\[0\]\.width: expected a positive integer/],
    ['duplicate file names', doc([], [{ id: 1, file_name: 'a.jpg', width: 1, height: 1 }, { id: 2, file_name: 'a.jpg', width: 1, height: 1 }]), /images\[1\]\.file_name: duplicate/],
  ];
  for (const [what, data, message] of malformed) {
    it(`rejects ${what} with an InputError naming the file and JSON path`, () => {
      let error: unknown;
      try {
        indexCoco(data, roles, 'data/ann.json');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InputError);
      expect((error as Error).message).toMatch(/^data\/ann\.json: /);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('rejects a category name the file does not define with a ConfigError', () => {
    expect(() => indexCoco(doc([]), { roi: ['persn'] }, 'ann.json', 'heatgate.yaml')).toThrow(ConfigError);
    expect(() => indexCoco(doc([]), { roi: ['persn'] }, 'ann.json', 'heatgate.yaml')).toThrow(
      /^heatgate\.yaml: coco\.categories\.roi\[0\] names category "persn", which ann\.json does not define \(its categories: "person", "watermark", "car"\)/,
    );
    expect(() => indexCoco(doc([]), { roi: ['car'], invalid: ['car'] }, 'ann.json')).toThrow(/mapped to both/);
  });

  it('rejects an image whose decoded size differs from the annotation', async () => {
    const index = indexCoco(doc([]), roles, 'ann.json');
    await expect(rasterizeCocoImage(index, index.lookup('cam1/a.jpg')!, geometryFor(3, 4, 3, 4, 'resize'))).rejects.toThrow(
      /^ann\.json: images\[0\] \(cam1\/a\.jpg\) is 4x3 but the decoded image is 3x4/,
    );
  });

  it('loads a file once and names it in read and parse errors', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'heatgate-coco-'));
    const good = path.join(dir, 'good.json');
    writeFileSync(good, JSON.stringify(doc([{ id: 1, image_id: 7, category_id: 1, bbox: [0, 0, 2, 2] }])));
    const index = await loadCoco(good, roles);
    expect(index.imageCount).toBe(1);
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"images": [');
    await expect(loadCoco(bad, roles)).rejects.toThrow(new RegExp(`^${bad}: not valid JSON`));
    await expect(loadCoco(path.join(dir, 'missing.json'), roles)).rejects.toThrow(/missing\.json: cannot read COCO annotations: ENOENT/);
  });

  it('says what it does not use: unknown category ids, unmapped categories, annotations wholly outside their image', async () => {
    const index = indexCoco(
      doc([
        { id: 1, image_id: 7, category_id: 1, bbox: [0, 0, 2, 2] },
        { id: 2, image_id: 7, category_id: 9, bbox: [0, 0, 2, 2] },
        { id: 3, image_id: 7, category_id: 1, bbox: [10, 0, 2, 2] }, // x from 10: the image is 4 wide
        { id: 4, image_id: 7, category_id: 2, segmentation: [[-5, -5, -1, -5, -1, -1]] }, // above and left of it
        { id: 5, image_id: 7, category_id: 2, bbox: [3.5, 2.5, 5, 5] }, // overlaps the corner pixel: kept
      ]),
      roles,
      'ann.json',
    );
    expect(index.notices).toEqual([
      expect.objectContaining({ source: '--coco', file: 'ann.json', kind: 'unknown-coco-category', count: 1, examples: ['annotations[1] (category_id 9)'] }),
      expect.objectContaining({ kind: 'unmapped-coco-categories', count: 1, examples: ['car'] }),
      expect.objectContaining({
        kind: 'coco-annotations-outside-image',
        count: 2,
        examples: ['annotations[2].bbox (cam1/a.jpg, 4x3)', 'annotations[3].segmentation (cam1/a.jpg, 4x3)'],
      }),
    ]);
    // the ones outside are ignored: roi is the 2x2 box only, invalid the one corner pixel
    const m = await rasterizeCocoImage(index, index.lookup('cam1/a.jpg')!, geometryFor(4, 3, 4, 3, 'resize'));
    expect(countOnes(m.roi!)).toBe(4);
    expect(show(m.invalid!, 4)).toBe(show(draw(`
      ....
      ....
      ...#`), 4));
  });

  it('lists its images that are not under --images (exact path or bare file name)', () => {
    const index = indexCoco(
      doc([], [
        { id: 1, file_name: 'cam1/a.jpg', width: 4, height: 3 },
        { id: 2, file_name: 'b.jpg', width: 4, height: 3 },
        { id: 3, file_name: 'gone.jpg', width: 4, height: 3 },
      ]),
      roles,
      'ann.json',
    );
    expect(index.unmatched(['cam1/a.jpg', 'day2/b.jpg'])).toEqual(['gone.jpg']);
  });
});

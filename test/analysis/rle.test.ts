import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { columnToRowMajor, rleDecode, rleEncode, rleFromString, rleToString } from '../../src/analysis/rle.ts';

// Cases from test/analysis/fixtures/make_reference.py: a Python port of pycocotools' maskApi.c.
interface RleCase {
  name: string;
  height?: number;
  width?: number;
  mask?: number[];
  counts: number[];
  string: string;
}
const cases = JSON.parse(readFileSync(new URL('./fixtures/rle-reference.json', import.meta.url), 'utf8')) as RleCase[];

function rowToColumnMajor(mask: ArrayLike<number>, h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[x * h + y] = mask[y * w + x];
  return out;
}

describe('RLE against the pycocotools algorithm', () => {
  it('has the reference cases', () => expect(cases.length).toBeGreaterThan(20));

  for (const c of cases) {
    it(`round-trips ${c.name}`, () => {
      expect(rleFromString(c.string)).toEqual(c.counts);
      expect(rleToString(c.counts)).toBe(c.string);
      if (c.mask && c.height && c.width) {
        expect(rleEncode(rowToColumnMajor(c.mask, c.height, c.width))).toEqual(c.counts);
        const decoded = columnToRowMajor(rleDecode(c.counts, c.height, c.width), c.height, c.width);
        expect(Array.from(decoded)).toEqual(c.mask);
      }
    });
  }
});

describe('RLE by hand', () => {
  // 3 rows x 4 columns; column-major reading: 0 0 1 | 1 1 1 | 1 0 0 | 0 0 0 → runs 2 zeros, 5 ones, 5 zeros.
  const drawn = [
    [0, 1, 1, 0],
    [0, 1, 0, 0],
    [1, 1, 0, 0],
  ];
  it('encodes column-major runs starting with zeros', () => {
    const colMajor = rowToColumnMajor(drawn.flat(), 3, 4);
    expect(rleEncode(colMajor)).toEqual([2, 5, 5]);
    // counts < 16 and no deltas for the first three: one char each, '0' + count
    expect(rleToString([2, 5, 5])).toBe('255');
  });

  it('starts with a zero-length run when the first pixel is set', () => {
    expect(rleEncode([1, 1, 0])).toEqual([0, 2, 1]);
    expect(Array.from(rleDecode([0, 2, 1], 3, 1))).toEqual([1, 1, 0]);
  });

  it('stores the fourth count on as a difference to the count two back, sign-extended', () => {
    // counts 20, 1, 20, 3: the 4th is stored as 3 − 1 = 2; 20 needs two chars (20 = 0b10100: low 5 bits have 0x10
    // set, so a continuation char follows: '0' + (20 | 0x20) = 'd', then '0' + 0 = '0').
    expect(rleToString([20, 1, 20, 3])).toBe('d01d02');
    expect(rleFromString('d01d02')).toEqual([20, 1, 20, 3]);
    // 5th count 1 = 20 + (−19). −19 = …1110_1101: low 5 bits 0b01101 = 13 without the 0x10 sign bit, and the shift
    // leaves −1 ≠ 0, so continue: '0' + (13 | 0x20) = ']'; then −1: low bits 31 (sign bit set) and the shift leaves
    // −1, so stop: '0' + 31 = 'O'.
    expect(rleToString([20, 1, 20, 3, 1])).toBe('d01d02]O');
    expect(rleFromString('d01d02]O')).toEqual([20, 1, 20, 3, 1]);
  });

  it('rejects malformed data', () => {
    expect(() => rleFromString('2 5')).toThrow(/character 1/);
    expect(() => rleFromString('d')).toThrow(/end inside a number/);
    expect(() => rleDecode([2, 5, 6], 3, 4)).toThrow(/more than size 3x4/);
    expect(() => rleDecode([2, 5], 3, 4)).toThrow(/cover 7 pixels but size 3x4 has 12/);
    expect(() => rleDecode([2, -1, 11], 3, 4)).toThrow(/counts\[1\]/);
    // '0' + 0x10 alone is −16 (sign bit set): a negative run
    expect(() => rleFromString('@')).toThrow(/negative/);
  });
});

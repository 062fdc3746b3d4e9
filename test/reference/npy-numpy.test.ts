import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { decodeNpy, encodeNpy } from '../../src/imaging/npy.ts';
import { python, tempDir } from '../imaging/helpers.ts';

// numpy.save writes the references; one Python process for all of them.
const dir = tempDir();
const NUMPY = `
import numpy as np, os, sys
d = sys.argv[1]
f4 = lambda shape: (np.arange(int(np.prod(shape))) * 0.5 - 3).astype('<f4').reshape(shape)
np.save(os.path.join(d, 'f4_2x3.npy'), f4((2, 3)))
np.save(os.path.join(d, 'f4_5.npy'), f4((5,)))
np.save(os.path.join(d, 'f4_1x7x7.npy'), f4((1, 7, 7)))
np.save(os.path.join(d, 'f4_scalar.npy'), np.float32(2.5))
np.save(os.path.join(d, 'f4_0x3.npy'), np.zeros((0, 3), '<f4'))
np.save(os.path.join(d, 'f8.npy'), np.array([[1.5, -2.25], [1e300, 0]], '<f8'))
np.save(os.path.join(d, 'i8.npy'), np.array([-(2**40), 7], '<i8'))
np.save(os.path.join(d, 'i4.npy'), np.array([[-5], [6]], '<i4'))
np.save(os.path.join(d, 'bool.npy'), np.array([True, False, True]))
np.save(os.path.join(d, 'u1.npy'), np.array([[0, 255], [7, 8]], 'u1'))
np.save(os.path.join(d, 'big_endian.npy'), np.array([1.5, -2], '>f4'))
np.save(os.path.join(d, 'fortran.npy'), np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)))
`;
const read = (name: string): Buffer => readFileSync(path.join(dir, name));

describe('npy', () => {
  beforeAll(() => {
    python(NUMPY, [dir]);
  });

  it.each([
    ['f4_2x3.npy', [2, 3]],
    ['f4_5.npy', [5]],
    ['f4_1x7x7.npy', [1, 7, 7]],
    ['f4_scalar.npy', []],
    ['f4_0x3.npy', [0, 3]],
  ])('encodeNpy writes what numpy.save writes, byte for byte (%s)', (file, shape) => {
    const count = shape.reduce((a, b) => a * b, 1);
    const data = file === 'f4_scalar.npy' ? Float32Array.of(2.5) : Float32Array.from({ length: count }, (_, i) => i * 0.5 - 3);
    const ours = encodeNpy(data, shape);
    const theirs = read(file);
    expect(ours.subarray(0, 128).toString('latin1')).toBe(theirs.subarray(0, 128).toString('latin1')); // readable diff of the header
    expect(ours.equals(theirs)).toBe(true);
    expect((ours.readUInt16LE(8) + 10) % 64).toBe(0); // data 64-byte aligned
  });

  it('round-trips float32 through decodeNpy', () => {
    const data = Float32Array.from([0.1, -2, 3e-8, Number.POSITIVE_INFINITY, 5, 6]);
    const back = decodeNpy(encodeNpy(data, [3, 2]));
    expect(back).toEqual({ data, shape: [3, 2], dtype: 'float32' });
  });

  it('decodes numpy dtypes, byte orders and Fortran order', () => {
    expect(decodeNpy(read('f8.npy'))).toEqual({ data: Float64Array.from([1.5, -2.25, 1e300, 0]), shape: [2, 2], dtype: 'float64' });
    expect(decodeNpy(read('i8.npy'))).toEqual({ data: BigInt64Array.from([-(2n ** 40n), 7n]), shape: [2], dtype: 'int64' });
    expect(decodeNpy(read('i4.npy'))).toEqual({ data: Int32Array.from([-5, 6]), shape: [2, 1], dtype: 'int32' });
    expect(decodeNpy(read('bool.npy'))).toEqual({ data: Uint8Array.from([1, 0, 1]), shape: [3], dtype: 'bool' });
    expect(decodeNpy(read('u1.npy'))).toEqual({ data: Uint8Array.from([0, 255, 7, 8]), shape: [2, 2], dtype: 'uint8' });
    expect(decodeNpy(read('big_endian.npy')).data).toEqual(Float32Array.from([1.5, -2]));
    // stored column-major [0, 3, 1, 4, 2, 5]; returned in C order
    expect(decodeNpy(read('fortran.npy'))).toEqual({ data: Float32Array.from([0, 1, 2, 3, 4, 5]), shape: [2, 3], dtype: 'float32' });
    expect(decodeNpy(read('f4_scalar.npy'))).toEqual({ data: Float32Array.of(2.5), shape: [], dtype: 'float32' });
  });

  it('rejects what it cannot read with an InputError naming the file', () => {
    const good = read('f4_2x3.npy');
    const cases: [Buffer, RegExp][] = [
      [Buffer.from('PK\x03\x04 not npy'), /missing .*magic/],
      [good.subarray(0, good.length - 4), /truncated data/],
      [good.subarray(0, 40), /truncated header/],
      [Buffer.from(good.toString('latin1').replace("'<f4'", "'<c8'"), 'latin1'), /unsupported dtype '<c8'/],
    ];
    for (const [buf, message] of cases) {
      const error = (() => {
        try {
          decodeNpy(buf, 'heatmaps/a.npy');
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(InputError);
      expect((error as Error).message).toMatch(/^heatmaps\/a\.npy: not a readable \.npy array: /);
      expect((error as Error).message).toMatch(message);
    }
    expect(() => encodeNpy(new Float32Array(5), [2, 3])).toThrow(/product is 5/);
  });
});

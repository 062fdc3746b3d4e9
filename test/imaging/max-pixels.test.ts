import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { DEFAULT_MAX_PIXELS, decodeMaskValues, decodeRgb, megapixels } from '../../src/imaging/decode.ts';
import { prepareImage } from '../../src/imaging/index.ts';

const png = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: '#808080' } }).png().toBuffer();

/** A PNG that claims width x height in its header and holds one row of pixels: a decompression bomb's calling card. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter, no interlace
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1 + 3 * width))), chunk('IEND', Buffer.alloc(0))]);
}

describe('--max-pixels (the decompression-bomb guard)', () => {
  it("defaults to sharp's own limit and prints sizes in megapixels", () => {
    expect(DEFAULT_MAX_PIXELS).toBe(0x3fff * 0x3fff);
    expect(megapixels(30000 * 30000)).toBe('900 Mpx');
    expect(megapixels(DEFAULT_MAX_PIXELS)).toBe('268 Mpx');
    expect(megapixels(200 * 100)).toBe('0.02 Mpx');
  });

  it('refuses a 30000x30000 image by its header, before decoding anything, at the default limit', async () => {
    await expect(decodeRgb(pngHeaderOnly(30000, 30000), 'bomb.png')).rejects.toThrow(
      'bomb.png: image is 30000x30000 = 900 Mpx, above --max-pixels 268 Mpx',
    );
  });

  it("refuses a larger image with its size and the limit, for images and masks alike", async () => {
    const bytes = await png(200, 100);
    const message = 'big.png: image is 200x100 = 20000 px, above --max-pixels 19999 px'; // too close for Mpx
    await expect(decodeRgb(bytes, 'big.png', { maxPixels: 19_999 })).rejects.toThrow(new InputError(message.replace('big.png: ', ''), 'big.png'));
    await expect(decodeMaskValues(bytes, 'big.png', { maxPixels: 19_999 })).rejects.toThrow(message);
    expect((await decodeRgb(bytes, 'big.png', { maxPixels: 20_000 })).width).toBe(200);
    const options = { width: 8, height: 8, channels: 3 as const, layout: 'NCHW' as const, resize: 'resize' as const, normalization: { scale: 1 / 255, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] } };
    await expect(prepareImage(bytes, { ...options, maxPixels: 100 }, 'big.png')).rejects.toThrow('big.png: image is 200x100 = 0.02 Mpx, above --max-pixels 0.0001 Mpx');
  });
});

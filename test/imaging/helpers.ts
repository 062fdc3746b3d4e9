import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';

/** Debian's python3 (numpy, PIL, torch, torchvision); the `python3` on PATH has no torch. */
export const PYTHON = '/usr/bin/python3';

export function python(script: string, args: string[] = []): Buffer {
  return execFileSync(PYTHON, ['-c', script, ...args], { maxBuffer: 64 << 20 });
}

export function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'heatgate-imaging-'));
}

/** An image of `channels` interleaved uint8 samples, built pixel by pixel. */
export function rawImage(width: number, height: number, channels: number, pixel: (x: number, y: number) => number[]): Buffer {
  const out = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out.set(pixel(x, y), (y * width + x) * channels);
  }
  return out;
}

export function encode(raw: Buffer, width: number, height: number, channels: 1 | 2 | 3 | 4, format: 'png' | 'jpeg' | 'webp' | 'tiff' = 'png'): Promise<Buffer> {
  const pipeline = sharp(raw, { raw: { width, height, channels } });
  if (format === 'png') return pipeline.png().toBuffer();
  if (format === 'jpeg') return pipeline.jpeg({ quality: 95 }).toBuffer();
  if (format === 'webp') return pipeline.webp({ lossless: true }).toBuffer();
  return pipeline.tiff({ compression: 'lzw' }).toBuffer();
}

/** A 16-bit PNG written by hand (colour type 0 grey or 2 RGB), so the test does not depend on sharp's encoder. */
export function png16(samples: number[], width: number, height: number, channels: 1 | 3): Buffer {
  const row = 1 + width * channels * 2;
  const raw = Buffer.alloc(row * height);
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < width * channels; i++) raw.writeUInt16BE(samples[y * width * channels + i], y * row + 1 + 2 * i);
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([16, channels === 1 ? 0 : 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Brightness-weighted centroid of one channel plane (row-major). */
export function centroid(plane: ArrayLike<number>, width: number, height: number): { x: number; y: number; mass: number } {
  let mass = 0, sx = 0, sy = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = plane[y * width + x];
      mass += v;
      sx += v * x;
      sy += v * y;
    }
  }
  return { x: sx / mass, y: sy / mass, mass };
}

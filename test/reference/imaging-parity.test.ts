import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ResizeMode } from '../../src/imaging/geometry.ts';
import { normalizationPreset } from '../../src/imaging/normalize.ts';
import { prepareImage } from '../../src/imaging/preprocess.ts';
import { encode, python, rawImage, tempDir } from '../imaging/helpers.ts';

// The reference: torchvision 0.14 on PIL, the way classifiers are usually trained and evaluated.
// One Python process for all cases (importing torch takes a second or two).
const TORCHVISION = `
import json, sys
from PIL import Image
import torchvision.transforms as T
norm = [T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
for file, mode, w, h in json.loads(sys.argv[1]):
    img = Image.open(file).convert('RGB')
    resize = [T.Resize(min(w, h)), T.CenterCrop((h, w))] if mode == 'center-crop' else [T.Resize((h, w))]
    sys.stdout.buffer.write(T.Compose(resize + norm)(img).numpy().astype('<f4').tobytes())
`;

// [source width, height, mode, model width, height, max |difference| in 1/255 units]
const CASES: [number, number, ResizeMode, number, number, number][] = [
  [320, 240, 'center-crop', 224, 224, 4],
  [320, 240, 'resize', 150, 100, 16], // hard checkerboard edges differ most when shrinking 2x
  [40, 30, 'resize', 224, 224, 1.5], // upscaling: plain bilinear on both sides, PIL rounds to 8 bits
  [40, 30, 'center-crop', 96, 96, 1.5],
];

describe('prepareImage against torchvision (PIL bilinear)', () => {
  const dir = tempDir();
  const file = (w: number, h: number): string => path.join(dir, `${w}x${h}.png`);
  let references: Float32Array[] = [];

  beforeAll(async () => {
    for (const [w, h] of CASES) {
      // smooth gradients, a hard-edged checkerboard and deterministic noise: the mix a photo has
      const raw = rawImage(w, h, 3, (x, y) => [
        Math.round(128 + 100 * Math.sin(x / 7) * Math.cos(y / 9)),
        ((x >> 3) + (y >> 3)) % 2 ? 220 : 30,
        (x * 73 + y * 151) % 256,
      ]);
      await writeFile(file(w, h), await encode(raw, w, h, 3));
    }
    const out = python(TORCHVISION, [JSON.stringify(CASES.map(([w, h, mode, dw, dh]) => [file(w, h), mode, dw, dh]))]);
    let offset = 0;
    references = CASES.map(([, , , dw, dh]) => {
      const n = 3 * dw * dh;
      const ref = new Float32Array(out.buffer.slice(out.byteOffset + offset, out.byteOffset + offset + 4 * n));
      offset += 4 * n;
      return ref;
    });
  });

  it.each(CASES.map((c, i) => [i, ...c] as const))('case %i: %ix%i, %s to %ix%i', async (i, w, h, mode, width, height, maxDiff) => {
    const p = await prepareImage(file(w, h), {
      width, height, channels: 3, layout: 'NCHW', resize: mode, normalization: normalizationPreset('imagenet'),
    });
    const expected = references[i];
    expect(p.tensor.length).toBe(expected.length);
    // compare on the 0..255 scale (std ~0.226)
    let sum = 0, worst = 0;
    for (let k = 0; k < expected.length; k++) {
      const d = Math.abs(p.tensor[k] - expected[k]) * 0.226 * 255;
      sum += d;
      worst = Math.max(worst, d);
    }
    // libvips' antialiased linear vs PIL's: measured mean 0.2-0.3/255
    expect(sum / expected.length).toBeLessThan(0.5);
    expect(worst).toBeLessThan(maxDiff);
  });
});

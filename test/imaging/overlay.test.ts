import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { geometryFor } from '../../src/imaging/geometry.ts';
import { mapToSource, renderOverlay } from '../../src/imaging/overlay.ts';

// 200x100 grey source, center-crop to 64x64: scaled 128x64 (s = 0.64), 32 columns cropped on each side, so
// u = 0.64 x + 0.32 - 0.5 - 32 = 0.64 x - 32.18 and v = 0.64 y - 0.18; source columns 50..149 are in the crop
const W = 200, H = 100;
const geometry = geometryFor(W, H, 64, 64, 'center-crop');
const grey = Buffer.alloc(W * H * 3, 100);
const hotCorner = Float32Array.from([0, 0, 0, 1]); // 2x2, hot at the bottom right

async function decodePng(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { info, at: (x: number, y: number) => [...data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3)] };
}

describe('renderOverlay', () => {
  it('writes a PNG at source size with heat only inside the crop, where the map is hot', async () => {
    const png = await renderOverlay({ rgb: grey, width: W, height: H, heatmap: hotCorner, heatmapHeight: 2, heatmapWidth: 2, geometry });
    const { info, at } = await decodePng(png);
    expect([info.width, info.height, info.channels]).toEqual([W, H, 3]);
    // outside the crop: the plain image
    for (const [x, y] of [[0, 0], [49, 50], [150, 99], [199, 0]]) expect(at(x, y)).toEqual([100, 100, 100]);
    // bottom-right of the crop: heat 1 -> inferno's last entry (252, 255, 164), blended half and half with 100
    expect(at(149, 99)).toEqual([176, 178, 132]);
    // top-left of the crop: heat 0 -> inferno's first entry (0, 0, 4)
    expect(at(50, 0)).toEqual([50, 50, 52]);
    // brighter towards the hot corner along the diagonal of the crop
    const luma = (p: number[]) => p[0] + p[1] + p[2];
    expect(luma(at(140, 90))).toBeGreaterThan(luma(at(100, 50)));
    expect(luma(at(100, 50))).toBeGreaterThan(luma(at(60, 10)));
  });

  it('honours alpha and colormap', async () => {
    const png = await renderOverlay({
      rgb: grey, width: W, height: H, heatmap: hotCorner, heatmapHeight: 2, heatmapWidth: 2, geometry, alpha: 1, colormap: 'viridis',
    });
    const { at } = await decodePng(png);
    expect(at(149, 99)).toEqual([0xfd, 0xe7, 0x25]);
    expect(at(50, 0)).toEqual([0x44, 0x01, 0x54]);
  });

  it('min-max normalises the heatmap unless told not to', async () => {
    const args = { rgb: grey, width: W, height: H, heatmapHeight: 2, heatmapWidth: 2, geometry };
    // a raw CAM [0, 0, 0, 5] is scaled to [0, 1]: at source (100, 50) the map samples (0.51, 0.51), heat
    // 0.51 * 0.51 = 0.26 of the maximum, well below the hot colour; unnormalised, 5 * 0.26 = 1.3 clips to it
    const hot = [176, 178, 132];
    const raw = await decodePng(await renderOverlay({ ...args, heatmap: Float32Array.from([0, 0, 0, 5]) }));
    expect(raw.at(149, 99)).toEqual(hot);
    expect(raw.at(50, 0)).toEqual([50, 50, 52]);
    expect(raw.at(100, 50)[1]).toBeLessThan(100);
    const clipped = await decodePng(await renderOverlay({ ...args, heatmap: Float32Array.from([0, 0, 0, 5]), normalize: false }));
    expect(clipped.at(100, 50)).toEqual(hot);
    // used as given: a flat 0.5 is inferno's entry 128 everywhere in the crop, (0.735683, 0.215906, 0.330245) in matplotlib
    const flat = await decodePng(await renderOverlay({ ...args, heatmap: new Float32Array(4).fill(0.5), normalize: false, alpha: 1 }));
    expect(flat.at(60, 10)).toEqual([188, 55, 84]);
    expect(flat.at(140, 90)).toEqual([188, 55, 84]);
  });

  it('outlines regions on their inside edge', async () => {
    // square u, v in 16..47 of the model frame; its left edge (u = 15.5) is at source x = (15.5 + 32.18) / 0.64 = 74.5
    const mask = new Uint8Array(64 * 64);
    for (let v = 16; v < 48; v++) mask.fill(1, v * 64 + 16, v * 64 + 48);
    const png = await renderOverlay({
      rgb: grey, width: W, height: H, heatmap: new Float32Array(4), heatmapHeight: 2, heatmapWidth: 2, geometry,
      alpha: 0, outlines: [{ mask, color: [0, 255, 0] }],
    });
    const { at } = await decodePng(png);
    expect(at(75, 50)).toEqual([0, 255, 0]); // first column inside
    expect(at(74, 50)).toEqual([100, 100, 100]); // outside
    expect(at(76, 50)).toEqual([100, 100, 100]); // interior
    expect(at(100, 25)).toEqual([0, 255, 0]); // top edge: v = 15.5 at y = 24.5, so row 25 is the first inside
    expect(at(100, 24)).toEqual([100, 100, 100]);
  });

  it('rejects mismatched sizes and bad parameters with ConfigError', async () => {
    const args = { rgb: grey, width: W, height: H, heatmap: hotCorner, heatmapHeight: 2, heatmapWidth: 2, geometry };
    await expect(renderOverlay({ ...args, alpha: 1.5 })).rejects.toThrow(ConfigError);
    await expect(renderOverlay({ ...args, colormap: 'nope' })).rejects.toThrow(/colormap/);
    await expect(renderOverlay({ ...args, width: 10 })).rejects.toThrow(ConfigError);
    await expect(renderOverlay({ ...args, heatmapWidth: 3 })).rejects.toThrow(/map length/);
  });
});

describe('mapToSource', () => {
  it('is NaN outside a center-crop and samples the map bilinearly inside', () => {
    const heat = mapToSource(Float32Array.from([0, 1]), 1, 2, geometry); // 1x2 map: 0 left, 1 right
    expect(heat[50 * W + 49]).toBeNaN();
    expect(heat[50 * W + 150]).toBeNaN();
    // source x = 100: u = 31.82, map x = (31.82 + 0.5) * 2 / 64 - 0.5 = 0.51
    expect(heat[50 * W + 100]).toBeCloseTo(0.51, 5);
  });

  it('covers the whole source in letterbox and resize modes', () => {
    for (const mode of ['letterbox', 'resize'] as const) {
      const heat = mapToSource(new Float32Array(49).fill(0.25), 7, 7, geometryFor(W, H, 64, 64, mode));
      expect(heat.every((v) => v === 0.25)).toBe(true);
    }
  });
});

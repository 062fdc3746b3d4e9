import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { applyColormap, colormapIndex, colormapLut, COLORMAPS } from '../../src/imaging/colormap.ts';

const entry = (name: string, i: number): number[] => [...colormapLut(name).subarray(3 * i, 3 * i + 3)];
const to8 = (rgb: number[]): number[] => rgb.map((v) => Math.round(v * 255));

describe('COLORMAPS', () => {
  it('has 256-entry tables for inferno, viridis, jet and gray', () => {
    for (const name of ['inferno', 'viridis', 'jet', 'gray']) expect(COLORMAPS[name]).toHaveLength(768);
  });

  it('matches matplotlib\'s listed data (lib/matplotlib/_cm_listed.py)', () => {
    expect(entry('inferno', 0)).toEqual(to8([0.001462, 0.000466, 0.013866]));
    expect(entry('inferno', 79)).toEqual(to8([0.434987, 0.097069, 0.432039]));
    expect(entry('inferno', 255)).toEqual([0xfc, 0xff, 0xa4]); // matplotlib's published end colour #fcffa4
    expect(entry('viridis', 0)).toEqual([0x44, 0x01, 0x54]); // #440154
    expect(entry('viridis', 255)).toEqual([0xfd, 0xe7, 0x25]); // #fde725
  });

  it('samples matplotlib\'s jet segments at i / 255', () => {
    expect(entry('jet', 0)).toEqual([0, 0, 128]); // blue starts at 0.5
    expect(entry('jet', 255)).toEqual([128, 0, 0]); // red ends at 0.5
    // i = 96, x = 0.3765: red ramps 0 -> 1 over 0.35..0.66, green is 1 over 0.375..0.64, blue ramps 1 -> 0 over 0.34..0.65
    expect(entry('jet', 96)).toEqual(to8([(96 / 255 - 0.35) / 0.31, 1, (0.65 - 96 / 255) / 0.31]));
    expect(entry('gray', 100)).toEqual([100, 100, 100]);
  });

  it('inferno and viridis get brighter monotonically (perceptual maps)', () => {
    for (const name of ['inferno', 'viridis']) {
      const luma = Array.from({ length: 256 }, (_, i) => {
        const [r, g, b] = entry(name, i);
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      });
      for (let i = 8; i < 256; i += 8) expect(luma[i]).toBeGreaterThan(luma[i - 8]);
    }
  });

  it('indexes like matplotlib (floor(v * 256), clipped) and colours values', () => {
    expect([0, 0.5, 0.999, 1, 1.5, -1, Number.NaN].map(colormapIndex)).toEqual([0, 128, 255, 255, 255, 0, 0]);
    expect([...applyColormap([0, 1], 'viridis')]).toEqual([0x44, 0x01, 0x54, 0xfd, 0xe7, 0x25]);
  });

  it('rejects an unknown name, listing the known ones', () => {
    expect(() => colormapLut('rainbow')).toThrow(ConfigError);
    expect(() => colormapLut('rainbow')).toThrow(/inferno \| viridis \| jet \| gray/);
    expect(() => colormapLut('toString')).toThrow(ConfigError);
  });
});

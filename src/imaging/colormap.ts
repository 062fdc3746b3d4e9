import { invalidParameter } from '../errors.ts';
import { LISTED_COLORMAP_HEX } from './colormap-data.ts';

/** A colour table: 256 entries x (R, G, B) bytes. */
export type ColormapLut = Uint8Array;

function fromHex(hex: string): ColormapLut {
  return Uint8Array.from(hex.match(/../g) ?? [], (byte) => parseInt(byte, 16));
}

type Segments = readonly (readonly [x: number, y: number])[];

/** matplotlib's LinearSegmentedColormap sampled at 256 points (x = i / 255), continuous segments only. */
function fromSegments(channels: readonly [Segments, Segments, Segments]): ColormapLut {
  const lut = new Uint8Array(256 * 3);
  channels.forEach((points, c) => {
    for (let i = 0; i < 256; i++) {
      const x = i / 255;
      let k = 1;
      while (k < points.length - 1 && points[k][0] < x) k++;
      const [x0, y0] = points[k - 1];
      const [x1, y1] = points[k];
      lut[3 * i + c] = Math.round(255 * (y0 + ((y1 - y0) * (x - x0)) / (x1 - x0)));
    }
  });
  return lut;
}

/**
 * The colormap registry: add a map here and it is available everywhere (CLI choices read the keys).
 * `inferno` (the default) and `viridis` are perceptually uniform; `jet` is matplotlib's, for comparison with
 * pytorch-grad-cam figures (which use OpenCV's similar COLORMAP_JET), not for judging heat.
 */
export const COLORMAPS: Readonly<Record<string, ColormapLut>> = {
  inferno: fromHex(LISTED_COLORMAP_HEX.inferno),
  viridis: fromHex(LISTED_COLORMAP_HEX.viridis),
  // matplotlib _cm.py _jet_data
  jet: fromSegments([
    [[0, 0], [0.35, 0], [0.66, 1], [0.89, 1], [1, 0.5]],
    [[0, 0], [0.125, 0], [0.375, 1], [0.64, 1], [0.91, 0], [1, 0]],
    [[0, 0.5], [0.11, 1], [0.34, 1], [0.65, 0], [1, 0]],
  ]),
  gray: fromSegments([[[0, 0], [1, 1]], [[0, 0], [1, 1]], [[0, 0], [1, 1]]]),
};

export const DEFAULT_COLORMAP = 'inferno';

export function colormapLut(name: string = DEFAULT_COLORMAP): ColormapLut {
  const lut = Object.hasOwn(COLORMAPS, name) ? COLORMAPS[name] : undefined;
  if (!lut) throw invalidParameter('colormap', Object.keys(COLORMAPS).join(' | '), name);
  return lut;
}

/** The LUT index of a value in [0, 1] as matplotlib computes it: floor(v * 256), clipped; NaN -> 0. */
export function colormapIndex(value: number): number {
  if (!(value > 0)) return 0;
  return value >= 1 ? 255 : Math.floor(value * 256);
}

/** Colours values in [0, 1] (clipped): returns interleaved RGB bytes. */
export function applyColormap(values: ArrayLike<number>, name: string = DEFAULT_COLORMAP): Uint8Array {
  const lut = colormapLut(name);
  const out = new Uint8Array(values.length * 3);
  for (let i = 0; i < values.length; i++) {
    const k = 3 * colormapIndex(values[i]);
    out[3 * i] = lut[k];
    out[3 * i + 1] = lut[k + 1];
    out[3 * i + 2] = lut[k + 2];
  }
  return out;
}

import { invalidParameter } from '../errors.ts';

/** How a source image is brought to the model's input size. */
export type ResizeMode = 'resize' | 'center-crop' | 'letterbox';
export const RESIZE_MODES: readonly ResizeMode[] = ['resize', 'center-crop', 'letterbox'];

/**
 * Axis-aligned map from source-image pixels to model-input pixels:
 *
 *     u = x * scaleX + offsetX,   v = y * scaleY + offsetY
 *
 * Pixel-centre convention: integer coordinates are pixel centres, so pixel (x, y) covers [x - 0.5, x + 0.5) and
 * the image spans [-0.5, srcWidth - 0.5). A resample by `s` maps centres as u = (x + 0.5) * s - 0.5, i.e.
 * offset = 0.5 * s - 0.5, plus the integer shift of the crop (negative) or the letterbox padding (positive).
 * This is the convention of PIL, torchvision and cv2 (`align_corners=False`). The same geometry warps images,
 * masks and regions, and its inverse maps heatmaps back onto the source image.
 */
export interface Geometry {
  mode: ResizeMode;
  srcWidth: number;
  srcHeight: number;
  dstWidth: number;
  dstHeight: number;
  scaleX: number;
  scaleY: number;
  offsetX: number;
  offsetY: number;
}

/**
 * The geometry of bringing a srcWidth x srcHeight image to dstWidth x dstHeight:
 * - `resize`: stretch each axis to the target (aspect ratio not kept).
 * - `center-crop`: scale so the image covers the target (the tighter axis becomes exactly the target, the other
 *   `floor(src * target / src')`, as torchvision's `Resize(int)` does), then crop the centre with torchvision's
 *   `CenterCrop` offset `round((scaled - target) / 2)` (Python's round half to even).
 * - `letterbox`: scale so the image fits (the limiting axis becomes exactly the target, the other rounded),
 *   then pad with black, centred; the odd pixel of padding goes right/bottom.
 */
export function geometryFor(
  srcWidth: number,
  srcHeight: number,
  dstWidth: number,
  dstHeight: number,
  mode: ResizeMode,
): Geometry {
  for (const [name, value] of Object.entries({ srcWidth, srcHeight, dstWidth, dstHeight })) {
    if (!Number.isInteger(value) || value < 1) throw invalidParameter(name, 'a positive integer', value);
  }
  let scaledW = dstWidth;
  let scaledH = dstHeight;
  if (mode === 'center-crop' || mode === 'letterbox') {
    // Compare dstWidth/srcWidth with dstHeight/srcHeight exactly, in integers.
    const widthRules = mode === 'center-crop'
      ? dstWidth * srcHeight >= dstHeight * srcWidth
      : dstWidth * srcHeight <= dstHeight * srcWidth;
    const round = mode === 'center-crop' ? Math.floor : Math.round;
    if (widthRules) scaledH = Math.max(1, round((srcHeight * dstWidth) / srcWidth));
    else scaledW = Math.max(1, round((srcWidth * dstHeight) / srcHeight));
  } else if (mode !== 'resize') {
    throw invalidParameter('resize mode', RESIZE_MODES.join(' | '), mode);
  }
  const shiftX = mode === 'center-crop' ? -roundHalfEven((scaledW - dstWidth) / 2) : Math.floor((dstWidth - scaledW) / 2);
  const shiftY = mode === 'center-crop' ? -roundHalfEven((scaledH - dstHeight) / 2) : Math.floor((dstHeight - scaledH) / 2);
  const scaleX = scaledW / srcWidth;
  const scaleY = scaledH / srcHeight;
  return {
    mode, srcWidth, srcHeight, dstWidth, dstHeight, scaleX, scaleY,
    offsetX: 0.5 * scaleX - 0.5 + (mode === 'resize' ? 0 : shiftX),
    offsetY: 0.5 * scaleY - 0.5 + (mode === 'resize' ? 0 : shiftY),
  };
}

/** The integer steps behind a geometry: the resampled size and the shift (crop < 0, padding > 0) per axis. */
export interface ResampleLayout {
  scaledWidth: number;
  scaledHeight: number;
  shiftX: number;
  shiftY: number;
}

export function resampleLayout(g: Geometry): ResampleLayout {
  return {
    scaledWidth: Math.round(g.srcWidth * g.scaleX),
    scaledHeight: Math.round(g.srcHeight * g.scaleY),
    shiftX: Math.round(g.offsetX - (0.5 * g.scaleX - 0.5)),
    shiftY: Math.round(g.offsetY - (0.5 * g.scaleY - 0.5)),
  };
}

/** Source pixel-centre coordinates to model-input pixel-centre coordinates. */
export function sourceToModel(g: Geometry, x: number, y: number): [number, number] {
  return [x * g.scaleX + g.offsetX, y * g.scaleY + g.offsetY];
}

/** Model-input pixel-centre coordinates back to source pixel-centre coordinates. */
export function modelToSource(g: Geometry, u: number, v: number): [number, number] {
  return [(u - g.offsetX) / g.scaleX, (v - g.offsetY) / g.scaleY];
}

/** Python 3 `round()` for the .5 cases torchvision's CenterCrop meets. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

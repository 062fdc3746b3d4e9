/** Small operations on row-major 0/1 byte masks (width x height). */

/** dst |= src, in place; returns dst. */
export function orInto(dst: Uint8Array, src: Uint8Array): Uint8Array {
  for (let i = 0; i < dst.length; i++) dst[i] |= src[i] ? 1 : 0;
  return dst;
}

export function countOnes(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}

/**
 * Edge pixels of a mask for report overlays: pixels inside the mask with at least one 4-neighbour outside
 * it. Outside the image counts as outside the mask, so a region touching the border is drawn closed.
 */
export function maskOutline(mask: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      if (
        x === 0 ||
        y === 0 ||
        x === width - 1 ||
        y === height - 1 ||
        !mask[i - 1] ||
        !mask[i + 1] ||
        !mask[i - width] ||
        !mask[i + width]
      ) {
        out[i] = 1;
      }
    }
  }
  return out;
}

/** [x0, y0, x1, y1], inclusive pixel bounds. */
export type PixelBox = [number, number, number, number];

/** Bounding boxes of the 8-connected components of a mask. */
export function componentBoxes(mask: Uint8Array, width: number, height: number): PixelBox[] {
  const seen = new Uint8Array(mask.length);
  const stack = new Int32Array(mask.length);
  const boxes: PixelBox[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || seen[start]) continue;
    const box: PixelBox = [width, height, -1, -1];
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    while (top > 0) {
      const i = stack[--top];
      const x = i % width;
      const y = (i - x) / width;
      if (x < box[0]) box[0] = x;
      if (y < box[1]) box[1] = y;
      if (x > box[2]) box[2] = x;
      if (y > box[3]) box[3] = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (mask[j] && !seen[j]) {
            seen[j] = 1;
            stack[top++] = j;
          }
        }
      }
    }
    boxes.push(box);
  }
  return boxes;
}

/** A mask with every pixel of the given boxes set. */
export function fillBoxes(boxes: readonly PixelBox[], width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (const [x0, y0, x1, y1] of boxes) {
    for (let y = y0; y <= y1; y++) out.fill(1, y * width + x0, y * width + x1 + 1);
  }
  return out;
}

/** True when some mask pixel lies within Euclidean distance `radius` of pixel (x, y) (centre to centre). */
export function nearMask(mask: Uint8Array, width: number, height: number, x: number, y: number, radius: number): boolean {
  const r = Math.floor(radius);
  const r2 = radius * radius;
  for (let dy = -r; dy <= r; dy++) {
    const ny = y + dy;
    if (ny < 0 || ny >= height) continue;
    for (let dx = -r; dx <= r; dx++) {
      const nx = x + dx;
      if (nx < 0 || nx >= width || dx * dx + dy * dy > r2) continue;
      if (mask[ny * width + nx]) return true;
    }
  }
  return false;
}

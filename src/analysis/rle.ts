/**
 * COCO run-length encoding, bit-compatible with pycocotools (common/maskApi.c: rleEncode, rleDecode,
 * rleToString, rleFrString).
 *
 * Layout: counts alternate runs of 0 and 1, starting with 0 (a mask starting with 1 has counts[0] = 0), over
 * the pixels in COLUMN-MAJOR order (Fortran order: index = x * height + y), as pycocotools stores masks.
 * The compressed string is LEB128-like: 5 data bits per char plus a continuation bit (0x20), offset by 48
 * ('0'..'o'); counts after the third are stored as differences to the count two places back.
 */

/** Thrown for malformed RLE data; the COCO loader rethrows it as an InputError with the file and JSON path. */
export class RleFormatError extends Error {}

/** Column-major 0/1 mask (length h*w) → counts. */
export function rleEncode(mask: ArrayLike<number>): number[] {
  const counts: number[] = [];
  let previous = 0;
  let run = 0;
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i] ? 1 : 0;
    if (v !== previous) {
      counts.push(run);
      run = 0;
      previous = v;
    }
    run++;
  }
  counts.push(run);
  return counts;
}

/** Counts → column-major 0/1 mask of h*w bytes. The counts must cover exactly h*w pixels. */
export function rleDecode(counts: ArrayLike<number>, height: number, width: number): Uint8Array {
  const total = height * width;
  const mask = new Uint8Array(total);
  let pos = 0;
  let value = 0;
  for (let j = 0; j < counts.length; j++) {
    const run = counts[j];
    if (!Number.isInteger(run) || run < 0) throw new RleFormatError(`counts[${j}] is ${run}, expected an integer >= 0`);
    if (pos + run > total) {
      throw new RleFormatError(`counts cover more than size ${height}x${width} = ${total} pixels (at counts[${j}])`);
    }
    if (value) mask.fill(1, pos, pos + run);
    pos += run;
    value ^= 1;
  }
  if (pos !== total) throw new RleFormatError(`counts cover ${pos} pixels but size ${height}x${width} has ${total}`);
  return mask;
}

/** Counts → pycocotools compressed string. */
export function rleToString(counts: ArrayLike<number>): string {
  let out = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i] - (i > 2 ? counts[i - 2] : 0);
    let more = true;
    while (more) {
      // Arithmetic, not bitwise: JS bit operators truncate to 32 bits, C works on a 64-bit long here.
      let c = x - Math.floor(x / 32) * 32; // low 5 bits, also for negative x (two's complement)
      x = Math.floor(x / 32); // arithmetic shift right by 5
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      out += String.fromCharCode(c + 48);
    }
  }
  return out;
}

/** pycocotools compressed string → counts. */
export function rleFromString(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new RleFormatError(`compressed counts end inside a number (at character ${p})`);
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) {
        throw new RleFormatError(`compressed counts contain ${JSON.stringify(s[p])} at character ${p} (allowed: '0'..'o')`);
      }
      // Multiply instead of shifting: 5*k can pass 31 bits, where JS shifts wrap.
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x -= 2 ** (5 * k); // sign-extend, as `x |= -1 << 5*k`
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    if (x < 0) throw new RleFormatError(`compressed counts decode to a negative run (${x}) at count ${counts.length}`);
    counts.push(x);
  }
  return counts;
}

/** Column-major (pycocotools) → row-major (heatgate) byte mask. */
export function columnToRowMajor(mask: Uint8Array, height: number, width: number): Uint8Array {
  const out = new Uint8Array(height * width);
  for (let x = 0; x < width; x++) {
    const col = x * height;
    for (let y = 0; y < height; y++) out[y * width + x] = mask[col + y];
  }
  return out;
}

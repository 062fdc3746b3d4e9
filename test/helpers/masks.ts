/**
 * 0/1 masks of `n` pixels that exercise mask scans: random, blobs (runs), empty, full, set in runs at both ends,
 * values other than 1, and a view at an odd byte offset. `next` draws uniform numbers in [0, 1).
 */
export function maskVariety(n: number, next: () => number): Uint8Array[] {
  const blobs = Uint8Array.from({ length: n }, (_, p) => (Math.floor(p / 7) % 3 === 0 ? 1 : 0));
  const ends = new Uint8Array(n);
  ends.fill(1, 0, Math.min(5, n));
  ends.fill(1, Math.max(0, n - 3));
  const odd = Uint8Array.from({ length: n + 3 }, () => (next() < 0.4 ? 1 : 0));
  return [
    Uint8Array.from({ length: n }, () => (next() < 0.3 ? 1 : 0)),
    blobs,
    new Uint8Array(n),
    new Uint8Array(n).fill(1),
    ends,
    Uint8Array.from({ length: n }, () => (next() < 0.3 ? 255 : next() < 0.3 ? 3 : 0)),
    odd.subarray(3),
  ];
}

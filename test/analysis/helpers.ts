/** Test helpers: masks drawn as strings ('#' = 1, '.' = 0), one row per line. */
export function draw(rows: string): Uint8Array {
  const lines = rows.trim().split('\n').map((l) => l.trim());
  return Uint8Array.from(lines.join(''), (c) => (c === '#' ? 1 : 0));
}

export function show(mask: ArrayLike<number>, width: number): string {
  const lines: string[] = [];
  for (let i = 0; i < mask.length; i += width) {
    lines.push(Array.from({ length: width }, (_, k) => (mask[i + k] ? '#' : '.')).join(''));
  }
  return lines.join('\n');
}

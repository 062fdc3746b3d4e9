/**
 * The image formats heatgate reads: the one place a format is added (listing, sniffing and messages use it).
 * Formats are recognised by their leading bytes, not by the file name, so a mislabelled file still decodes and a
 * non-image gets one clear error before libvips sees it.
 */
export interface ImageFormat {
  name: string;
  extensions: readonly string[];
  matches(head: Uint8Array): boolean;
}

const startsWith = (head: Uint8Array, bytes: readonly number[], at = 0): boolean =>
  head.length >= at + bytes.length && bytes.every((b, i) => head[at + i] === b);
const ascii = (text: string): number[] => [...text].map((c) => c.charCodeAt(0));

export const IMAGE_FORMATS: readonly ImageFormat[] = [
  { name: 'JPEG', extensions: ['.jpg', '.jpeg'], matches: (h) => startsWith(h, [0xff, 0xd8, 0xff]) },
  { name: 'PNG', extensions: ['.png'], matches: (h) => startsWith(h, [0x89, ...ascii('PNG\r\n\x1a\n')]) },
  { name: 'WebP', extensions: ['.webp'], matches: (h) => startsWith(h, ascii('RIFF')) && startsWith(h, ascii('WEBP'), 8) },
  {
    name: 'TIFF',
    extensions: ['.tif', '.tiff'],
    // Classic TIFF (42) and BigTIFF (43), both byte orders.
    matches: (h) =>
      startsWith(h, [0x49, 0x49, 0x2a, 0x00]) || startsWith(h, [0x4d, 0x4d, 0x00, 0x2a]) ||
      startsWith(h, [0x49, 0x49, 0x2b, 0x00]) || startsWith(h, [0x4d, 0x4d, 0x00, 0x2b]),
  },
];

export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(IMAGE_FORMATS.flatMap((f) => f.extensions));

export function sniffFormat(head: Uint8Array): ImageFormat | undefined {
  return IMAGE_FORMATS.find((f) => f.matches(head));
}

export function supportedFormatList(): string {
  const names = IMAGE_FORMATS.map((f) => f.name);
  return `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

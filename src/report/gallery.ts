import sharp from 'sharp';
import { joinLocation, parseLocation, type Location } from '../storage/location.ts';
import { defaultStorage, type Storage } from '../storage/storage.ts';
import type { ImageRef } from '../gate/aggregator.ts';

export interface GalleryItem extends ImageRef {
  /** The overlay as a data: URI, when it could be read. */
  src?: string;
  /** Why there is no picture (no overlay recorded, file missing, unreadable). */
  missing?: string;
}

export interface GalleryOptions {
  /** Longest side of the embedded picture in pixels; keeps the report small. Default 640. */
  maxSide?: number;
}

/**
 * Reads each image's overlay (a path relative to the out dir, never outside it) and embeds it as a JPEG
 * data URI, downscaled so a dozen overlays stay well under a few MB of HTML. A missing overlay is a
 * placeholder in the report, not an error: the verdict does not depend on it.
 */
export async function loadGallery(
  outDir: string,
  refs: readonly ImageRef[],
  options: GalleryOptions = {},
  storage: Storage = defaultStorage(),
): Promise<GalleryItem[]> {
  const maxSide = options.maxSide ?? 640;
  const root = parseLocation(outDir, '--out');
  return Promise.all(
    refs.map(async (ref): Promise<GalleryItem> => {
      if (!ref.overlay) return { ...ref, missing: 'no overlay recorded' };
      let overlay: Location;
      try {
        overlay = joinLocation(root, ref.overlay); // refuses absolute paths and '..' that climbs out
      } catch {
        return { ...ref, missing: 'overlay path is outside the out dir' };
      }
      let bytes: Buffer;
      try {
        bytes = await storage.read(overlay);
      } catch {
        return { ...ref, missing: `overlay not found: ${ref.overlay}` };
      }
      try {
        const jpeg = await sharp(bytes)
          .rotate()
          .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
          .flatten({ background: '#ffffff' })
          .jpeg({ quality: 82 })
          .toBuffer();
        return { ...ref, src: `data:image/jpeg;base64,${jpeg.toString('base64')}` };
      } catch (error) {
        return { ...ref, missing: `overlay unreadable: ${(error as Error).message}` };
      }
    }),
  );
}

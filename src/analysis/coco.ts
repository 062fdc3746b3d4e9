import { restateStorageError } from '../storage/errors.ts';
import { parseLocation } from '../storage/location.ts';
import { defaultStorage, type Storage } from '../storage/storage.ts';
import { ConfigError, InputError } from '../errors.ts';
import type { Geometry } from '../imaging/index.ts';
import { notice, type InputNotice } from '../notices.ts';
import { resampleToModel } from '../imaging/resample.ts';
import { orInto } from './masks.ts';
import { fillSourceBox, fillSourcePolygon, type Point } from './raster.ts';
import { columnToRowMajor, RleFormatError, rleDecode, rleFromString } from './rle.ts';
import type { RegionRole } from './static-regions.ts';

/**
 * COCO annotations as a region source (cocodataset.org/#format-data): categories map to roles through
 * `{ roi: [names], invalid: [names] }`; each annotation contributes its segmentation (polygons, or RLE with
 * compressed-string or uncompressed counts) or, when it has none, its bbox. The file is parsed and indexed by
 * `file_name` once per run.
 *
 * Polygons and boxes are geometry: rasterised straight into the model frame (pixel-centre sampling,
 * raster.ts), so a letterboxed or cropped image needs no intermediate source-size mask. RLE masks are raster
 * data: decoded at the source size and warped like a mask file (see warpRle). (pycocotools' own polygon
 * rasteriser, rleFrPoly, works on a 5x upsampled boundary and can differ from centre sampling by one pixel
 * along edges.)
 */

export interface CocoRoleMap {
  roi?: string[];
  invalid?: string[];
}

export type CocoShape =
  | { kind: 'polygons'; polygons: Point[][] }
  | { kind: 'box'; box: [number, number, number, number] }
  | { kind: 'rle'; counts: number[]; height: number; width: number };

export interface CocoImage {
  /** Position in `images`, for messages. */
  index: number;
  fileName: string;
  width: number;
  height: number;
  shapes: { role: RegionRole; shape: CocoShape; path: string }[];
  /** Names of the (known) categories annotated on the image, every category, mapped or not (labels use them). */
  categories: Set<string>;
}

export interface CocoIndex {
  file: string;
  /** Roles that the role map fills (an image listed in the file gets a mask, maybe empty, for each). */
  roles: readonly RegionRole[];
  imageCount: number;
  lookup(relPath: string): CocoImage | undefined;
  /** Every image of the file, in file order. */
  images(): Iterable<CocoImage>;
  /** The file's images that none of `images` (paths under --images) looks up to. */
  unmatched(images: readonly string[]): string[];
  /** What the file holds that heatgate does not use: unknown category ids, unmapped categories, annotations off the image. */
  notices: InputNotice[];
}

export interface CocoSource {
  /** The flag or policy key naming the file, for notices (default "--coco"). */
  source?: string;
  /** The file as the user gave it, for notices (default: the path read). */
  given?: string;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isId = (v: unknown): v is number | string => isNum(v) || typeof v === 'string';

export function normalizeRelPath(p: string): string {
  return p.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
}

export async function loadCoco(
  file: string,
  roles: CocoRoleMap,
  configFile?: string,
  from: CocoSource = {},
  storage: Storage = defaultStorage(),
): Promise<CocoIndex> {
  let text: string;
  try {
    text = (await storage.read(parseLocation(file, from.source ?? '--coco'))).toString('utf8');
  } catch (e) {
    throw restateStorageError(e, (problem) => `cannot read COCO annotations: ${problem}`, file);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new InputError(`not valid JSON: ${(e as Error).message}`, file);
  }
  return indexCoco(data, roles, file, configFile, from);
}

/** Validates a parsed COCO document and indexes the annotations of the mapped categories by file name. */
export function indexCoco(data: unknown, roles: CocoRoleMap, file: string, configFile?: string, from: CocoSource = {}): CocoIndex {
  const fail = (path: string, problem: string): never => {
    throw new InputError(path ? `${path}: ${problem}` : problem, file);
  };
  if (!isObj(data)) return fail('', 'expected a COCO object with images, annotations and categories');
  for (const key of ['images', 'annotations', 'categories']) {
    if (!Array.isArray(data[key])) fail(key, 'expected a list');
  }

  // categories: name → role
  const roleOfCategory = new Map<number | string, RegionRole>();
  const byName = new Map<string, (number | string)[]>();
  const nameOfCategory = new Map<number | string, string>();
  (data.categories as unknown[]).forEach((c, i) => {
    if (!isObj(c) || !isId(c.id) || typeof c.name !== 'string') fail(`categories[${i}]`, 'expected { id, name }');
    const cat = c as { id: number | string; name: string };
    byName.set(cat.name, [...(byName.get(cat.name) ?? []), cat.id]);
    nameOfCategory.set(cat.id, cat.name);
  });
  const mappedRoles: RegionRole[] = [];
  for (const role of ['roi', 'invalid'] as const) {
    const names = roles[role];
    if (names === undefined) continue;
    mappedRoles.push(role);
    names.forEach((name, k) => {
      const ids = byName.get(name);
      if (!ids) {
        throw new ConfigError(
          `coco.categories.${role}[${k}] names category ${JSON.stringify(name)}, which ${file} does not define ` +
            `(its categories: ${[...byName.keys()].map((n) => JSON.stringify(n)).join(', ')})`,
          configFile ?? file,
        );
      }
      for (const id of ids) {
        const other = roleOfCategory.get(id);
        if (other && other !== role) {
          throw new ConfigError(`category ${JSON.stringify(name)} is mapped to both roi and invalid`, configFile ?? file);
        }
        roleOfCategory.set(id, role);
      }
    });
  }

  // images: id → entry, file_name → entry
  const byId = new Map<number | string, CocoImage>();
  const byFile = new Map<string, CocoImage>();
  (data.images as unknown[]).forEach((im, i) => {
    const at = `images[${i}]`;
    if (!isObj(im)) return fail(at, 'expected an object');
    if (!isId(im.id)) fail(`${at}.id`, 'expected a number or string');
    if (typeof im.file_name !== 'string' || im.file_name === '') fail(`${at}.file_name`, 'expected a non-empty string');
    for (const k of ['width', 'height']) {
      if (!Number.isInteger(im[k]) || (im[k] as number) <= 0) fail(`${at}.${k}`, `expected a positive integer, got ${JSON.stringify(im[k])}`);
    }
    const fileName = normalizeRelPath(im.file_name as string);
    const entry: CocoImage = { index: i, fileName, width: im.width as number, height: im.height as number, shapes: [], categories: new Set() };
    if (byId.has(im.id as number | string)) fail(`${at}.id`, `duplicate image id ${JSON.stringify(im.id)}`);
    if (byFile.has(fileName)) fail(`${at}.file_name`, `duplicate file_name ${JSON.stringify(fileName)}`);
    byId.set(im.id as number | string, entry);
    byFile.set(fileName, entry);
  });

  const unknownCategory: string[] = [];
  const outside: string[] = [];
  (data.annotations as unknown[]).forEach((a, i) => {
    const at = `annotations[${i}]`;
    if (!isObj(a)) return fail(at, 'expected an object');
    const image = byId.get(a.image_id as number | string);
    if (!image) return fail(`${at}.image_id`, `no image has id ${JSON.stringify(a.image_id)}`);
    if (!isId(a.category_id)) fail(`${at}.category_id`, 'expected a number or string');
    const name = nameOfCategory.get(a.category_id as number | string);
    if (name === undefined) return void unknownCategory.push(`${at} (category_id ${JSON.stringify(a.category_id)})`);
    image.categories.add(name);
    const role = roleOfCategory.get(a.category_id as number | string);
    if (!role) return; // a category the role map does not use: its geometry is never read
    const shape = parseShape(a, at, image, fail);
    if (outsideImage(shape.shape, image)) return void outside.push(`${shape.path} (${image.fileName}, ${image.width}x${image.height})`);
    image.shapes.push({ role, shape: shape.shape, path: shape.path });
  });

  const source = from.source ?? '--coco';
  const given = from.given ?? file;
  const notices: InputNotice[] = [];
  if (unknownCategory.length > 0) {
    notices.push(notice({
      source, file: given, kind: 'unknown-coco-category', count: unknownCategory.length, examples: unknownCategory,
      message: `${unknownCategory.length} annotation(s) name a category_id that "categories" does not define; ignored`,
    }));
  }
  if (mappedRoles.length > 0) {
    const mapped = new Set(mappedRoles.flatMap((role) => roles[role] ?? []));
    const unmapped = [...byName.keys()].filter((n) => !mapped.has(n));
    if (unmapped.length > 0) {
      notices.push(notice({
        source, file: given, kind: 'unmapped-coco-categories', count: unmapped.length, examples: unmapped,
        message: `${unmapped.length} categor${unmapped.length === 1 ? 'y' : 'ies'} of the file are neither roi nor invalid in the policy's regions.coco; their annotations are not used`,
      }));
    }
  }
  if (outside.length > 0) {
    notices.push(notice({
      source, file: given, kind: 'coco-annotations-outside-image', count: outside.length, examples: outside,
      message: `${outside.length} annotation(s) lie wholly outside their image; ignored`,
    }));
  }

  const lookup = (relPath: string): CocoImage | undefined => {
    const p = normalizeRelPath(relPath);
    // The exact relative path first; then a bare COCO file_name (no folder, as in COCO's own files) equal to
    // the image's basename, so `file_name: "a.jpg"` serves `day1/a.jpg`.
    return byFile.get(p) ?? byFile.get(p.slice(p.lastIndexOf('/') + 1));
  };
  return {
    file,
    roles: mappedRoles,
    imageCount: byFile.size,
    lookup,
    images: () => byFile.values(),
    unmatched(images: readonly string[]): string[] {
      const used = new Set<CocoImage>();
      for (const image of images) {
        const found = lookup(image);
        if (found) used.add(found);
      }
      return [...byFile.values()].filter((im) => !used.has(im)).map((im) => im.fileName);
    },
    notices,
  };
}

/** True when the shape cannot cover any pixel of its image: its bounding box misses [0, width] x [0, height]. */
function outsideImage(shape: CocoShape, image: CocoImage): boolean {
  if (shape.kind === 'rle') return false; // RLE is stored at the image's size
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  const points = shape.kind === 'box'
    ? [[shape.box[0], shape.box[1]], [shape.box[0] + shape.box[2], shape.box[1] + shape.box[3]]]
    : shape.polygons.flat();
  for (const [x, y] of points) {
    x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
  }
  return x1 <= 0 || y1 <= 0 || x0 >= image.width || y0 >= image.height;
}

function parseShape(
  a: Json,
  at: string,
  image: CocoImage,
  fail: (path: string, problem: string) => never,
): { shape: CocoShape; path: string } {
  const seg = a.segmentation;
  const hasPolygons = Array.isArray(seg) && seg.length > 0;
  if (seg !== undefined && seg !== null && !Array.isArray(seg) && !isObj(seg)) {
    fail(`${at}.segmentation`, 'expected a list of polygons or an RLE object { size, counts }');
  }
  if (hasPolygons) {
    const polygons = (seg as unknown[]).map((poly, k): Point[] => {
      const p = `${at}.segmentation[${k}]`;
      if (!Array.isArray(poly) || !poly.every(isNum)) return fail(p, 'expected a flat list of numbers [x1, y1, x2, y2, ...]');
      if (poly.length % 2 !== 0) fail(p, `odd number of coordinates (${poly.length})`);
      if (poly.length < 6) fail(p, `a polygon needs at least 3 points, got ${poly.length / 2}`);
      const pts: Point[] = [];
      for (let j = 0; j < poly.length; j += 2) pts.push([poly[j] as number, poly[j + 1] as number]);
      return pts;
    });
    return { shape: { kind: 'polygons', polygons }, path: `${at}.segmentation` };
  }
  if (isObj(seg)) {
    const p = `${at}.segmentation`;
    const size = seg.size;
    if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v > 0)) {
      fail(`${p}.size`, 'expected [height, width]');
    }
    const [height, width] = size as [number, number];
    if (height !== image.height || width !== image.width) {
      fail(`${p}.size`, `[${height}, ${width}] differs from images[${image.index}] (height ${image.height}, width ${image.width})`);
    }
    let counts: number[];
    try {
      if (typeof seg.counts === 'string') counts = rleFromString(seg.counts);
      else if (Array.isArray(seg.counts)) counts = seg.counts as number[];
      else return fail(`${p}.counts`, 'expected a compressed string or a list of run lengths');
      rleDecode(counts, height, width); // validates totals; decoded again per image (cheap) to keep memory flat
    } catch (e) {
      if (e instanceof RleFormatError) return fail(`${p}.counts`, e.message);
      throw e;
    }
    return { shape: { kind: 'rle', counts, height, width }, path: p };
  }
  const bbox = a.bbox;
  if (bbox === undefined) return fail(at, 'has neither a segmentation nor a bbox');
  if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every(isNum)) return fail(`${at}.bbox`, 'expected [x, y, w, h]');
  if ((bbox[2] as number) < 0 || (bbox[3] as number) < 0) fail(`${at}.bbox`, 'width and height must be >= 0');
  return { shape: { kind: 'box', box: bbox as [number, number, number, number] }, path: `${at}.bbox` };
}

/** The image's masks for each mapped role in the model frame (all-zero when it has no such annotation). */
export async function rasterizeCocoImage(
  index: CocoIndex,
  image: CocoImage,
  g: Geometry,
): Promise<Record<RegionRole, Uint8Array | null>> {
  if (image.width !== g.srcWidth || image.height !== g.srcHeight) {
    throw new InputError(
      `images[${image.index}] (${image.fileName}) is ${image.width}x${image.height} but the decoded image is ` +
        `${g.srcWidth}x${g.srcHeight}: the annotations were made for another size or orientation`,
      index.file,
    );
  }
  const out: Record<RegionRole, Uint8Array | null> = { roi: null, invalid: null };
  for (const role of index.roles) out[role] = new Uint8Array(g.dstWidth * g.dstHeight);
  for (const { role, shape, path } of image.shapes) {
    const mask = out[role] as Uint8Array;
    if (shape.kind === 'polygons') for (const poly of shape.polygons) fillSourcePolygon(mask, g, poly);
    else if (shape.kind === 'box') fillSourceBox(mask, g, shape.box);
    else orInto(mask, await warpRle(shape, g, `${index.file}#${path}`));
  }
  return out;
}

/**
 * An RLE mask is raster data like a mask file, so it takes the mask files' path: imaging's resampler (the
 * image's own), then inside where the resampled value is > 127.5. A mask stored as PNG or as RLE thus gives the
 * same model-frame mask.
 */
async function warpRle(shape: Extract<CocoShape, { kind: 'rle' }>, g: Geometry, name: string): Promise<Uint8Array> {
  const { height, width } = shape;
  const binary = columnToRowMajor(rleDecode(shape.counts, height, width), height, width);
  const data = Buffer.from(binary.buffer, binary.byteOffset, binary.length);
  for (let i = 0; i < data.length; i++) data[i] *= 255;
  const values = await resampleToModel({ data, width, height, channels: 1 }, g, name);
  const mask = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) mask[i] = values[i] > 127.5 ? 1 : 0;
  return mask;
}

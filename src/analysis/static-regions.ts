import { ConfigError } from '../errors.ts';
import type { Geometry } from '../imaging/index.ts';
import { fillSourcePolygon, type Point } from './raster.ts';

/**
 * Fixed-camera regions: named boxes or polygons that hold for every image (a road, the sky, a timestamp
 * overlay), in source pixels or as fractions of the source width/height, rasterised in the model frame
 * through each image's geometry with pixel-centre sampling (raster.ts).
 */

export type RegionRole = 'roi' | 'invalid';
export const REGION_ROLES: readonly RegionRole[] = ['roi', 'invalid'];

export interface StaticRegion {
  name: string;
  role: RegionRole;
  /** [x, y, w, h] from the top-left corner. */
  box?: [number, number, number, number];
  /** [[x, y], ...], at least 3 vertices. */
  polygon?: [number, number][];
  /**
   * 'px' (default): source-image pixels, edge-based as in COCO ((0, 0) is the top-left corner of the image,
   * (srcWidth, srcHeight) the bottom-right one); 'fraction': the same divided by the source width (x) and
   * height (y), so [0, 0, 1, 1] is the whole image whatever its size.
   */
  units?: 'px' | 'fraction';
}

interface ParsedRegion {
  name: string;
  role: RegionRole;
  fraction: boolean;
  points: Point[];
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Validates the `static` list; `where` is its JSON path in the config (for messages). */
export function parseStaticRegions(value: unknown, where: string, configFile?: string): ParsedRegion[] {
  const fail = (path: string, problem: string): never => {
    throw new ConfigError(`${path}: ${problem}`, configFile);
  };
  if (!Array.isArray(value)) return fail(where, 'expected a list of regions');
  const names = new Set<string>();
  return value.map((r: unknown, i): ParsedRegion => {
    const at = `${where}[${i}]`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) return fail(at, 'expected an object');
    const region = r as Record<string, unknown>;
    for (const key of Object.keys(region)) {
      if (!['name', 'role', 'box', 'polygon', 'units'].includes(key)) fail(`${at}.${key}`, 'unknown key');
    }
    const { name, role, box, polygon } = region;
    const units = region.units ?? 'px';
    if (typeof name !== 'string' || name === '') fail(`${at}.name`, 'expected a non-empty string');
    if (names.has(name as string)) fail(`${at}.name`, `duplicate region name ${JSON.stringify(name)}`);
    names.add(name as string);
    if (!REGION_ROLES.includes(role as RegionRole)) {
      fail(`${at}.role`, `expected "roi" or "invalid" but received ${JSON.stringify(role)}`);
    }
    if (units !== 'px' && units !== 'fraction') {
      fail(`${at}.units`, `expected "px" or "fraction" but received ${JSON.stringify(units)}`);
    }
    if ((box === undefined) === (polygon === undefined)) fail(at, 'give exactly one of box or polygon');
    let points: Point[];
    if (box !== undefined) {
      if (!Array.isArray(box) || box.length !== 4 || !box.every(isNum)) {
        return fail(`${at}.box`, 'expected [x, y, w, h] with 4 finite numbers');
      }
      const [x, y, w, h] = box as number[];
      if (w <= 0 || h <= 0) fail(`${at}.box`, `width and height must be > 0, got ${w} x ${h}`);
      points = [
        [x, y],
        [x + w, y],
        [x + w, y + h],
        [x, y + h],
      ];
    } else {
      if (!Array.isArray(polygon) || polygon.length < 3) {
        return fail(`${at}.polygon`, 'expected at least 3 [x, y] vertices');
      }
      points = polygon.map((p: unknown, k): Point => {
        if (!Array.isArray(p) || p.length !== 2 || !p.every(isNum)) {
          return fail(`${at}.polygon[${k}]`, `expected [x, y] with 2 finite numbers, got ${JSON.stringify(p)}`);
        }
        return [p[0] as number, p[1] as number];
      });
    }
    if (units === 'fraction') {
      points.forEach((p, k) => {
        if (p.some((c) => c < 0 || c > 1)) {
          fail(`${at}.${box !== undefined ? 'box' : `polygon[${k}]`}`, `fraction coordinates must lie in [0, 1], got ${JSON.stringify(p)}`);
        }
      });
    }
    return { name: name as string, role: role as RegionRole, fraction: units === 'fraction', points };
  });
}

/** Rasterises every region of `role` into one model-frame mask (null when there is none of that role). */
export function rasterizeStaticRegions(regions: readonly ParsedRegion[], role: RegionRole, g: Geometry): Uint8Array | null {
  const mine = regions.filter((r) => r.role === role);
  if (mine.length === 0) return null;
  const out = new Uint8Array(g.dstWidth * g.dstHeight);
  for (const r of mine) {
    const points = r.fraction ? r.points.map(([x, y]): Point => [x * g.srcWidth, y * g.srcHeight]) : r.points;
    fillSourcePolygon(out, g, points);
  }
  return out;
}

export type { ParsedRegion as ParsedStaticRegion };

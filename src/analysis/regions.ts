import { ConfigError, InputError } from '../errors.ts';
import type { Geometry } from '../imaging/index.ts';
import { notice, type InputNotice } from '../notices.ts';
import { loadCoco, rasterizeCocoImage, type CocoIndex, type CocoRoleMap } from './coco.ts';
import { openMaskFolder, type MaskFolder } from './mask-files.ts';
import { resolveUri } from '../storage/location.ts';
import type { Storage } from '../storage/storage.ts';
import { orInto } from './masks.ts';
import {
  parseStaticRegions,
  rasterizeStaticRegions,
  type ParsedStaticRegion,
  type RegionRole,
  type StaticRegion,
} from './static-regions.ts';

/**
 * Regions per image: an `roi` mask (where the object is) and an `invalid` mask (pixels the model must not
 * rely on), both row-major 0/1 bytes in the model-input frame (dstHeight x dstWidth). Each is the union of
 * every configured source that covers the image, or null when none does:
 * - mask directories (`roiMasks`, `invalidMasks`): a missing file for an image means "no mask";
 * - COCO annotations: an image listed in the file gets a mask (maybe empty) for each role the map names;
 * - static regions: apply to every image.
 * An empty mask (all zeros) is a real answer ("annotated, nothing there"), unlike null.
 */

export interface RegionConfig {
  /** Directory of per-image invalid-pixel masks (same relative path as the image, any image extension). */
  invalidMasks?: string;
  /** Directory of per-image object masks. */
  roiMasks?: string;
  coco?: { file: string; categories: CocoRoleMap };
  static?: StaticRegion[];
}

export interface RegionSourceOptions {
  /**
   * Relative paths in the config resolve against this. Default: cwd. The pipeline's rule: command-line paths are
   * relative to the working directory, paths a policy names to the policy file (pipeline/inputs.ts).
   */
  baseDir?: string;
  /** The config file, named in ConfigErrors. */
  configFile?: string;
  /** Where mask folders and COCO files are read from (local, file:// or s3://); default: defaultStorage(). */
  storage?: Storage;
}

export interface ImageRegions {
  roi: Uint8Array | null;
  invalid: Uint8Array | null;
  /** What contributed, e.g. `invalidMasks:masks/a.png`, `coco:ann.json#images[3]`, `static:sky`. */
  sources: string[];
}

export interface RegionSource {
  /** Which roles some source may fill; a role no source can fill is null for every image. */
  readonly roles: readonly RegionRole[];
  forImage(relPath: string, geometry: Geometry): Promise<ImageRegions>;
  /**
   * What the sources hold that the run will not use, given the run's images: COCO notices (unknown categories,
   * unmapped categories, annotations off their image) and COCO images that are not among `images`.
   * @throws InputError when the COCO file describes none of the images
   */
  check(images: readonly string[]): InputNotice[];
}

const STATIC_CACHE_SIZE = 8;

export async function createRegionSource(config: RegionConfig, options: RegionSourceOptions = {}): Promise<RegionSource> {
  const { configFile } = options;
  const baseDir = options.baseDir ?? process.cwd();
  const fail = (at: string, problem: string): never => {
    throw new ConfigError(`${at}: ${problem}`, configFile);
  };
  for (const key of Object.keys(config)) {
    if (!['invalidMasks', 'roiMasks', 'coco', 'static'].includes(key)) fail(key, 'unknown key (expected invalidMasks, roiMasks, coco, static)');
  }
  const dirs: [RegionRole, MaskFolder][] = [];
  for (const [role, key] of [['roi', 'roiMasks'], ['invalid', 'invalidMasks']] as const) {
    const dir = config[key];
    if (dir === undefined) continue;
    if (typeof dir !== 'string' || dir === '') fail(key, 'expected a directory path');
    dirs.push([role, openMaskFolder(resolveUri(baseDir, dir, key), options.storage)]);
  }

  let coco: CocoIndex | null = null;
  if (config.coco !== undefined) {
    const { file, categories } = config.coco ?? {};
    if (typeof file !== 'string' || file === '') fail('coco.file', 'expected a file path');
    if (typeof categories !== 'object' || categories === null) fail('coco.categories', 'expected { roi?: [names], invalid?: [names] }');
    for (const [role, names] of Object.entries(categories)) {
      if (role !== 'roi' && role !== 'invalid') fail(`coco.categories.${role}`, 'unknown role (expected roi or invalid)');
      if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) fail(`coco.categories.${role}`, 'expected a list of category names');
    }
    coco = await loadCoco(resolveUri(baseDir, file, 'coco.file'), categories, configFile, { source: '--coco', given: file }, options.storage);
  }

  const statics: ParsedStaticRegion[] = config.static === undefined ? [] : parseStaticRegions(config.static, 'static', configFile);
  const staticCache = new Map<string, Record<RegionRole, Uint8Array | null>>();
  const staticMasks = (g: Geometry): Record<RegionRole, Uint8Array | null> => {
    // Fixed cameras give one geometry for the whole run: rasterise once per distinct geometry.
    const key = [g.srcWidth, g.srcHeight, g.dstWidth, g.dstHeight, g.scaleX, g.scaleY, g.offsetX, g.offsetY].join(',');
    let masks = staticCache.get(key);
    if (!masks) {
      masks = { roi: rasterizeStaticRegions(statics, 'roi', g), invalid: rasterizeStaticRegions(statics, 'invalid', g) };
      if (staticCache.size >= STATIC_CACHE_SIZE) staticCache.delete(staticCache.keys().next().value as string);
      staticCache.set(key, masks);
    }
    return masks;
  };

  const roles = (['roi', 'invalid'] as const).filter(
    (role) => dirs.some(([r]) => r === role) || coco?.roles.includes(role) || statics.some((s) => s.role === role),
  );

  return {
    roles,
    check(images: readonly string[]): InputNotice[] {
      if (!coco) return [];
      const unmatched = coco.unmatched(images);
      const given = config.coco!.file;
      if (coco.imageCount > 0 && unmatched.length === coco.imageCount) {
        throw new InputError(`none of its ${coco.imageCount} images is under --images (e.g. ${unmatched[0]})`, `--coco ${given}`);
      }
      const notices = [...coco.notices];
      if (unmatched.length > 0) {
        notices.push(notice({
          source: '--coco', file: given, kind: 'unmatched-coco-images', count: unmatched.length, examples: unmatched,
          message: `${unmatched.length} of the file's ${coco.imageCount} images are not under --images; their annotations are not used`,
        }));
      }
      return notices;
    },
    async forImage(relPath: string, g: Geometry): Promise<ImageRegions> {
      const result: ImageRegions = { roi: null, invalid: null, sources: [] };
      const add = (role: RegionRole, mask: Uint8Array | null, ...sources: string[]): void => {
        if (!mask) return;
        // Copy on first use: cached static masks must not be mutated by later unions or by callers.
        result[role] = result[role] ? orInto(result[role] as Uint8Array, mask) : Uint8Array.from(mask);
        for (const source of sources) if (!result.sources.includes(source)) result.sources.push(source);
      };
      const files = await Promise.all(dirs.map(([, folder]) => folder.load(relPath, g)));
      dirs.forEach(([role], i) => {
        const found = files[i];
        if (found) add(role, found.mask, `${role === 'roi' ? 'roiMasks' : 'invalidMasks'}:${found.file}`);
      });
      if (coco) {
        const image = coco.lookup(relPath);
        if (image) {
          const masks = await rasterizeCocoImage(coco, image, g);
          for (const role of coco.roles) add(role, masks[role], `coco:${coco.file}#images[${image.index}]`);
        }
      }
      if (statics.length > 0) {
        const masks = staticMasks(g);
        for (const role of ['roi', 'invalid'] as const) {
          add(role, masks[role], ...statics.filter((s) => s.role === role).map((s) => `static:${s.name}`));
        }
      }
      return result;
    },
  };
}

import { createHash } from 'node:crypto';
import type { Analyser, BatchItem } from '../analysis/types.ts';
import { BugError, ConfigError } from '../errors.ts';
import { ALL, Extremes, imageRef, metricKey, recordClassKey, recordMetrics } from '../gate/aggregator.ts';
import type { Policy } from '../gate/policy.ts';
import { encodeNpy, renderOverlay, type PreparedImage } from '../imaging/index.ts';
import { joinLocation, type Location } from '../storage/location.ts';
import type { Storage } from '../storage/storage.ts';
import type { ResultRecord, ResultsSink } from './sink.ts';

/**
 * The per-image files of a run (overlays/<image>.png, heatmaps/<image>.npy) and the report gallery's overlays.
 *
 * - `all`: every image gets an overlay, encoded off the inference path (the batch loop does not wait for it; the
 *   results line of an image is still written after its files, so resume redoes an image whose files are missing).
 * - `worst` (default): only the images someone looks at. `explain`: a fixed sample of `gallerySize` images (chosen
 *   from the image names, so a resumed run picks the same ones), written while streaming. `run`: nothing while
 *   streaming; the raw maps (layer resolution, a few hundred bytes) of the images that can still end up in the
 *   gallery are kept, and the gallery's overlays are rendered after the gate has picked its images.
 * - `none`: no overlay.
 */
export type OverlayMode = 'none' | 'worst' | 'all';

export const OVERLAY_MODES: readonly OverlayMode[] = ['none', 'worst', 'all'];

/** Images in the report gallery (and the `explain` sample) unless --gallery-size says otherwise. */
export const DEFAULT_GALLERY_SIZE = 12;

/** At most this many overlays are being encoded at once; the loop waits past that (memory stays flat). */
const MAX_PENDING_OVERLAYS = 32;

/** `--overlays` as the library takes it: a mode, or the older boolean (true = all, false = none). */
export function overlayMode(value: OverlayMode | boolean | undefined): OverlayMode {
  if (value === undefined) return 'worst';
  if (value === true) return 'all';
  if (value === false) return 'none';
  if (!OVERLAY_MODES.includes(value)) throw new ConfigError(`--overlays must be one of ${OVERLAY_MODES.join(', ')}, got "${String(value)}"`);
  return value;
}

/**
 * The `count` images whose name hashes lowest: a sample that does not depend on the order the images are listed or
 * processed in, and stays the same when a run resumes.
 */
export function sampleImages(images: readonly string[], count: number): Set<string> {
  if (count <= 0) return new Set();
  const keyed = images.map((image) => ({ image, key: createHash('sha1').update(image).digest('hex') }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return new Set(keyed.slice(0, count).map((k) => k.image));
}

/** A raw map kept for a gallery image. */
export interface KeptMap {
  cam: Float32Array;
  camHeight: number;
  camWidth: number;
}

/** What the gallery's rules rank images by: a metric over all images, or within each image's class. */
interface Watch {
  metric: string;
  perClass: boolean;
}

/**
 * The images that can still become the gallery of a `run`: for every metric a policy rule ranks by (per class for
 * class rules), the `keep` highest and lowest values so far, as the gate's Aggregator keeps them (same class key, same
 * ties: the earlier image stays). Their raw maps are kept; every other map is dropped. Bounded by
 * rules x slices x 2 keep maps, whatever the number of images.
 */
export class GalleryCandidates {
  private readonly watches: Watch[];
  private readonly ends = new Map<string, Extremes>();
  private readonly maps = new Map<string, KeptMap>();
  private live = 0;

  constructor(
    policy: Pick<Policy, 'rules' | 'baseline'>,
    private readonly keep: number,
  ) {
    const seen = new Set<string>();
    this.watches = [];
    for (const rule of [...policy.rules, ...policy.baseline]) {
      const watch = { metric: metricKey(rule.metric), perClass: rule.class !== undefined };
      const id = `${watch.metric}\0${watch.perClass}`;
      if (seen.has(id)) continue;
      seen.add(id);
      this.watches.push(watch);
    }
  }

  /** Offers an analysed image (its record carries the metrics); keeps its map while it is among the extremes. */
  offer(record: ResultRecord, map: KeptMap): void {
    if (this.keep <= 0) return;
    let wanted = false;
    const metrics = recordMetrics(record);
    const classKey = recordClassKey(record);
    for (const { metric, perClass } of this.watches) {
      const value = metrics[metric];
      if (typeof value !== 'number') continue;
      const id = `${perClass ? classKey : ALL}\0${metric}`;
      let ends = this.ends.get(id);
      if (!ends) this.ends.set(id, (ends = new Extremes(this.keep)));
      if (ends.offer(() => imageRef(record, metrics, classKey, value), value)) wanted = true;
    }
    if (!wanted) return;
    this.maps.set(record.image, { cam: map.cam, camHeight: map.camHeight, camWidth: map.camWidth });
    // Drop maps that fell out of every list once they are as many again as the live ones (amortised, bounded).
    if (this.maps.size > 2 * this.live + 64) this.prune();
  }

  get(image: string): KeptMap | undefined {
    return this.maps.get(image);
  }

  /** Maps held now (for the memory test). */
  get size(): number {
    return this.maps.size;
  }

  private prune(): void {
    const alive = new Set<string>();
    for (const { high, low } of this.ends.values()) for (const r of [...high, ...low]) alive.add(r.image);
    for (const image of this.maps.keys()) if (!alive.has(image)) this.maps.delete(image);
    this.live = this.maps.size;
  }
}

export interface ImageOutputOptions {
  overlays: OverlayMode;
  saveRaw: boolean;
  /** `worst` while streaming: the images that get an overlay now (explain's sample); none for `run`. */
  sample?: ReadonlySet<string>;
  /** `worst` for `run`: the candidates whose maps are kept for the gallery. */
  candidates?: GalleryCandidates;
}

/** Accounting for the timings report: overlays and raw maps written, and the time spent encoding them. */
export interface ImageOutputStats {
  overlaysWritten: number;
  rawMapsWritten: number;
  /** Wall time of overlay encodes and file writes, summed per image (they run beside the session). */
  encodeMs: number;
  /** Time the batch loop waited because MAX_PENDING_OVERLAYS encodes were already in flight. */
  backpressureMs: number;
}

/**
 * Writes the overlays and raw maps of analysed batches through the run's sink, beside the inference: `write` sets
 * the record fields now and returns the batch's writes, which the caller awaits before it appends the batch's
 * results lines (a line present means its files are there).
 */
export class ImageOutputWriter {
  private pending = 0;
  private readonly waiters: (() => void)[] = [];
  readonly stats: ImageOutputStats = { overlaysWritten: 0, rawMapsWritten: 0, encodeMs: 0, backpressureMs: 0 };

  constructor(
    private readonly sink: Pick<ResultsSink, 'writeFile'>,
    readonly options: ImageOutputOptions,
  ) {}

  /** Starts the files of a batch; the promise settles when they are all written. */
  async write(items: readonly BatchItem<ResultRecord>[]): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const item of items) {
      const { explanation: e, image } = item;
      this.options.candidates?.offer(item.record, { cam: e.cam, camHeight: e.camHeight, camWidth: e.camWidth });
      if (this.options.saveRaw) {
        const rel = `heatmaps/${image}.npy`;
        item.record.heatmap = rel;
        writes.push(this.sink.writeFile(rel, encodeNpy(e.cam, [e.camHeight, e.camWidth]), { durable: false }).then(() => void this.stats.rawMapsWritten++));
      }
      if (this.wantsOverlay(image)) {
        const rel = `overlays/${image}.png`;
        item.record.overlay = rel;
        await this.room();
        writes.push(this.overlay(rel, item.prepared, e, item.outlines));
      }
    }
    await Promise.all(writes);
  }

  /** Whether `image` gets an overlay while streaming: its reader must then keep the source pixels (`keepRgb`). */
  wantsOverlay(image: string): boolean {
    const { overlays, sample } = this.options;
    return overlays === 'all' || (overlays === 'worst' && sample !== undefined && sample.has(image));
  }

  /** Waits while MAX_PENDING_OVERLAYS are in flight. */
  private async room(): Promise<void> {
    if (this.pending < MAX_PENDING_OVERLAYS) return;
    const t = performance.now();
    await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.stats.backpressureMs += performance.now() - t;
  }

  private async overlay(rel: string, prepared: PreparedImage, map: KeptMap, outlines: BatchItem['outlines']): Promise<void> {
    this.pending++;
    const t = performance.now();
    try {
      const png = await renderOverlayPng(prepared, map, outlines);
      await this.sink.writeFile(rel, png, { durable: false });
      this.stats.overlaysWritten++;
    } finally {
      this.stats.encodeMs += performance.now() - t;
      this.pending--;
      this.waiters.shift()?.();
    }
  }
}

/** The overlay PNG of one image: its raw map over the source pixels, with region outlines. */
export function renderOverlayPng(prepared: PreparedImage, map: KeptMap, outlines?: BatchItem['outlines']): Promise<Buffer> {
  if (!prepared.rgb) throw new BugError('overlay of an image prepared without keepRgb');
  return renderOverlay({
    rgb: prepared.rgb,
    width: prepared.width,
    height: prepared.height,
    heatmap: map.cam,
    heatmapHeight: map.camHeight,
    heatmapWidth: map.camWidth,
    geometry: prepared.geometry,
    outlines,
  });
}

/** Reads and preprocesses one image again (the pipeline's readImage, with `keepRgb`): the prepared pixels, or why not. */
export type ReadPrepared = (image: string) => Promise<{ prepared: PreparedImage } | { error: string }>;

export interface GalleryRendererOptions {
  storage: Storage;
  /** The run's --out. */
  out: Location;
  candidates: GalleryCandidates;
  read: ReadPrepared;
  /** Region outlines for the overlay (the run's analyser), when the run has regions. */
  analyser?: Pick<Analyser, 'outlines'>;
}

/**
 * `run --overlays worst`: after the gate has picked the gallery, re-reads only those images and renders their
 * overlays from the kept raw maps (overlays/<image>.png under --out). An image whose map was not kept (explained by
 * an earlier process of a resumed run) gets no overlay, and the report says so.
 */
export class GalleryRenderer {
  constructor(private readonly options: GalleryRendererOptions) {}

  /** Renders what it can; returns image → overlay path (relative to --out) for those rendered. */
  async render(images: readonly string[]): Promise<Map<string, string>> {
    const { storage, out, candidates, read, analyser } = this.options;
    const rendered = new Map<string, string>();
    for (const image of new Set(images)) {
      const map = candidates.get(image);
      if (!map) continue;
      const got = await read(image);
      if ('error' in got) continue; // the image changed or vanished since it was explained: no picture, not a failure
      const outlines = (await analyser?.outlines?.(image, got.prepared.geometry)) ?? undefined;
      const png = await renderOverlayPng(got.prepared, map, outlines);
      const rel = `overlays/${image}.png`;
      await storage.write(joinLocation(out, rel), png);
      rendered.set(image, rel);
    }
    return rendered;
  }
}

import type { ImageRef, Summary } from '../gate/aggregator.ts';
import { aggregateFor, percentile } from '../gate/aggregates.ts';
import type { Verdict, WorstImages } from '../gate/verdict.ts';
import { joinUri, parseLocation } from '../storage/location.ts';
import { defaultStorage, type Storage } from '../storage/storage.ts';
import { loadGallery, type GalleryItem } from './gallery.ts';
import { renderReport, type SanityReport } from './html.ts';
import { kfpMetrics } from './kfp-metrics.ts';
import { renderSummaryMarkdown } from './summary-md.ts';

/** The files `writeGateOutputs` writes, by role. */
export interface GateOutputs {
  verdict: string;
  /** `pass` or `fail` and a newline: for Argo `outputs.parameters[].valueFrom.path` and shell tests. */
  verdictText: string;
  metrics: string;
  kfpMetrics: string;
  summary: string;
  report: string;
}

interface MetricEntry {
  name: string;
  value: number | null;
  isShare?: boolean;
}

/**
 * The scalar metrics, in priority order (Kubeflow keeps only the first 50): the verdict, counts, each
 * rule's measured value, then mean / median / p90 of every metric over all images.
 */
export function metricEntries(verdict: Verdict, summary: Summary): MetricEntry[] {
  const entries: MetricEntry[] = [
    { name: 'passed', value: verdict.verdict === 'pass' ? 1 : 0 },
    { name: 'images', value: verdict.counts.images },
    { name: 'processed', value: verdict.counts.processed },
    { name: 'errors', value: verdict.counts.errors },
    { name: 'failedImages', value: verdict.counts.failedImages },
  ];
  for (const rule of verdict.rules) {
    entries.push({ name: rule.name, value: rule.measured, isShare: rule.kind === 'value' && rule.isShare });
  }
  const mean = aggregateFor('mean')!;
  for (const metric of summary.metricNames) {
    const values = summary.overall.values[metric];
    if (!values || values.length === 0) continue;
    const isShare = metric === 'correct';
    entries.push({ name: `${metric}.mean`, value: mean.compute(values), isShare });
  }
  for (const metric of summary.metricNames) {
    const values = summary.overall.values[metric];
    if (!values || values.length === 0 || metric === 'correct') continue;
    entries.push({ name: `${metric}.median`, value: percentile(values, 50) });
    entries.push({ name: `${metric}.p90`, value: percentile(values, 90) });
  }
  return entries;
}

/**
 * Writes verdict.json, verdict.txt, metrics.json, mlpipeline-metrics.json, summary.md and report.html to
 * `outDir` (a local folder, file:// or an s3:// prefix) through its output target, each whole and atomically,
 * verdict.json last. The target is opened without results (`writesResults: false`): results.jsonl there is
 * left as it is. `galleries` default to the verdict's; their overlays are read from `outDir`.
 */
export async function writeGateOutputs(
  outDir: string,
  verdict: Verdict,
  summary: Summary,
  galleries: readonly WorstImages[] = verdict.galleries,
  storage: Storage = defaultStorage(),
): Promise<GateOutputs> {
  // Opening removes an old verdict.json first: a reader never pairs it with this run's other outputs.
  const target = await storage.openOutput(parseLocation(outDir, '--out'), { resume: false, writesResults: false });
  const at = (name: string) => joinUri(outDir, name);
  const paths: GateOutputs = {
    verdict: at('verdict.json'),
    verdictText: at('verdict.txt'),
    metrics: at('metrics.json'),
    kfpMetrics: at('mlpipeline-metrics.json'),
    summary: at('summary.md'),
    report: at('report.html'),
  };
  const entries = metricEntries(verdict, summary);
  const plain: Record<string, number> = {};
  for (const { name, value } of entries) if (value !== null && !(name in plain)) plain[name] = value;
  try {
    const sanity = await loadSanity(outDir, verdict.fingerprints.model, storage);
    const html = renderReport({ verdict, summary, galleries: await loadGalleries(outDir, galleries, storage), ...(sanity && { sanity }) });
    // The report and details first, verdict.json last: a reader that sees the verdict finds the rest in place.
    await target.writeFile('report.html', html);
    await target.writeFile('summary.md', renderSummaryMarkdown(verdict, paths.report));
    await target.writeFile('metrics.json', `${JSON.stringify(plain, null, 2)}\n`);
    await target.writeFile('mlpipeline-metrics.json', `${JSON.stringify(kfpMetrics(entries), null, 2)}\n`);
    await target.writeFile('verdict.txt', `${verdict.verdict}\n`);
    await target.writeFile('verdict.json', `${JSON.stringify(verdict, null, 2)}\n`);
  } finally {
    await target.close();
  }
  return paths;
}

/** The items of every gallery; an overlay in several galleries is read and encoded once. */
async function loadGalleries(outDir: string, galleries: readonly WorstImages[], storage: Storage): Promise<GalleryItem[][]> {
  const unique = new Map<string, ImageRef>();
  for (const ref of galleries.flatMap((g) => g.images)) if (!unique.has(ref.image)) unique.set(ref.image, ref);
  const loaded = await loadGallery(outDir, [...unique.values()], {}, storage);
  const byImage = new Map(loaded.map((item) => [item.image, item]));
  // Each gallery keeps its own ref (its value is the gallery's metric); the picture is shared.
  return galleries.map((g) => g.images.map((ref) => {
    const { src, missing } = byImage.get(ref.image)!;
    return { ...ref, ...(src !== undefined && { src }), ...(missing !== undefined && { missing }) };
  }));
}

/**
 * sanity.json that `heatgate sanity --out` left in the output folder, for the report: only when it is about the same
 * model (its sha256 matches the verdict's), so a stale check of another model is never shown.
 */
async function loadSanity(outDir: string, modelSha256: string | null, storage: Storage): Promise<SanityReport | undefined> {
  let text: string;
  try {
    text = (await storage.read(parseLocation(joinUri(outDir, 'sanity.json'), '--out'))).toString('utf8');
  } catch {
    return undefined; // none there (or unreadable): the report has no sanity section
  }
  try {
    const sanity = JSON.parse(text) as SanityReport;
    return modelSha256 !== null && sanity.modelSha256 === modelSha256 && Array.isArray(sanity.steps) && sanity.steps.length > 0 ? sanity : undefined;
  } catch {
    return undefined;
  }
}

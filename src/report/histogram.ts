import { formatNumber } from '../format.ts';
import { escapeHtml } from './escape.ts';

export interface Marker {
  x: number;
  label: string;
  tone: 'threshold' | 'measured';
}

export interface HistogramOptions {
  bins?: number;
  width?: number;
  height?: number;
  markers?: readonly Marker[];
  title?: string;
}

/** Bin counts over [lo, hi]; the last bin includes hi. */
export function binCounts(values: ArrayLike<number>, lo: number, hi: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  const span = hi - lo;
  for (let i = 0; i < values.length; i++) {
    const k = span > 0 ? Math.floor(((values[i] - lo) / span) * bins) : 0;
    counts[Math.min(bins - 1, Math.max(0, k))]++;
  }
  return counts;
}

/** The x range of a histogram: [0, 1] for metrics that live there (most do), else the data's range. */
export function domainOf(sorted: ArrayLike<number>): [number, number] {
  const min = sorted[0];
  const max = sorted[sorted.length - 1];
  if (min >= 0 && max <= 1) return [0, 1];
  if (min === max) return [min - 0.5, max + 0.5];
  return [min, max];
}

/** A histogram as inline SVG (no scripts, no external resources), with optional vertical markers. */
export function histogramSvg(sorted: ArrayLike<number>, options: HistogramOptions = {}): string {
  const bins = options.bins ?? 20;
  const width = options.width ?? 520;
  const height = options.height ?? 150;
  const pad = { left: 34, right: 10, top: 16, bottom: 24 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const [lo, hi] = domainOf(sorted);
  const counts = binCounts(sorted, lo, hi, bins);
  const top = Math.max(1, ...counts);
  const x = (v: number) => pad.left + ((v - lo) / (hi - lo)) * plotW;
  const barW = plotW / bins;
  const parts: string[] = [];
  parts.push(
    `<svg class="hist" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(options.title ?? 'histogram')}">`,
  );
  if (options.title) parts.push(`<title>${escapeHtml(options.title)}</title>`);
  parts.push(
    `<line class="axis" x1="${pad.left}" y1="${pad.top + plotH}" x2="${pad.left + plotW}" y2="${pad.top + plotH}"/>`,
    `<line class="grid" x1="${pad.left}" y1="${pad.top}" x2="${pad.left + plotW}" y2="${pad.top}"/>`,
    `<text class="tick" x="${pad.left - 4}" y="${pad.top + 4}" text-anchor="end">${top}</text>`,
    `<text class="tick" x="${pad.left - 4}" y="${pad.top + plotH}" text-anchor="end">0</text>`,
  );
  counts.forEach((count, i) => {
    if (count === 0) return;
    const h = (count / top) * plotH;
    const binLo = lo + ((hi - lo) * i) / bins;
    const binHi = lo + ((hi - lo) * (i + 1)) / bins;
    parts.push(
      `<rect class="bar" x="${(pad.left + i * barW + 0.5).toFixed(2)}" y="${(pad.top + plotH - h).toFixed(2)}" width="${Math.max(1, barW - 1).toFixed(2)}" height="${h.toFixed(2)}"><title>${formatNumber(binLo)}–${formatNumber(binHi)}: ${count}</title></rect>`,
    );
  });
  for (const tick of [lo, (lo + hi) / 2, hi]) {
    parts.push(
      `<text class="tick" x="${x(tick).toFixed(2)}" y="${height - 8}" text-anchor="middle">${formatNumber(tick)}</text>`,
    );
  }
  for (const marker of options.markers ?? []) {
    if (!(marker.x >= lo && marker.x <= hi)) continue;
    const mx = x(marker.x).toFixed(2);
    parts.push(
      `<line class="marker ${marker.tone}" x1="${mx}" y1="${pad.top - 4}" x2="${mx}" y2="${pad.top + plotH}"><title>${escapeHtml(marker.label)}</title></line>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}

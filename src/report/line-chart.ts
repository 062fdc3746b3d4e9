import { formatNumber } from '../format.ts';
import { escapeHtml } from './escape.ts';

export interface LineSeries {
  label: string;
  values: readonly number[];
  /** CSS colour of the line. */
  color: string;
  dashed?: boolean;
}

export interface LineChartOptions {
  width?: number;
  height?: number;
  /** y range; default [min, max] of the data, widened to include 0 and 1 where the data lies in [-1, 1]. */
  yDomain?: [number, number];
  /** Labels of the x positions (default 0..n-1), shown below the axis. */
  xLabels?: readonly string[];
  xTitle?: string;
  title?: string;
}

/**
 * An inline SVG line chart (no script): series over the same x positions, axes with the y range and the x labels,
 * a legend. Used for deletion/insertion curves and the sanity check's similarity per randomization step.
 */
export function lineChartSvg(series: readonly LineSeries[], options: LineChartOptions = {}): string {
  const width = options.width ?? 420, height = options.height ?? 220;
  const left = 44, right = 12, top = 14, bottom = 46;
  const n = Math.max(...series.map((s) => s.values.length), 2);
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const [lo, hi] = options.yDomain ?? [Math.min(0, ...all), Math.max(1, ...all)];
  const span = hi - lo || 1;
  const x = (i: number) => left + (i / (n - 1)) * (width - left - right);
  const y = (v: number) => top + (1 - (v - lo) / span) * (height - top - bottom);
  const lines = series.map((s) => {
    const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    return `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''} points="${points}"><title>${escapeHtml(s.label)}</title></polyline>`;
  });
  const ticks = [lo, (lo + hi) / 2, hi].map(
    (v) => `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="10">${escapeHtml(formatNumber(v))}</text>` +
      `<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
  );
  const labels = options.xLabels ?? Array.from({ length: n }, (_, i) => String(i));
  const every = Math.max(1, Math.ceil(labels.length / 10));
  const xTicks = labels.map((l, i) => (i % every === 0 || i === labels.length - 1 ? `<text x="${x(i)}" y="${height - bottom + 14}" text-anchor="middle" font-size="10">${escapeHtml(l)}</text>` : ''));
  const legend = series.map(
    (s, i) => `<line x1="${left + i * 130}" x2="${left + i * 130 + 18}" y1="${height - 10}" y2="${height - 10}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>` +
      `<text x="${left + i * 130 + 22}" y="${height - 6}" font-size="11">${escapeHtml(s.label)}</text>`,
  );
  const title = options.title ? `<title>${escapeHtml(options.title)}</title>` : '';
  const xTitle = options.xTitle ? `<text x="${(left + width - right) / 2}" y="${height - bottom + 28}" text-anchor="middle" font-size="10" fill="#666">${escapeHtml(options.xTitle)}</text>` : '';
  return (
    `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" xmlns="http://www.w3.org/2000/svg">${title}` +
    `${ticks.join('')}<line x1="${left}" x2="${left}" y1="${top}" y2="${height - bottom}" stroke="#999"/>${xTicks.join('')}${xTitle}${lines.join('')}${legend.join('')}</svg>`
  );
}

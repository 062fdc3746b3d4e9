/**
 * Kubeflow Pipelines v1 metrics (`mlpipeline-metrics.json`, REFERENCE.md §5): names must match
 * KFP_METRIC_NAME and the backend keeps at most 50 metrics per run, dropping the rest.
 */
export const KFP_METRIC_NAME = /^[a-zA-Z]([-_a-zA-Z0-9]{0,62}[a-zA-Z0-9])?$/;
export const KFP_MAX_METRICS = 50;

export interface KfpMetric {
  name: string;
  numberValue: number;
  format: 'RAW' | 'PERCENTAGE';
}

/** Maps any name onto KFP's pattern: other characters become '-', a letter leads, 64 characters at most. */
export function kfpMetricName(name: string): string {
  let out = name.replace(/[^-_a-zA-Z0-9]+/g, '-');
  if (!/^[a-zA-Z]/.test(out)) out = `m-${out}`;
  out = out.slice(0, 64).replace(/[-_]+$/, '');
  return out || 'metric';
}

/**
 * Builds the file content from entries in priority order: names are made valid and unique (a numeric
 * suffix on collisions), non-finite values are left out, and only the first 50 are kept.
 */
export function kfpMetrics(entries: readonly { name: string; value: number | null; isShare?: boolean }[]): {
  metrics: KfpMetric[];
} {
  const used = new Set<string>();
  const metrics: KfpMetric[] = [];
  for (const entry of entries) {
    if (metrics.length === KFP_MAX_METRICS) break;
    if (entry.value === null || !Number.isFinite(entry.value)) continue;
    const base = kfpMetricName(entry.name);
    let name = base;
    for (let n = 2; used.has(name); n++) {
      const suffix = `-${n}`;
      name = `${base.slice(0, 64 - suffix.length).replace(/[-_]+$/, '')}${suffix}`;
    }
    used.add(name);
    metrics.push({ name, numberValue: entry.value, format: entry.isShare ? 'PERCENTAGE' : 'RAW' });
  }
  return { metrics };
}

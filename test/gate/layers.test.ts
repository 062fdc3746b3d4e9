import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Relative import specifiers of every .ts file under `dir`, resolved to paths under src/. */
function importsUnder(dir: string): { file: string; target: string }[] {
  const out: { file: string; target: string }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)) {
      out.push({ file: relative('src', file), target: relative('src', resolve(entry.parentPath, m[1])) });
    }
  }
  return out;
}

describe('layers point one way: the gate decides, the report renders', () => {
  it('nothing in src/gate imports src/report', () => {
    const upward = importsUnder('src/gate').filter((i) => i.target.startsWith('report/'));
    expect(upward).toEqual([]);
  });

  it('rendering lives in src/report: outputs, summary.md and the Kubeflow metrics file', () => {
    const gateFiles = readdirSync('src/gate');
    for (const name of ['outputs.ts', 'summary-md.ts', 'kfp-metrics.ts']) expect(gateFiles).not.toContain(name);
    expect(readdirSync('src/report')).toEqual(expect.arrayContaining(['outputs.ts', 'summary-md.ts', 'kfp-metrics.ts']));
  });

  it('the public entry point still exports the moved functions', async () => {
    const api = await import('../../src/index.ts');
    for (const name of ['gateResults', 'writeGateOutputs', 'metricEntries', 'kfpMetrics', 'kfpMetricName', 'formatNumber', 'evaluatePolicy', 'loadPolicy']) {
      expect(typeof (api as Record<string, unknown>)[name], name).toBe('function');
    }
  });
});

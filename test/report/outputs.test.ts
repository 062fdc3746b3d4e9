import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, InputError } from '../../src/errors.ts';
import { writeFileAtomic } from '../../src/storage/atomic.ts';
import { evaluatePolicy } from '../../src/gate/evaluate.ts';
import { KFP_MAX_METRICS, KFP_METRIC_NAME, kfpMetricName, kfpMetrics } from '../../src/report/kfp-metrics.ts';
import { writeGateOutputs } from '../../src/report/outputs.ts';
import { markdownText, renderSummaryMarkdown } from '../../src/report/summary-md.ts';
import { overlayPng } from '../gate/fixture.ts';
import { img, policyFrom, summarise } from '../gate/helpers.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'heatgate-out-'));

describe('Kubeflow metric names', () => {
  it.each([
    ['mean-invalid-mass', 'mean-invalid-mass'],
    ['mean-invalid-mass[pedestrian]', 'mean-invalid-mass-pedestrian'],
    ['invalidMass.p90', 'invalidMass-p90'],
    ['9lives', 'm-9lives'],
    ['rule with spaces / slashes', 'rule-with-spaces-slashes'],
    ['', 'm'],
    ['x_', 'x'],
  ])('%j -> %j', (name, expected) => {
    expect(kfpMetricName(name)).toBe(expected);
    expect(expected).toMatch(KFP_METRIC_NAME);
  });

  it('truncates to 64 characters and still matches the pattern', () => {
    const name = kfpMetricName(`${'a'.repeat(63)}-b`);
    expect(name).toBe('a'.repeat(63));
    expect(kfpMetricName('a'.repeat(100))).toHaveLength(64);
  });

  it('keeps at most 50 valid, unique names, drops nulls, marks shares as PERCENTAGE', () => {
    const entries = [
      { name: 'r[a]', value: 1 },
      { name: 'r-a', value: 2 },
      { name: 'skip', value: null },
      { name: 'share', value: 0.25, isShare: true },
      ...Array.from({ length: 60 }, (_, i) => ({ name: `m${i}`, value: i })),
    ];
    const { metrics } = kfpMetrics(entries);
    expect(metrics).toHaveLength(KFP_MAX_METRICS);
    expect(metrics.slice(0, 3)).toEqual([
      { name: 'r-a', numberValue: 1, format: 'RAW' },
      { name: 'r-a-2', numberValue: 2, format: 'RAW' },
      { name: 'share', numberValue: 0.25, format: 'PERCENTAGE' },
    ]);
    for (const m of metrics) expect(m.name).toMatch(KFP_METRIC_NAME);
    expect(new Set(metrics.map((m) => m.name)).size).toBe(metrics.length);
  });
});

describe('writeFileAtomic', () => {
  it('leaves the old file intact and no temp file when writing fails midway', async () => {
    const dir = tmp();
    const path = join(dir, 'verdict.json');
    writeFileSync(path, '{"verdict":"pass"}');
    async function* chunks() {
      yield '{"verdict":';
      throw new InputError('source broke');
    }
    await expect(writeFileAtomic(path, chunks())).rejects.toThrow('source broke');
    expect(readFileSync(path, 'utf8')).toBe('{"verdict":"pass"}');
    expect(readdirSync(dir)).toEqual(['verdict.json']);
  });

  it('cleans up and reports a ConfigError (exit 2: the path is unusable, a retry will not help) when the rename fails', async () => {
    const dir = tmp();
    const target = join(dir, 'report.html');
    mkdirSync(join(target, 'occupied'), { recursive: true }); // a non-empty directory cannot be replaced
    const error = await writeFileAtomic(target, 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/report\.html: cannot write output file \((EISDIR|ENOTEMPTY|EEXIST)/);
    expect(readdirSync(dir)).toEqual(['report.html']);
  });

  it('replaces an existing file with the complete new content', async () => {
    const dir = tmp();
    const path = join(dir, 'a.txt');
    writeFileSync(path, 'old');
    await writeFileAtomic(path, ['n', 'e', Buffer.from('w')]);
    expect(readFileSync(path, 'utf8')).toBe('new');
  });
});

describe('writeGateOutputs', () => {
  // 30 metrics x 3 summary values + rules: more than Kubeflow's 50.
  const metricNames = Array.from({ length: 30 }, (_, i) => `metric${i}`);
  const records = [0.1, 0.3, 0.8].map((v, k) =>
    img(Object.fromEntries([['invalidMass', v], ...metricNames.map((m, i) => [m, i + k])]), { image: `i${k}.png` }),
  );
  const policy = policyFrom(
    'version: 1\nrules:\n  - {name: mean-im, metric: invalidMass, max: 0.2}\n  - {name: share, metric: invalidMass, aggregate: shareAbove, value: 0.5, max: 1}\n',
  );
  const summary = summarise(records, policy);
  const verdict = evaluatePolicy(policy, summary);

  it('writes every output, completely, with no temp files left behind', async () => {
    const dir = join(tmp(), 'nested', 'out');
    const paths = await writeGateOutputs(dir, verdict, summary);
    expect(readdirSync(dir).sort()).toEqual([
      'metrics.json',
      'mlpipeline-metrics.json',
      'report.html',
      'summary.md',
      'verdict.json',
      'verdict.txt',
    ]);
    expect(JSON.parse(readFileSync(paths.verdict, 'utf8'))).toEqual(JSON.parse(JSON.stringify(verdict)));
    expect(readFileSync(paths.verdictText, 'utf8')).toBe('fail\n');
    expect(readFileSync(paths.report, 'utf8')).toMatch(/<\/html>$/);
  });

  it('metrics.json is a flat name -> number map with the counts, rule values and metric summaries', async () => {
    const paths = await writeGateOutputs(tmp(), verdict, summary);
    const metrics = JSON.parse(readFileSync(paths.metrics, 'utf8')) as Record<string, number>;
    // failedImages: i2 (0.8) is above the share rule's per-image threshold 0.5.
    expect(metrics).toMatchObject({ passed: 0, images: 3, processed: 3, errors: 0, failedImages: 1 });
    expect(metrics['mean-im']).toBeCloseTo(0.4, 12);
    expect(metrics.share).toBeCloseTo(1 / 3, 12);
    expect(metrics['invalidMass.mean']).toBeCloseTo(0.4, 12);
    expect(metrics['invalidMass.median']).toBe(0.3);
    expect(metrics['invalidMass.p90']).toBeCloseTo(0.7, 12); // h = 2 * 0.9 = 1.8 -> 0.3 + 0.8 * 0.5
    expect(metrics['metric5.mean']).toBe(6);
    for (const v of Object.values(metrics)) expect(typeof v).toBe('number');
  });

  it('mlpipeline-metrics.json follows the Kubeflow v1 format: valid names, at most 50, verdict first', async () => {
    const paths = await writeGateOutputs(tmp(), verdict, summary);
    const { metrics } = JSON.parse(readFileSync(paths.kfpMetrics, 'utf8')) as { metrics: { name: string; numberValue: number; format: string }[] };
    expect(metrics).toHaveLength(50);
    expect(metrics[0]).toEqual({ name: 'passed', numberValue: 0, format: 'RAW' });
    expect(metrics.find((m) => m.name === 'share')).toMatchObject({ format: 'PERCENTAGE' });
    for (const m of metrics) {
      expect(m.name).toMatch(KFP_METRIC_NAME);
      expect(Number.isFinite(m.numberValue)).toBe(true);
      expect(['RAW', 'PERCENTAGE']).toContain(m.format);
    }
  });

  it('summary.md says why it failed, which images, and where the report is', async () => {
    const paths = await writeGateOutputs(tmp(), verdict, summary);
    const md = readFileSync(paths.summary, 'utf8');
    expect(md).toMatch(/^# heatgate gate: FAIL\n/);
    expect(md).toContain('## Why it failed\n\n- mean-im: mean invalidMass = 0.4, above the maximum 0.2\n');
    expect(md).toContain('| 1 | i2.png | cat | 0.8 |');
    expect(md).toContain(`Full report with heatmap overlays: ${markdownText(paths.report)}`);
  });
});

describe('summary.md escapes every value that comes from the inputs', () => {
  const hostile = '<img src=x onerror=alert(1)>.png';
  const breaking = ['a|b.png', '*bold*_x_.png', 'tick`code`.png', 'two\nlines.png', '[link](javascript:alert(1)).png', '# heading.png'];
  const policy = policyFrom(`version: 1
description: "policy <b>bold</b> | pipe"
rules:
  - {name: im, metric: invalidMass, max: 0.2, description: "desc <script>x</script>"}
  - {name: each, metric: invalidMass, class: each, max: 0.9}
  - {name: quiet, metric: roiMass, min: 0.1, ifNoData: skip}
`);
  const records = [hostile, ...breaking].map((image, i) =>
    img({ invalidMass: 0.5 + i / 100 }, { image, target: i % 2, className: i % 2 ? '<svg onload=alert(2)>' : 'cat|*dog*' }),
  );
  const verdict = evaluatePolicy(policy, summarise(records, policy), undefined, {
    notices: [{ source: '--images', file: 'in/<x>', kind: 'skipped-files', count: 1, examples: [hostile], message: 'skipped `notes` <u>1</u>' }],
  });
  const md = renderSummaryMarkdown({ ...verdict, policy: { ...verdict.policy, file: 'pol|<i>cy</i>.yaml' } }, 'out/<report>.html');
  const lines = md.split('\n');

  it('no raw HTML from inputs survives', () => {
    expect(md).not.toContain(hostile);
    expect(md).not.toMatch(/<(img|script|svg|b|i|u|x|report)\b/);
    expect(md).toContain('&lt;img src=x onerror=alert(1)&gt;.png');
    expect(md).toContain('&lt;svg onload=alert(2)&gt;');
  });

  it('table rows keep their column count whatever the names hold', () => {
    // An escaped pipe (\\|) is text; every other | separates cells.
    const cells = (row: string) => row.replace(/\\\|/g, '').split('|').length - 2;
    const rows = lines.filter((l) => l.startsWith('| '));
    // Worst images: 4 columns; rules: 8; checks: 4.
    expect(rows.filter((r) => cells(r) === 8)).toHaveLength(1 + verdict.rules.length);
    const galleryRows = verdict.galleries.reduce((n, g) => n + 1 + g.images.length, 0);
    expect(rows.filter((r) => cells(r) === 4)).toHaveLength(galleryRows + 1 + verdict.checks.length);
    expect(rows.every((r) => cells(r) === 8 || cells(r) === 4)).toBe(true);
  });

  it('Markdown syntax in names is escaped, and a newline in a name does not start a new line', () => {
    expect(md).toContain('a\\|b.png');
    expect(md).toContain('\\*bold\\*\\_x\\_.png');
    expect(md).toContain('tick\\`code\\`.png');
    expect(md).toContain('two lines.png');
    expect(md).toContain('\\[link\\](javascript:alert(1)).png');
    expect(md).toContain('\\# heading.png');
    expect(lines.some((l) => l.startsWith('lines.png'))).toBe(false);
    expect(md).toContain('Policy: pol\\|&lt;i&gt;cy&lt;/i&gt;.yaml.');
    expect(md).toContain('Full report with heatmap overlays: out/&lt;report&gt;.html');
  });

  it('lists skipped rules with the reason and the input notices', () => {
    expect(md).toContain('## Skipped rules');
    expect(md).toMatch(/- quiet: skipped \(ifNoData: skip\): no image has metric roiMass; roiMass needs object regions \(ROI\): --roi-masks/);
    expect(md).toContain('## Input notices');
    expect(md).toContain('- --images in/&lt;x&gt;: skipped \\`notes\\` &lt;u&gt;1&lt;/u&gt; \\[skipped-files, 1\\] (e.g. &lt;img src=x onerror=alert(1)&gt;.png)');
  });

  it('markdownText escapes HTML, Markdown punctuation and line breaks', () => {
    expect(markdownText('<a href="x">&</a>')).toBe('&lt;a href="x"&gt;&amp;&lt;/a&gt;');
    expect(markdownText('a|b*c_d`e[f]g~h#i\\j')).toBe('a\\|b\\*c\\_d\\`e\\[f\\]g\\~h\\#i\\\\j');
    expect(markdownText('one\r\ntwo\nthree')).toBe('one two three');
  });
});

describe('one gallery per failed or warned rule in summary.md and report.html', () => {
  const policy = policyFrom(
    'version: 1\nrules:\n  - {name: mean-im, metric: invalidMass, max: 0.2}\n  - {name: fine, metric: invalidMass, max: 1}\n' +
      '  - {name: roi, metric: roiMass, min: 0.9, severity: warn}\n',
  );
  // invalidMass ranks i2, i1, i0 from the top; roiMass ranks i3, i0, i1 from the bottom.
  const records = [
    [0.1, 0.3],
    [0.3, 0.5],
    [0.8, 0.95],
    [0.05, 0.1],
  ].map(([invalidMass, roiMass], k) => img({ invalidMass, roiMass }, { image: `i${k}.png`, overlay: `overlays/i${k}.png` }));
  const summary = summarise(records, policy);
  const verdict = evaluatePolicy(policy, summary, undefined, { worstCount: 3 });

  it('summary.md has one worst-images table per gallery, failure first, each headed with its rule', async () => {
    const dir = tmp();
    const paths = await writeGateOutputs(dir, verdict, summary);
    const md = readFileSync(paths.summary, 'utf8');
    const tables = md.split('\n## ').filter((part) => part.startsWith('Worst images')).map((part) => {
      const lines = part.split('\n');
      return [lines[0], lines.filter((l) => /^\| \d/.test(l)).map((l) => l.split(' | ')[1])];
    });
    expect(tables).toEqual([
      ['Worst images behind the failing rule mean-im (highest invalidMass)', ['i2.png', 'i1.png', 'i0.png']],
      ['Worst images behind the warning roi (lowest roiMass)', ['i3.png', 'i0.png', 'i1.png']],
    ]);
  });

  it('report.html embeds each gallery\'s overlays in its own section, an image shared by both in each', async () => {
    const dir = tmp();
    for (const k of [0, 1, 2, 3]) await overlayPng(join(dir, 'overlays', `i${k}.png`), 0.2 * k, 0.5);
    const paths = await writeGateOutputs(dir, verdict, summary);
    const html = readFileSync(paths.report, 'utf8');
    const sections = [...html.matchAll(/<section id="gallery[^"]*" class="gallery-section">([\s\S]*?)<\/section>/g)].map((m) => m[1]);
    expect(sections).toHaveLength(2);
    expect(sections[0]).toContain('<span class="mono">mean-im</span>');
    expect(sections[1]).toContain('<span class="mono">roi</span>');
    for (const section of sections) {
      expect(section.match(/<img src="data:image\/jpeg;base64,/g)).toHaveLength(3);
      expect(section).not.toContain('placeholder');
    }
  });
});


import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { evaluatePolicy } from '../../src/gate/evaluate.ts';
import { loadGallery } from '../../src/report/gallery.ts';
import { renderReport } from '../../src/report/html.ts';
import { overlayPng } from '../gate/fixture.ts';
import { failed, img, policyFrom, summarise } from '../gate/helpers.ts';

describe('loadGallery', () => {
  it('embeds overlays from the out dir as downscaled JPEG data URIs and refuses paths outside it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'heatgate-gallery-'));
    await overlayPng(join(out, 'overlays', 'big.png'), 0.5, 0.5, 1280, 960);
    const refs = [
      img({ m: 1 }, { overlay: 'overlays/big.png' }),
      img({ m: 1 }, { overlay: 'overlays/none.png' }),
      img({ m: 1 }, { overlay: '../../etc/passwd' }),
      img({ m: 1 }),
    ].map((r) => ({ image: r.image, value: 1, classKey: '0', metrics: r.metrics!, ...(r.overlay && { overlay: r.overlay }) }));
    const [big, missing, outside, none] = await loadGallery(out, refs, { maxSide: 320 });
    expect(big.src).toMatch(/^data:image\/jpeg;base64,/);
    const meta = await sharp(Buffer.from(big.src!.split(',')[1], 'base64')).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 320, 240]);
    expect(missing).toMatchObject({ missing: 'overlay not found: overlays/none.png' });
    expect(missing.src).toBeUndefined();
    expect(outside).toMatchObject({ missing: 'overlay path is outside the out dir' });
    expect(none).toMatchObject({ missing: 'no overlay recorded' });
  });
});

describe('renderReport', () => {
  const policy = policyFrom(`version: 1
description: Test <policy>
rules:
  - {name: mean-im, metric: invalidMass, max: 0.2, description: "keep it <low>"}
  - {name: acc, metric: accuracy, min: 0.5}
  - {name: per-class, metric: invalidMass, class: each, max: 0.8, severity: warn}
  - {name: nothing, metric: roiMass, max: 1, ifNoData: skip}
`);
  const records = [
    img({ invalidMass: 0.9, correct: 1 }, { image: '<script>alert(1)</script>.png', overlay: 'o.png' }),
    img({ invalidMass: 0.1, correct: 0 }, { image: 'b.png', target: 1, className: 'dog' }),
    failed('c.png'),
  ];
  const summary = summarise(records, policy);
  const hostile = '<img src=x onerror=alert(1)>.png';
  const verdict = evaluatePolicy(policy, summary, undefined, {
    notices: [
      { source: '--images', file: 'data/<b>imgs</b>', kind: 'skipped-files', count: 2, examples: [hostile, 'notes.txt'], message: 'skipped 2 files that are not images <i>here</i>' },
    ],
  });
  const galleries = verdict.galleries.map((g, n) =>
    g.images.map((ref, i) => (n === 0 && i === 0 ? { ...ref, src: 'data:image/png;base64,iVBORw0KGgo=' } : { ...ref, missing: 'overlay not found' })),
  );
  const html = renderReport({ verdict, summary, galleries });

  it('shows the verdict and one row per rule result with its outcome', () => {
    expect(verdict.verdict).toBe('fail');
    expect(html).toContain('<div class="word">FAIL</div>');
    const rows = [...html.matchAll(/<tr class="(pass|fail|warn|skipped)"><td><span class="badge \1">\1<\/span><\/td><td class="rule"><div class="mono">([^<]+)</g)];
    expect(rows.map((m) => [m[2], m[1]])).toEqual([
      ['mean-im', 'fail'],
      ['acc', 'pass'],
      ['per-class[cat]', 'warn'],
      ['per-class[dog]', 'pass'],
      ['nothing', 'skipped'],
    ]);
  });

  it('names skipped rules in the banner, so a skip is never a silent pass', () => {
    expect(html).toMatch(/<div class="skipped-note">Skipped for lack of data, not counted towards the verdict: <code>nothing<\/code>\./);
    // ... and why, rule by rule.
    expect(html).toMatch(/<ul class="skipped"><li><code>nothing<\/code>: skipped \(ifNoData: skip\): no image has metric roiMass; roiMass needs object regions \(ROI\): --roi-masks/);
  });

  it('escapes every user-controlled string', () => {
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;.png');
    expect(html).toContain('keep it &lt;low&gt;');
    expect(html).toContain('Test &lt;policy&gt;');
  });

  it('lists the input notices, escaped', () => {
    expect(html).toMatch(/<section id="notices"><h2>Input notices<span class="sub">1<\/span><\/h2>/);
    expect(html).toContain('<td class="num">2</td>');
    expect(html).not.toContain(hostile);
    expect(html).not.toContain('<b>imgs</b>');
    expect(html).not.toContain('<i>here</i>');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;.png');
    expect(html).toContain('skipped 2 files that are not images &lt;i&gt;here&lt;/i&gt;');
  });

  it('shows on how many images each rule was computed', () => {
    expect(html).toContain('<div class="delta" title="images on which the metric was computed">2 of 2 (100 %)</div>');
  });

  it('is self-contained: no external URLs, one inline script and style', () => {
    expect(html).not.toMatch(/(src|href)="(?!data:)[^"#]/);
    expect(html).not.toMatch(/url\(/);
    expect(html.match(/<script>/g)).toHaveLength(1);
    expect(html.match(/<style>/g)).toHaveLength(1);
  });

  it('has one gallery section per failed or warned rule, titled with the rule, failures first', () => {
    const sections = [...html.matchAll(/<section id="(gallery[^"]*)" class="gallery-section"><h2>Worst images ([^<]+)<span class="mono">([^<]+)<\/span><span class="sub">([^<]+)<\/span>/g)];
    expect(sections.map((m) => [m[1], m[2].trim(), m[3], m[4]])).toEqual([
      ['gallery', 'behind the failing rule', 'mean-im', 'highest invalidMass'],
      ['gallery-2', 'behind the warning', 'per-class[cat]', 'highest invalidMass in class cat'],
    ]);
    // The warning's gallery holds only its class's image.
    const second = html.slice(html.indexOf('<section id="gallery-2"'));
    expect(second.slice(0, second.indexOf('</section>')).match(/<figure>/g)).toHaveLength(1);
  });

  it('has the gallery with embedded pictures and placeholders, the classes, histograms, errors and fingerprints', () => {
    expect(html).toContain('<img src="data:image/png;base64,iVBORw0KGgo="');
    expect(html).toContain('<div class="placeholder">overlay not found</div>');
    expect(html).toMatch(/<section id="classes">[\s\S]*<td>cat <span class="muted">#0<\/span><\/td><td class="num">1<\/td>/);
    expect(html.match(/<svg class="hist"/g)).toHaveLength(2); // invalidMass and correct
    expect(html).toMatch(/<section id="errors">[\s\S]*c\.png[\s\S]*decode failed/);
    expect(html).toContain(verdict.fingerprints.policy);
    expect(html).toContain(`${verdict.tool.name} ${verdict.tool.version}`);
  });
});

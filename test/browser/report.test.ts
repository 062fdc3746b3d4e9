import { mkdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateResults, type GateResult } from '../../src/report/gate-results.ts';
import { buildFixture } from '../gate/fixture.ts';

// Runs under `npm run test:slow` (needs Debian's /usr/bin/chromium). Opens the real report from file://.
describe('report.html in Chromium', () => {
  let browser: Browser;
  let result: GateResult;

  beforeAll(async () => {
    const fixture = await buildFixture();
    result = await gateResults({ results: fixture.results, baselineResults: fixture.baseline, outDir: fixture.outDir });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('shows the verdict, every rule row and loads every gallery image, without errors', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(result.outputs.report).href, { waitUntil: 'load' });

    expect(result.verdict.verdict).toBe('fail');
    await expect(page.locator('#verdict .word').textContent()).resolves.toBe('FAIL');
    await expect(page.title()).resolves.toBe('heatgate gate: FAIL');

    const rows = page.locator('table.rules tbody tr');
    await expect(rows.count()).resolves.toBe(result.verdict.rules.length);
    for (const [i, rule] of result.verdict.rules.entries()) {
      const row = rows.nth(i);
      await expect(row.locator('.badge').textContent()).resolves.toBe(rule.outcome);
      await expect(row.locator('td').nth(1).textContent()).resolves.toContain(rule.name);
    }
    await expect(page.locator('table.checks tbody tr').count()).resolves.toBe(2);

    const images = page.locator('#gallery figure img');
    await expect(images.count()).resolves.toBe(12);
    // The tsconfig has no DOM lib: describe the two properties read.
    type Img = { complete: boolean; naturalWidth: number };
    const widths = await images.evaluateAll((els) => (els as unknown as Img[]).map((el) => (el.complete ? el.naturalWidth : 0)));
    expect(widths.every((w) => w > 0)).toBe(true);

    // One histogram per metric with values, one row per class.
    await expect(page.locator('svg.hist').count()).resolves.toBe(8);
    await expect(page.locator('#classes tbody tr').count()).resolves.toBe(2);

    // The lightbox opens on click and closes on Escape.
    await images.first().click();
    await expect(page.locator('#lightbox.open').count()).resolves.toBe(1);
    await page.keyboard.press('Escape');
    await expect(page.locator('#lightbox.open').count()).resolves.toBe(0);

    expect(problems).toEqual([]);
    // Self-contained: the page itself is the only request (images are data: URIs).
    expect(requests.filter((url) => !url.startsWith('data:'))).toEqual([pathToFileURL(result.outputs.report).href]);

    mkdirSync('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/report.png', fullPage: true });
    await page.close();
  });
});

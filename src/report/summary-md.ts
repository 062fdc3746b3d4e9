import { formatNumber, formatPercent } from '../format.ts';
import type { RuleResult, Verdict, WorstImages } from '../gate/verdict.ts';
import type { InputNotice } from '../notices.ts';

/**
 * Any value that came from the inputs (image, class, rule and file names, descriptions, messages, notices) as
 * inert Markdown text: the Kubeflow UI renders summary.md, so `<img src=x onerror=...>` must stay text and a
 * `*`, `|` or backtick in a file name must not change the page. HTML's three specials become entities; the
 * punctuation that opens Markdown inline syntax (emphasis, code, links, tables, strikethrough, headings) is
 * backslash-escaped; line breaks become spaces, so a value never starts a line (no list or heading markers).
 */
export function markdownText(text: string | number | null | undefined): string {
  return String(text ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|~#]/g, (c) => `\\${c}`)
    .replace(/\r\n?|\n/g, ' ');
}

const md = markdownText;

function shown(rule: RuleResult): string {
  if (rule.measured === null) return '–';
  if (rule.kind === 'change') {
    const d = rule.change === 'relative' ? formatPercent(rule.measured) : formatNumber(rule.measured);
    return `${formatNumber(rule.current)} (Δ ${d})`;
  }
  return rule.isShare ? formatPercent(rule.measured) : formatNumber(rule.measured);
}

function threshold(rule: RuleResult): string {
  const pct = rule.isShare || (rule.kind === 'change' && rule.change === 'relative');
  const f = (x: number) => (pct ? formatPercent(x) : formatNumber(x));
  const prefix = rule.kind === 'change' ? 'Δ ' : '';
  if (Array.isArray(rule.threshold)) return `${prefix}in [${f(rule.threshold[0])}, ${f(rule.threshold[1])}]`;
  return `${prefix}${rule.comparison} ${f(rule.threshold)}`;
}

/** "180 of 200 (90 %)": on how many of the slice's images the rule's metric was computed. */
export function coverageText(rule: Pick<RuleResult, 'computed' | 'coverage'>): string {
  if (rule.coverage === null) return '–';
  const processed = rule.coverage > 0 ? Math.round(rule.computed / rule.coverage) : undefined;
  return processed !== undefined ? `${rule.computed} of ${processed} (${formatPercent(rule.coverage)})` : `0 (${formatPercent(0)})`;
}

function noticeLine(n: InputNotice): string {
  const where = `${md(n.source)}${n.file ? ` ${md(n.file)}` : ''}`;
  const examples = n.examples.length > 0 ? ` (e.g. ${n.examples.map(md).join(', ')})` : '';
  return `- ${where}: ${md(n.message)} \\[${md(n.kind)}, ${n.count}\\]${examples}`;
}

/**
 * summary.md: the verdict for a person reading a pipeline log or a KFP Markdown artifact: why it failed
 * (rules, checks, worst images) first, then every rule with its coverage, skipped rules, input notices, then
 * provenance and where the HTML report is. Every value from the inputs goes through markdownText.
 */
export function renderSummaryMarkdown(verdict: Verdict, reportPath: string): string {
  const out: string[] = [];
  const word = verdict.verdict === 'pass' ? 'PASS' : 'FAIL';
  const { counts } = verdict;
  out.push(`# heatgate gate: ${word}`, '');
  out.push(
    `${counts.images} images, ${counts.processed} processed, ${counts.errors} failed to process, ` +
      `${counts.failedImages} over a per-image threshold. Policy: ${md(verdict.policy.file)}. ` +
      `${md(verdict.tool.name)} ${md(verdict.tool.version)}.`,
    '',
  );
  if (verdict.verdict === 'fail') {
    out.push('## Why it failed', '');
    for (const reason of verdict.reasons) out.push(`- ${md(reason)}`);
    out.push('');
  }
  for (const worst of verdict.galleries) {
    if (worst.images.length === 0) continue;
    out.push(`## Worst images ${galleryWhy(verdict, worst)} ${md(worst.rule)} (${worst.order} ${md(worst.metric)}${worst.class !== null ? ` in class ${md(worst.class)}` : ''})`, '');
    out.push(`| # | image | class | ${md(worst.metric)} |`, '|---|---|---|---|');
    worst.images.forEach((img, i) => {
      out.push(`| ${i + 1} | ${md(img.image)} | ${md(img.className ?? img.target ?? img.classKey)} | ${formatNumber(img.value)} |`);
    });
    out.push('');
  }
  out.push(
    '## Rules',
    '',
    '| outcome | rule | metric | class | measured | threshold | computed on | details |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const r of verdict.rules) {
    const outcome = r.outcome === 'pass' ? 'pass' : `**${r.outcome}**`;
    const metric = r.metric === 'accuracy' ? 'accuracy' : `${r.aggregate}${r.value !== undefined ? ` ${r.value}` : ''} ${r.metric}`;
    out.push(
      `| ${outcome} | ${md(r.name)} | ${md(metric)} | ${md(r.class ?? 'all')} | ${md(shown(r))} | ${md(threshold(r))} | ${md(coverageText(r))} | ${md(r.message)} |`,
    );
  }
  out.push('', '| outcome | check | measured | threshold |', '|---|---|---|---|');
  for (const c of verdict.checks) {
    const f = (x: number) => (c.isShare ? formatPercent(x) : formatNumber(x));
    out.push(`| ${c.outcome === 'pass' ? 'pass' : `**${c.outcome}**`} | ${c.name} | ${md(f(c.measured))} | ${md(`${c.comparison} ${f(c.threshold)}`)} |`);
  }
  if (verdict.skipped.length > 0) {
    out.push('', '## Skipped rules', '', `${verdict.skipped.length} rule result(s) were skipped (the policy says \`ifNoData: skip\`) and did not count towards the verdict:`, '');
    for (const s of verdict.skipped) out.push(`- ${md(s.rule)}: ${md(s.reason)}`);
  }
  if (verdict.notices.length > 0) {
    out.push('', '## Input notices', '');
    for (const n of verdict.notices) out.push(noticeLine(n));
  }
  const fp = verdict.fingerprints;
  out.push(
    '',
    '## Fingerprints',
    '',
    `- model sha256: ${md(fp.model ?? 'not given')}`,
    ...(fp.baseline !== undefined ? [`- baseline model sha256: ${md(fp.baseline ?? 'not given')}`] : []),
    `- data sha256: ${md(fp.data ?? 'not given')}`,
    ...(fp.results ? [`- results.jsonl sha256: ${md(fp.results)}`] : []),
    ...(fp.baselineResults ? [`- baseline results sha256: ${md(fp.baselineResults)}`] : []),
    `- policy sha256: ${md(fp.policy)}`,
    '',
    `Full report with heatmap overlays: ${md(reportPath)}`,
    '',
  );
  return out.join('\n');
}

/** "behind the failing rule", "behind the warning" or, for the sample of a verdict without either, "for rule". */
export function galleryWhy(verdict: Verdict, worst: WorstImages): string {
  const outcome = verdict.rules.find((r) => r.name === worst.rule)?.outcome;
  return outcome === 'fail' ? 'behind the failing rule' : outcome === 'warn' ? 'behind the warning' : 'for rule';
}

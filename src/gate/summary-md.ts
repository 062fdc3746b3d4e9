import type { RuleResult, Verdict } from './verdict.ts';
import { formatNumber } from './verdict.ts';

/** Markdown table cells: pipes and newlines would break the row. */
function cell(text: string | number | null | undefined): string {
  return String(text ?? '').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function shown(rule: RuleResult): string {
  if (rule.measured === null) return '–';
  if (rule.kind === 'change') {
    const d = rule.change === 'relative' ? `${formatNumber(rule.measured * 100)} %` : formatNumber(rule.measured);
    return `${formatNumber(rule.current)} (Δ ${d})`;
  }
  return rule.isShare ? `${formatNumber(rule.measured * 100)} %` : formatNumber(rule.measured);
}

function threshold(rule: RuleResult): string {
  const pct = rule.isShare || (rule.kind === 'change' && rule.change === 'relative');
  const f = (x: number) => (pct ? `${formatNumber(x * 100)} %` : formatNumber(x));
  const prefix = rule.kind === 'change' ? 'Δ ' : '';
  if (Array.isArray(rule.threshold)) return `${prefix}in [${f(rule.threshold[0])}, ${f(rule.threshold[1])}]`;
  return `${prefix}${rule.comparison} ${f(rule.threshold)}`;
}

/**
 * summary.md: the verdict for a person reading a pipeline log or a KFP Markdown artifact: why it failed
 * (rules, checks, worst images) first, then every rule, then provenance and where the HTML report is.
 */
export function renderSummaryMarkdown(verdict: Verdict, reportPath: string): string {
  const out: string[] = [];
  const word = verdict.verdict === 'pass' ? 'PASS' : 'FAIL';
  const { counts } = verdict;
  out.push(`# heatgate gate: ${word}`, '');
  out.push(
    `${counts.images} images, ${counts.processed} processed, ${counts.errors} failed to process, ` +
      `${counts.failedImages} over a per-image threshold. Policy: \`${verdict.policy.file}\`. ` +
      `${verdict.tool.name} ${verdict.tool.version}.`,
    '',
  );
  if (verdict.verdict === 'fail') {
    out.push('## Why it failed', '');
    for (const reason of verdict.reasons) out.push(`- ${reason}`);
    out.push('');
  }
  const worst = verdict.worstImages;
  if (worst && worst.images.length > 0) {
    const culprit = verdict.rules.find((r) => r.name === worst.rule);
    const why = culprit?.outcome === 'fail' ? 'behind the failing rule' : culprit?.outcome === 'warn' ? 'behind the warning' : 'for rule';
    out.push(`## Worst images ${why} \`${worst.rule}\` (${worst.order} ${worst.metric})`, '');
    out.push(`| # | image | class | ${cell(worst.metric)} |`, '|---|---|---|---|');
    worst.images.forEach((img, i) => {
      out.push(`| ${i + 1} | ${cell(img.image)} | ${cell(img.className ?? img.target ?? img.classKey)} | ${formatNumber(img.value)} |`);
    });
    out.push('');
  }
  out.push('## Rules', '', '| outcome | rule | metric | class | measured | threshold | details |', '|---|---|---|---|---|---|---|');
  for (const r of verdict.rules) {
    const outcome = r.outcome === 'pass' ? 'pass' : `**${r.outcome}**`;
    out.push(
      `| ${outcome} | ${cell(r.name)} | ${cell(r.metric === 'accuracy' ? 'accuracy' : `${r.aggregate}${r.value !== undefined ? ` ${r.value}` : ''} ${r.metric}`)} | ${cell(r.class ?? 'all')} | ${cell(shown(r))} | ${cell(threshold(r))} | ${cell(r.message)} |`,
    );
  }
  out.push('', '| outcome | check | measured | threshold |', '|---|---|---|---|');
  for (const c of verdict.checks) {
    const f = (x: number) => (c.isShare ? `${formatNumber(x * 100)} %` : formatNumber(x));
    out.push(`| ${c.outcome === 'pass' ? 'pass' : `**${c.outcome}**`} | ${c.name} | ${f(c.measured)} | ${c.comparison} ${f(c.threshold)} |`);
  }
  const skipped = verdict.rules.filter((r) => r.outcome === 'skipped');
  if (skipped.length > 0) {
    out.push('', `${skipped.length} rule(s) were skipped for lack of data and did not count towards the verdict.`);
  }
  const fp = verdict.fingerprints;
  out.push(
    '',
    '## Fingerprints',
    '',
    `- model sha256: ${fp.model ?? 'not given'}`,
    ...(fp.baseline !== undefined ? [`- baseline model sha256: ${fp.baseline ?? 'not given'}`] : []),
    `- data sha256: ${fp.data ?? 'not given'}`,
    ...(fp.results ? [`- results.jsonl sha256: ${fp.results}`] : []),
    ...(fp.baselineResults ? [`- baseline results sha256: ${fp.baselineResults}`] : []),
    `- policy sha256: ${fp.policy}`,
    '',
    `Full report with heatmap overlays: \`${reportPath}\``,
    '',
  );
  return out.join('\n');
}

/**
 * Number formatting shared by the gate's messages and every renderer (console, summary.md, report.html), so
 * that a value reads the same everywhere. Depends on nothing.
 */

/** Compact number for messages: 4 significant digits, no trailing zeros; "n/a" for a missing value. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return 'n/a';
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

/** A share in [0, 1] as a percentage: 0.015 -> "1.5 %". */
export function formatPercent(share: number | null | undefined): string {
  if (share === null || share === undefined) return 'n/a';
  return `${formatNumber(share * 100)} %`;
}

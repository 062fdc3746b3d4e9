/** The report's only stylesheet, inlined: the page loads nothing from the network. */
export const REPORT_CSS = `
:root {
  --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f6f7f9; --card: #ffffff;
  --pass: #15803d; --pass-bg: #ecfdf3; --fail: #b91c1c; --fail-bg: #fef2f2;
  --warn: #b45309; --warn-bg: #fffbeb; --skip: #4b5563; --skip-bg: #f3f4f6; --accent: #3056d3;
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg); }
header.top { background: #111827; color: #f9fafb; padding: 12px 32px; display: flex; align-items: baseline; gap: 16px; }
header.top .brand { font-weight: 700; letter-spacing: .02em; font-size: 16px; }
header.top .meta { color: #9ca3af; font-size: 12px; margin-left: auto; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px; margin-top: 20px; }
h2 { font-size: 16px; margin: 0 0 12px; }
h2 .sub { color: var(--muted); font-weight: 400; font-size: 13px; margin-left: 8px; }
.banner { display: flex; gap: 24px; align-items: center; border-radius: 10px; padding: 20px 24px; border: 1px solid; }
.banner.pass { background: var(--pass-bg); border-color: #bbf7d0; }
.banner.fail { background: var(--fail-bg); border-color: #fecaca; }
.banner .word { font-size: 34px; font-weight: 800; letter-spacing: .06em; padding: 6px 18px; border-radius: 8px; color: #fff; }
.banner.pass .word { background: var(--pass); }
.banner.fail .word { background: var(--fail); }
.banner .what { flex: 1; }
.banner .headline { font-size: 16px; font-weight: 600; }
.banner ul { margin: 6px 0 0; padding-left: 18px; }
.banner li { margin: 2px 0; }
.banner .skipped-note { color: var(--muted); font-size: 13px; margin-top: 6px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin-top: 20px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.card .n { font-size: 24px; font-weight: 700; }
.card .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600; background: #fafafa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td .desc { color: var(--muted); font-size: 12px; }
td.msg { color: #374151; }
tr:last-child td { border-bottom: 0; }
table.rules td.msg { min-width: 220px; }
table.rules td.rule { min-width: 200px; }
td .delta { color: var(--muted); font-size: 12px; }
table.rules td.measure { white-space: nowrap; }
table.rules td.measure b { font-weight: 600; }
.scroll { overflow-x: auto; }
table.classes th { text-transform: none; letter-spacing: 0; font-size: 12px; white-space: nowrap; }
table.classes th .agg { font-weight: 400; font-size: 11px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.badge { display: inline-block; min-width: 64px; text-align: center; padding: 2px 8px; border-radius: 999px; font-size: 12px;
  font-weight: 700; text-transform: uppercase; letter-spacing: .04em; }
.badge.pass { color: var(--pass); background: var(--pass-bg); border: 1px solid #bbf7d0; }
.badge.fail { color: var(--fail); background: var(--fail-bg); border: 1px solid #fecaca; }
.badge.warn { color: var(--warn); background: var(--warn-bg); border: 1px solid #fde68a; }
.badge.skipped { color: var(--skip); background: var(--skip-bg); border: 1px solid #d1d5db; }
tr.fail td { background: #fffafa; }
.hists { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 16px; }
.hist-card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.hist-card h3 { font-size: 13px; margin: 0 0 4px; }
.hist-card .stats { color: var(--muted); font-size: 12px; }
svg.hist { display: block; width: 100%; height: auto; }
svg.hist .bar { fill: #7c93e6; }
svg.hist .bar:hover { fill: var(--accent); }
svg.hist .axis { stroke: #9ca3af; }
svg.hist .grid { stroke: #f0f0f0; }
svg.hist .tick { fill: var(--muted); font-size: 10px; }
svg.hist .marker { stroke-width: 2; }
svg.hist .marker.threshold { stroke: var(--fail); stroke-dasharray: 4 3; }
svg.hist .marker.measured { stroke: #111827; }
.legend { font-size: 12px; color: var(--muted); margin-top: 8px; }
.legend .sw { display: inline-block; width: 14px; height: 0; border-top: 2px dashed var(--fail); vertical-align: middle; margin: 0 4px 0 12px; }
.legend .sw.m { border-top: 2px solid #111827; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 16px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; background: #fff; }
figure img { display: block; width: 100%; height: 190px; object-fit: contain; background: #111827; cursor: zoom-in; }
figure .placeholder { height: 190px; display: flex; align-items: center; justify-content: center; text-align: center;
  padding: 12px; color: var(--muted); background: repeating-linear-gradient(45deg, #f9fafb, #f9fafb 8px, #f3f4f6 8px, #f3f4f6 16px); }
figcaption { padding: 8px 12px 10px; font-size: 12px; }
figcaption .rank { color: var(--muted); }
figcaption .name { font-weight: 600; word-break: break-all; }
figcaption .value { font-size: 13px; margin: 2px 0 4px; }
figcaption .value b { color: var(--fail); }
figcaption dl { display: grid; grid-template-columns: auto 1fr; gap: 0 10px; margin: 0; color: var(--muted); }
figcaption dd { margin: 0; text-align: right; color: var(--ink); font-variant-numeric: tabular-nums; }
dl.kv { display: grid; grid-template-columns: 210px 1fr; gap: 6px 16px; margin: 0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; word-break: break-all; }
.muted { color: var(--muted); }
.note { color: var(--muted); font-size: 12px; margin: 8px 0 0; }
#lightbox { position: fixed; inset: 0; background: rgba(17, 24, 39, .88); display: none; align-items: center; justify-content: center;
  flex-direction: column; gap: 10px; cursor: zoom-out; z-index: 10; }
#lightbox.open { display: flex; }
#lightbox img { max-width: 92vw; max-height: 84vh; border-radius: 6px; }
#lightbox .cap { color: #e5e7eb; font-size: 13px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 28px; }
@media print { header.top { background: #fff; color: var(--ink); } #lightbox { display: none !important; } }
`;

/** Click a gallery picture to see it large; click again or press Escape to close. */
export const REPORT_JS = `
(function () {
  var box = document.getElementById('lightbox');
  var big = box.querySelector('img');
  var cap = box.querySelector('.cap');
  document.querySelectorAll('figure img').forEach(function (img) {
    img.addEventListener('click', function () {
      big.src = img.src;
      big.alt = img.alt;
      cap.textContent = img.alt;
      box.classList.add('open');
    });
  });
  function close() { box.classList.remove('open'); }
  box.addEventListener('click', close);
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') close(); });
})();
`;

// Public surface of the outputs side: it renders what the gate decided (report -> gate, never the reverse).
export { gateResults, type GateResultsOptions, type GateResult } from './gate-results.ts';
export { KFP_METRIC_NAME, kfpMetricName, kfpMetrics } from './kfp-metrics.ts';
export { writeGateOutputs, metricEntries, type GateOutputs } from './outputs.ts';
export { renderSummaryMarkdown, markdownText } from './summary-md.ts';
export { renderReport, type ReportInput } from './html.ts';

import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { CocoRoleMap } from '../analysis/coco.ts';
import { isRegionMetric, METRIC_NAMES, metricRange, RENAMED_METRICS } from '../analysis/metrics/registry.ts';
import type { StaticRegion } from '../analysis/static-regions.ts';
import { ConfigError } from '../errors.ts';
import { restateStorageError } from '../storage/errors.ts';
import { parseLocation } from '../storage/location.ts';
import { defaultStorage, type Storage } from '../storage/storage.ts';
import { aggregateFor } from './aggregates.ts';
import schema from './policy.schema.json' with { type: 'json' };

export type Severity = 'fail' | 'warn';
export type IfNoData = 'skip' | 'fail';
/** A class index, a class name, or 'each' (one result per class). */
export type ClassSelector = number | string;

interface RuleBase {
  name: string;
  /** Any key of `metrics` in results.jsonl, or `accuracy` (the mean of `correct`). */
  metric: string;
  aggregate: string;
  /** Per-image threshold of shareAbove / shareBelow. */
  value?: number;
  class?: ClassSelector;
  severity: Severity;
  ifNoData: IfNoData;
  /**
   * Least share of the slice's processed images on which the metric must have been computed (not null); less is
   * "not enough data" and follows ifNoData. Resolved: the rule's own, else the policy's, else the metric's default.
   */
  minCoverage: number;
  description?: string;
  /** Where the rule is in the policy file, for errors found after the data is read. */
  location?: { path: string; line?: number };
}

/** TFMA GenericValueThreshold: lower and/or upper bound on an aggregate (both inclusive). */
export interface ValueRule extends RuleBase {
  kind: 'value';
  min?: number;
  max?: number;
}

/** TFMA GenericChangeThreshold: bound on current minus baseline (absolute) or that over |baseline| (relative). */
export interface ChangeRule extends RuleBase {
  kind: 'change';
  change: 'absolute' | 'relative';
  maxIncrease?: number;
  maxDecrease?: number;
}

export type PolicyRule = ValueRule | ChangeRule;

export interface Policy {
  version: 1;
  description?: string;
  /** Fewest successfully processed images; fewer fails the gate. */
  minImages: number;
  /** Most images that may fail to process, as a share of all images or as a count. */
  errorBudget: { maxShare: number } | { maxCount: number };
  rules: ValueRule[];
  baseline: ChangeRule[];
  /** Fixed-camera regions and COCO category roles for `heatgate run`. */
  regions?: { static?: StaticRegion[]; coco?: CocoRoleMap };
  /** minCoverage for rules without their own; absent: 0.9 for region metrics, 0 otherwise. */
  minCoverage?: number;
  /** Analysis options for `heatgate run`. */
  analysis?: {
    occlusionFill?: 'mean' | 'blur';
    /** Pointing-game tolerance as a fraction of the model input's shorter side (default 15/224). */
    pointingTolerance?: number;
    /** The same in model-input pixels; at most one of the two. */
    pointingTolerancePx?: number;
    /** Deletion/insertion and ROAD options (analysis/faithfulness.ts); setting it runs them. */
    faithfulness?: { steps?: number; fill?: 'blur' | 'mean'; blurSigma?: number; roadShares?: number[]; roadNoise?: number; sample?: number };
  };
  /** The model-parameter randomization test of `heatgate sanity` (analysis/sanity.ts). */
  sanity?: SanityRule;
  /** Where the policy came from (file path, or "default") and the sha256 of its text. */
  source: { file: string; sha256: string };
}

export interface SanityRule {
  measure?: 'spearman' | 'spearmanAbs' | 'ssim';
  max?: number;
  sample?: number;
  seed?: number;
  cascade?: 'head' | 'all';
}

export interface PolicyOptions {
  /** Metric names the caller knows; a rule naming another metric is a ConfigError. Undefined: no check. */
  metrics?: readonly string[];
  /** Class names the caller knows; a rule naming another class is a ConfigError. Undefined: no check. */
  classes?: readonly string[];
}

/** One problem in a policy file, ajv-style data: where (path in the file) and what was expected. */
export interface PolicyIssue {
  path: string;
  message: string;
  line?: number;
}

/** A policy that failed validation; `message` has one `<file>: <path>: <problem>` line per issue. */
export class PolicyError extends ConfigError {
  constructor(
    file: string,
    readonly issues: readonly PolicyIssue[],
  ) {
    super(issues.map((i) => i.message).join('; '), file);
    this.message = issues
      .map((i) => `${file}: ${i.path}: ${i.message}${i.line ? ` (line ${i.line})` : ''}`)
      .join('\n');
  }
}

/**
 * Metric names of results.jsonl as the pipeline writes them (the analysis registry) plus `accuracy`, derived
 * from `correct`. Callers may extend the list (results.jsonl is an open map).
 */
export const BUILTIN_METRICS: readonly string[] = [...METRIC_NAMES, 'accuracy'];

export const DEFAULT_POLICY_FILE = new URL('./default-policy.yaml', import.meta.url);

/** Largest policy file read: a policy is a few KB; anything near this is a mistake or an attack. */
export const MAX_POLICY_BYTES = 1024 * 1024;

/** Aliases YAML may expand (yaml's maxAliasCount): an alias bomb is refused before it eats the memory. */
export const MAX_POLICY_ALIASES = 100;

/** Default minCoverage of rules over region metrics (invalid or ROI regions), when the policy sets none. */
export const DEFAULT_REGION_MIN_COVERAGE = 0.9;

/** The accuracy "metric" is the mean of `correct` and shares its range. */
const rangeOf = (metric: string) => metricRange(metric === 'accuracy' ? 'correct' : metric);

const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true });
ajv.addKeyword('x-expected');
const validateSchema = ajv.compile(schema);

/** Reads and validates a policy file (YAML or JSON). Throws PolicyError listing every problem. */
export function loadPolicy(file: string, options: PolicyOptions = {}): Policy {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_POLICY_BYTES) {
      throw new PolicyError(file, [{ path: '(file)', message: `${size} bytes, more than the ${MAX_POLICY_BYTES} a policy may have` }]);
    }
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof PolicyError) throw error;
    throw new ConfigError(`cannot read policy file (${(error as NodeJS.ErrnoException).code ?? error})`, file);
  }
  return parsePolicy(text, file, options);
}

/**
 * loadPolicy for a policy at any location (a local path, file:// or s3://). The size is checked before the read;
 * a storage outage is exit 4, anything else that stops the read exit 2 as in loadPolicy.
 */
export async function readPolicy(file: string, options: PolicyOptions = {}, storage: Storage = defaultStorage()): Promise<Policy> {
  const loc = parseLocation(file, '--policy');
  const unreadable = (error: unknown) => restateStorageError(error, (problem) => `cannot read policy file (${problem})`, file, ConfigError);
  const info = await storage.stat(loc).catch((error: unknown) => {
    throw unreadable(error);
  });
  if (!info) throw new ConfigError('cannot read policy file (ENOENT)', file);
  if (info.kind === 'folder') throw new ConfigError('cannot read policy file (EISDIR)', file);
  if ((info.size ?? 0) > MAX_POLICY_BYTES) {
    throw new PolicyError(file, [{ path: '(file)', message: `${info.size} bytes, more than the ${MAX_POLICY_BYTES} a policy may have` }]);
  }
  let text: string;
  try {
    text = (await storage.read(loc)).toString('utf8');
  } catch (error) {
    throw unreadable(error);
  }
  return parsePolicy(text, file, options);
}

/** The documented default policy (src/gate/default-policy.yaml). */
export function defaultPolicy(options: PolicyOptions = {}): Policy {
  const policy = parsePolicy(readFileSync(DEFAULT_POLICY_FILE, 'utf8'), 'default-policy.yaml', options);
  return { ...policy, source: { ...policy.source, file: 'default' } };
}

/**
 * How a policy file is parsed: `.json` with JSON.parse (strict JSON, errors with line and column); everything
 * else (`.yaml`, `.yml`, no extension as in a Kubeflow input artifact's `data` file) as YAML 1.2, which also
 * reads JSON.
 */
export function policyFormat(file: string): 'json' | 'yaml' {
  return extname(file).toLowerCase() === '.json' ? 'json' : 'yaml';
}

/** Parses policy text (format from `file`'s extension, see policyFormat); `file` names it in errors. */
export function parsePolicy(text: string, file: string, options: PolicyOptions = {}): Policy {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_POLICY_BYTES) {
    throw new PolicyError(file, [{ path: '(file)', message: `${bytes} bytes, more than the ${MAX_POLICY_BYTES} a policy may have` }]);
  }
  const { data, lineOf } = policyFormat(file) === 'json' ? readJson(text, file) : readYaml(text, file);
  const nonFinite = nonFiniteNumbers(data);
  if (nonFinite.length > 0) {
    throw new PolicyError(
      file,
      nonFinite.map(({ at, value }) => ({ path: formatPath(at), message: `expected a finite number, got ${value}`, line: lineOf(at) })),
    );
  }
  if (!validateSchema(data)) {
    throw new PolicyError(file, dedupe(validateSchema.errors ?? []).map((e) => schemaIssue(e, lineOf)));
  }
  const raw = data as unknown as RawPolicy;
  const issues = checkSemantics(raw, options);
  if (issues.length > 0) {
    throw new PolicyError(
      file,
      issues.map(({ at, message }) => ({ path: formatPath(at), message, line: lineOf(at) })),
    );
  }
  return normalise(raw, { file, sha256: createHash('sha256').update(text).digest('hex') }, lineOf);
}

type LineOf = (path: (string | number)[]) => number | undefined;

function readYaml(text: string, file: string): { data: unknown; lineOf: LineOf } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      file,
      doc.errors.map((e) => ({
        path: '(syntax)',
        message: e.message.split('\n')[0],
        line: lineCounter.linePos(e.pos[0]).line,
      })),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_POLICY_ALIASES });
  } catch (error) {
    // yaml throws a ReferenceError for an alias bomb ("Excessive alias count ...") and for unresolved aliases.
    const message = (error as Error).message.split('\n')[0];
    throw new PolicyError(file, [{ path: '(syntax)', message: `YAML aliases refused: ${message} (at most ${MAX_POLICY_ALIASES} expansions)` }]);
  }
  return { data, lineOf: linesFrom(doc, lineCounter) };
}

function readJson(text: string, file: string): { data: unknown; lineOf: LineOf } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = /at position (\d+)/.exec(message);
    const where = position ? lineColumn(text, Number(position[1])) : undefined;
    throw new PolicyError(file, [
      {
        path: '(syntax)',
        message: `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, '')}${where ? ` at line ${where.line} column ${where.column}` : ''}`,
      },
    ]);
  }
  // Line numbers for later messages come from YAML's view of the same text (JSON is YAML 1.2), when it agrees.
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  // JSON.parse keeps the last of duplicate keys without a word; a policy must not say two things at once.
  const duplicates = doc.errors.filter((e) => e.code === 'DUPLICATE_KEY');
  if (duplicates.length > 0) {
    throw new PolicyError(
      file,
      duplicates.map((e) => ({ path: '(syntax)', message: e.message.split('\n')[0], line: lineCounter.linePos(e.pos[0]).line })),
    );
  }
  return { data, lineOf: doc.errors.length === 0 ? linesFrom(doc, lineCounter) : () => undefined };
}

function linesFrom(doc: Document, lineCounter: LineCounter): LineOf {
  return (path) => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
}

function lineColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** NaN and ±Infinity anywhere in the data (YAML's .nan / .inf): JSON Schema's number checks let NaN through. */
function nonFiniteNumbers(data: unknown, at: (string | number)[] = []): { at: (string | number)[]; value: string }[] {
  if (typeof data === 'number') return Number.isFinite(data) ? [] : [{ at, value: String(data) }];
  if (Array.isArray(data)) return data.flatMap((v, i) => nonFiniteNumbers(v, [...at, i]));
  if (data !== null && typeof data === 'object') {
    return Object.entries(data).flatMap(([k, v]) => nonFiniteNumbers(v, [...at, k]));
  }
  return [];
}

/**
 * After the data is read: every rule's metric must be one the caller or the data knows (results.jsonl is an open
 * map, so custom metrics are legal). Throws PolicyError naming the rules, with the lines recorded at load time.
 */
export function checkPolicyMetrics(policy: Policy, known: readonly string[]): void {
  const names = new Set([...known, 'accuracy']);
  const issues: PolicyIssue[] = [];
  for (const rule of [...policy.rules, ...policy.baseline]) {
    if (names.has(rule.metric)) continue;
    issues.push({
      path: `${rule.location?.path ?? rule.name}.metric`,
      message: `unknown metric "${rule.metric}" (known: ${[...names].sort().join(', ')})`,
      ...(rule.location?.line !== undefined && { line: rule.location.line }),
    });
  }
  if (issues.length > 0) throw new PolicyError(policy.source.file, issues);
}

/**
 * Once the model is known: every class a rule names must be one the model has. A rule for a class the model lacks
 * can never get data, so this is exit 2 before any image is read, naming every such class. Names need the model's
 * class names (--classes or heatgate.classes metadata); indices must be below its class count.
 */
export function checkPolicyClasses(policy: Policy, model: { classes: number; classNames?: readonly string[] }): void {
  const issues: PolicyIssue[] = [];
  const rules = [...policy.rules, ...policy.baseline].filter((r) => r.class !== undefined && r.class !== 'each');
  const missing = [
    ...new Set(rules.filter((r) => typeof r.class === 'string' && !model.classNames?.includes(r.class)).map((r) => String(r.class))),
  ];
  for (const rule of rules) {
    const where = { path: `${rule.location?.path ?? rule.name}.class`, ...(rule.location?.line !== undefined && { line: rule.location.line }) };
    if (typeof rule.class === 'number' && (rule.class < 0 || rule.class >= model.classes)) {
      issues.push({ ...where, message: `class index ${rule.class} is out of range: the model has ${model.classes} classes (0 to ${model.classes - 1})` });
    } else if (typeof rule.class === 'string' && !model.classNames) {
      issues.push({ ...where, message: `class "${rule.class}" is a name, but the model has no class names: pass --classes or store heatgate.classes in the model` });
    } else if (typeof rule.class === 'string' && missing.includes(rule.class)) {
      const names = missing.map((n) => JSON.stringify(n)).join(', ');
      issues.push({ ...where, message: `unknown class "${rule.class}": the model has no class ${names} (its classes: ${listNames(model.classNames!)}; or "each")` });
    }
  }
  if (issues.length > 0) throw new PolicyError(policy.source.file, issues);
}

interface RawRule {
  name: string;
  metric: string;
  aggregate?: string;
  value?: number;
  max?: number;
  min?: number;
  class?: ClassSelector;
  severity?: Severity;
  ifNoData?: IfNoData;
  minCoverage?: number;
  description?: string;
  change?: 'absolute' | 'relative';
  maxIncrease?: number;
  maxDecrease?: number;
}

interface RawPolicy {
  version: 1;
  description?: string;
  minImages?: number;
  errorBudget?: number | { maxShare?: number; maxCount?: number };
  minCoverage?: number;
  rules?: RawRule[];
  baseline?: RawRule[];
  regions?: Policy['regions'];
  analysis?: Policy['analysis'];
  sanity?: Policy['sanity'];
}

type Issue = { at: (string | number)[]; message: string };

/** The first `max` names and how many there are in all: a 1000-class model must not give a 1000-name line. */
function listNames(names: readonly string[], max = 20): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown}, ... (${names.length} in all)` : shown;
}

const fmt = (x: number) => (x === Infinity ? '+inf' : x === -Infinity ? '-inf' : String(x));

/**
 * Checks a schema cannot express clearly: bounds present, min <= max, values only where used, names, and every
 * threshold inside what its metric (or share) can take, so that no rule is one that can never fail.
 */
function checkSemantics(raw: RawPolicy, options: PolicyOptions): Issue[] {
  const issues: Issue[] = [];
  const seen = new Map<string, string>();
  const known = options.metrics ? new Set([...options.metrics, 'accuracy']) : undefined;
  const classes = options.classes;
  const classSet = classes ? new Set(classes) : undefined;
  if (typeof raw.errorBudget === 'object') {
    const keys = Object.keys(raw.errorBudget);
    if (keys.length !== 1) {
      issues.push({ at: ['errorBudget'], message: 'expected exactly one of maxShare or maxCount' });
    }
  }
  if (raw.analysis?.pointingTolerance !== undefined && raw.analysis.pointingTolerancePx !== undefined) {
    issues.push({ at: ['analysis'], message: 'give pointingTolerance (a fraction) or pointingTolerancePx, not both' });
  }
  const unknownClasses: { at: (string | number)[]; name: string }[] = [];
  for (const section of ['rules', 'baseline'] as const) {
    (raw[section] ?? []).forEach((rule, i) => {
      const at = [section, i];
      const previous = seen.get(rule.name);
      if (previous) {
        issues.push({ at: [...at, 'name'], message: `duplicate rule name "${rule.name}" (also ${previous})` });
      }
      seen.set(rule.name, formatPath(at));
      const aggregate = aggregateFor(rule.aggregate ?? 'mean')!;
      if (aggregate.needsValue && rule.value === undefined) {
        issues.push({ at, message: `aggregate ${rule.aggregate} needs "value" (the per-image threshold)` });
      }
      if (!aggregate.needsValue && rule.value !== undefined) {
        issues.push({ at: [...at, 'value'], message: `"value" is only used by shareAbove / shareBelow` });
      }
      if (Object.hasOwn(RENAMED_METRICS, rule.metric)) {
        issues.push({
          at: [...at, 'metric'],
          message: `metric "${rule.metric}" was renamed to ${RENAMED_METRICS[rule.metric]} (it is precision at K, not an IoU); use the new name`,
        });
      } else if (known && !known.has(rule.metric)) {
        issues.push({
          at: [...at, 'metric'],
          message: `unknown metric "${rule.metric}" (known: ${[...known].sort().join(', ')})`,
        });
      }
      if (rule.metric === 'accuracy' && (rule.aggregate ?? 'mean') !== 'mean') {
        issues.push({ at: [...at, 'aggregate'], message: 'accuracy is a mean of "correct"; use aggregate mean' });
      }
      if (classSet && typeof rule.class === 'string' && rule.class !== 'each' && !classSet.has(rule.class)) {
        unknownClasses.push({ at: [...at, 'class'], name: rule.class });
      }
      if (classes && typeof rule.class === 'number' && rule.class >= classes.length) {
        issues.push({
          at: [...at, 'class'],
          message: `class index ${rule.class} is out of range: the model has ${classes.length} classes (0 to ${classes.length - 1})`,
        });
      }
      issues.push(...rangeIssues(rule, at, section, aggregate.isShare));
      if (section === 'rules') {
        if (rule.max === undefined && rule.min === undefined) {
          issues.push({ at, message: 'expected a threshold: "max" and/or "min"' });
        }
        if (rule.max !== undefined && rule.min !== undefined && rule.min > rule.max) {
          issues.push({ at: [...at, 'min'], message: `min ${rule.min} is greater than max ${rule.max}` });
        }
      } else if (rule.maxIncrease === undefined && rule.maxDecrease === undefined) {
        issues.push({ at, message: 'expected a change threshold: "maxIncrease" and/or "maxDecrease"' });
      }
    });
  }
  if (unknownClasses.length > 0) {
    // One message per rule, each naming every class of the policy the model lacks and the model's classes.
    const missing = [...new Set(unknownClasses.map((u) => u.name))].map((n) => JSON.stringify(n)).join(', ');
    for (const u of unknownClasses) {
      issues.push({
        at: u.at,
        message: `unknown class "${u.name}": the model has no class ${missing} (its classes: ${listNames(classes!)}; or "each")`,
      });
    }
  }
  return issues;
}

/**
 * Thresholds inside the range of what they bound: shares (shareAbove/shareBelow results) in [0, 1], metric
 * values (min/max of other aggregates, the per-image `value`) in the metric's declared range, changes within
 * the range's width. A metric outside the registry (a custom results.jsonl key) has no declared range.
 */
function rangeIssues(rule: RawRule, at: (string | number)[], section: 'rules' | 'baseline', isShare: boolean): Issue[] {
  const issues: Issue[] = [];
  const range = rangeOf(rule.metric);
  const inside = (key: 'min' | 'max' | 'value', [lo, hi]: readonly [number, number], what: string) => {
    const x = rule[key];
    if (x !== undefined && (x < lo || x > hi)) {
      issues.push({ at: [...at, key], message: `${key} ${x} is outside ${what} [${fmt(lo)}, ${fmt(hi)}]: the rule could never behave as written` });
    }
  };
  if (range) inside('value', range, `the range of ${rule.metric}`);
  if (section === 'rules') {
    for (const key of ['min', 'max'] as const) {
      if (isShare) inside(key, [0, 1], `a share's range`);
      else if (range) inside(key, range, `the range of ${rule.metric}`);
    }
    return issues;
  }
  if ((rule.change ?? 'absolute') !== 'absolute') return issues;
  const width = isShare ? 1 : range ? range[1] - range[0] : Infinity;
  for (const key of ['maxIncrease', 'maxDecrease'] as const) {
    const x = rule[key];
    if (x !== undefined && x > width) {
      issues.push({
        at: [...at, key],
        message: `${key} ${x} is more than ${isShare ? 'a share' : rule.metric} can change (${fmt(width)}): the rule could never fail`,
      });
    }
  }
  return issues;
}

function normalise(raw: RawPolicy, source: Policy['source'], lineOf: LineOf): Policy {
  const budget = raw.errorBudget ?? 0;
  const base = (rule: RawRule, at: (string | number)[]) => ({
    name: rule.name,
    metric: rule.metric,
    aggregate: rule.aggregate ?? 'mean',
    ...(rule.value !== undefined && { value: rule.value }),
    ...(rule.class !== undefined && { class: rule.class }),
    severity: rule.severity ?? 'fail',
    // Fail closed: a rule that has nothing to measure must not pass the gate unless the policy says so.
    ifNoData: rule.ifNoData ?? 'fail',
    minCoverage:
      rule.minCoverage ?? raw.minCoverage ?? (isRegionMetric(rule.metric) ? DEFAULT_REGION_MIN_COVERAGE : 0),
    ...(rule.description !== undefined && { description: rule.description }),
    location: { path: formatPath(at), ...(lineOf(at) !== undefined && { line: lineOf(at) }) },
  });
  return {
    version: 1,
    ...(raw.description !== undefined && { description: raw.description }),
    ...(raw.regions !== undefined && { regions: raw.regions }),
    ...(raw.analysis !== undefined && { analysis: raw.analysis }),
    ...(raw.sanity !== undefined && { sanity: raw.sanity }),
    ...(raw.minCoverage !== undefined && { minCoverage: raw.minCoverage }),
    minImages: raw.minImages ?? 1,
    errorBudget:
      typeof budget === 'number'
        ? { maxShare: budget }
        : budget.maxCount !== undefined
          ? { maxCount: budget.maxCount }
          : { maxShare: budget.maxShare ?? 0 },
    rules: (raw.rules ?? []).map((rule, i) => ({
      kind: 'value' as const,
      ...base(rule, ['rules', i]),
      ...(rule.min !== undefined && { min: rule.min }),
      ...(rule.max !== undefined && { max: rule.max }),
    })),
    baseline: (raw.baseline ?? []).map((rule, i) => ({
      kind: 'change' as const,
      ...base(rule, ['baseline', i]),
      change: rule.change ?? 'absolute',
      ...(rule.maxIncrease !== undefined && { maxIncrease: rule.maxIncrease }),
      ...(rule.maxDecrease !== undefined && { maxDecrease: rule.maxDecrease }),
    })),
    source,
  };
}

/** ["rules", 2, "max"] -> "rules[2].max"; the root is "(top level)". */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out || '(top level)';
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

/** Drops ajv's echo errors (`if`/`anyOf` wrappers) and keeps one error per path. */
function dedupe(errors: ErrorObject[]): ErrorObject[] {
  const byPath = new Map<string, ErrorObject>();
  for (const error of errors) {
    if (error.keyword === 'if') continue;
    const key = `${error.instancePath}|${childOf(error) ?? ''}`;
    if (!byPath.has(key)) byPath.set(key, error);
  }
  return [...byPath.values()];
}

/** For required / additionalProperties errors the problem is at the child property. */
function childOf(error: ErrorObject): string | undefined {
  if (error.keyword === 'required') return (error.params as { missingProperty: string }).missingProperty;
  if (error.keyword === 'additionalProperties') {
    return (error.params as { additionalProperty: string }).additionalProperty;
  }
  return undefined;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function schemaIssue(error: ErrorObject, lineOf: (path: (string | number)[]) => number | undefined): PolicyIssue {
  const at = pointerToPath(error.instancePath);
  const child = childOf(error);
  const parent = (error.parentSchema ?? {}) as { 'x-expected'?: string; properties?: object };
  const hint = parent['x-expected'];
  let message: string;
  switch (error.keyword) {
    case 'required':
      message = 'required property is missing';
      break;
    case 'additionalProperties':
      message = `unknown property (allowed: ${Object.keys(parent.properties ?? {}).join(', ')})`;
      break;
    case 'type':
      message = `expected ${hint ?? (error.params as { type: string }).type.split(',').join(' or ')}, got ${describeValue(error.data)}`;
      break;
    case 'enum':
      message = `expected one of ${(error.params as { allowedValues: unknown[] }).allowedValues
        .map((v) => JSON.stringify(v))
        .join(', ')}, got ${describeValue(error.data)}`;
      break;
    case 'const':
      message = `expected ${hint ?? JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}, got ${describeValue(error.data)}`;
      break;
    case 'minimum':
    case 'maximum': {
      const { comparison, limit } = error.params as { comparison: string; limit: number };
      message = `expected ${hint ?? `a number ${comparison} ${limit}`}, got ${describeValue(error.data)}`;
      break;
    }
    default:
      message = `expected ${hint ?? error.message ?? error.keyword}, got ${describeValue(error.data)}`;
  }
  const path = child !== undefined ? [...at, child] : at;
  return { path: formatPath(path), message, line: lineOf(child !== undefined && error.keyword === 'required' ? at : path) };
}

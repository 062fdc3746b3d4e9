import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { CocoRoleMap } from '../analysis/coco.ts';
import type { StaticRegion } from '../analysis/static-regions.ts';
import { ConfigError } from '../errors.ts';
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
  description?: string;
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
  /** Analysis options for `heatgate run`. */
  analysis?: { occlusionFill?: 'mean' | 'blur'; pointingTolerancePx?: number };
  /** Where the policy came from (file path, or "default") and the sha256 of its text. */
  source: { file: string; sha256: string };
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
 * Metric names of results.jsonl as the pipeline writes them today (ARCHITECTURE.md contract). Callers may
 * extend the list (e.g. with the analysis registry's names); `accuracy` is derived from `correct`.
 */
export const BUILTIN_METRICS: readonly string[] = [
  'invalidMass',
  'roiMass',
  'pointingGame',
  'energyPointingGame',
  'topKIoU',
  'sparseness',
  'entropy',
  'occlusionDrop',
  'occlusionFlip',
  'correct',
  'invalidArea',
  'accuracy',
];

export const DEFAULT_POLICY_FILE = new URL('./default-policy.yaml', import.meta.url);

const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true });
ajv.addKeyword('x-expected');
const validateSchema = ajv.compile(schema);

/** Reads and validates a policy file (YAML or JSON). Throws PolicyError listing every problem. */
export function loadPolicy(file: string, options: PolicyOptions = {}): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read policy file (${(error as NodeJS.ErrnoException).code ?? error})`, file);
  }
  return parsePolicy(text, file, options);
}

/** The documented default policy (src/gate/default-policy.yaml). */
export function defaultPolicy(options: PolicyOptions = {}): Policy {
  const policy = parsePolicy(readFileSync(DEFAULT_POLICY_FILE, 'utf8'), 'default-policy.yaml', options);
  return { ...policy, source: { ...policy.source, file: 'default' } };
}

/** Parses policy text (YAML, or JSON which YAML 1.2 includes); `file` names it in errors. */
export function parsePolicy(text: string, file: string, options: PolicyOptions = {}): Policy {
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
  const data: unknown = doc.toJS();
  const lineOf = (path: (string | number)[]): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
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
  return normalise(raw, { file, sha256: createHash('sha256').update(text).digest('hex') });
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
  rules?: RawRule[];
  baseline?: RawRule[];
  regions?: Policy['regions'];
  analysis?: Policy['analysis'];
}

/** Checks a schema cannot express clearly: bounds present, min <= max, values only where used, names. */
function checkSemantics(raw: RawPolicy, options: PolicyOptions): { at: (string | number)[]; message: string }[] {
  const issues: { at: (string | number)[]; message: string }[] = [];
  const seen = new Map<string, string>();
  const known = options.metrics ? new Set([...options.metrics, 'accuracy']) : undefined;
  const classes = options.classes ? new Set(options.classes) : undefined;
  if (typeof raw.errorBudget === 'object') {
    const keys = Object.keys(raw.errorBudget);
    if (keys.length !== 1) {
      issues.push({ at: ['errorBudget'], message: 'expected exactly one of maxShare or maxCount' });
    }
  }
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
      if (known && !known.has(rule.metric)) {
        issues.push({
          at: [...at, 'metric'],
          message: `unknown metric "${rule.metric}" (known: ${[...known].sort().join(', ')})`,
        });
      }
      if (rule.metric === 'accuracy' && (rule.aggregate ?? 'mean') !== 'mean') {
        issues.push({ at: [...at, 'aggregate'], message: 'accuracy is a mean of "correct"; use aggregate mean' });
      }
      if (classes && typeof rule.class === 'string' && rule.class !== 'each' && !classes.has(rule.class)) {
        issues.push({
          at: [...at, 'class'],
          message: `unknown class "${rule.class}" (known: ${[...classes].join(', ')}, or "each")`,
        });
      }
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
  return issues;
}

function normalise(raw: RawPolicy, source: Policy['source']): Policy {
  const budget = raw.errorBudget ?? 0;
  const base = (rule: RawRule) => ({
    name: rule.name,
    metric: rule.metric,
    aggregate: rule.aggregate ?? 'mean',
    ...(rule.value !== undefined && { value: rule.value }),
    ...(rule.class !== undefined && { class: rule.class }),
    severity: rule.severity ?? 'fail',
    ifNoData: rule.ifNoData ?? 'skip',
    ...(rule.description !== undefined && { description: rule.description }),
  });
  return {
    version: 1,
    ...(raw.description !== undefined && { description: raw.description }),
    ...(raw.regions !== undefined && { regions: raw.regions }),
    ...(raw.analysis !== undefined && { analysis: raw.analysis }),
    minImages: raw.minImages ?? 1,
    errorBudget:
      typeof budget === 'number'
        ? { maxShare: budget }
        : budget.maxCount !== undefined
          ? { maxCount: budget.maxCount }
          : { maxShare: budget.maxShare ?? 0 },
    rules: (raw.rules ?? []).map((rule) => ({
      kind: 'value' as const,
      ...base(rule),
      ...(rule.min !== undefined && { min: rule.min }),
      ...(rule.max !== undefined && { max: rule.max }),
    })),
    baseline: (raw.baseline ?? []).map((rule) => ({
      kind: 'change' as const,
      ...base(rule),
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

import { describe, expect, it } from 'vitest';
import { evaluatePolicy } from '../../src/gate/evaluate.ts';
import type { ResultRecord } from '../../src/gate/records.ts';
import type { GateCheck, RuleResult } from '../../src/gate/verdict.ts';
import { failed, img, many, policyFrom, summarise } from './helpers.ts';

interface Case {
  description: string;
  records: ResultRecord[];
  baseline?: ResultRecord[];
  policy: string;
  expected: { verdict: 'pass' | 'fail'; rules?: Partial<RuleResult>[]; checks?: Partial<GateCheck>[] };
}

/** One value rule on all images; minImages 1 and no error budget slack unless a case says otherwise. */
const one = (body: string, head = '') => `version: 1\n${head}rules:\n  - name: r\n${body.replace(/^/gm, '    ')}\n`;
const closeTo = (x: number) => expect.closeTo(x, 10);

const cases: Case[] = [
  // Aggregates, each against a hand-computed value.
  {
    description: 'mean at the bound passes (bounds are inclusive; 0.6/3 rounds above 0.2 in float)',
    records: many('invalidMass', [0.1, 0.2, 0.3]),
    policy: one('metric: invalidMass\nmax: 0.2'),
    expected: { verdict: 'pass', rules: [{ name: 'r', measured: closeTo(0.2), outcome: 'pass', count: 3, comparison: '<=', threshold: 0.2 }] },
  },
  {
    description: 'mean above max fails',
    records: many('invalidMass', [0.1, 0.2, 0.4]),
    policy: one('metric: invalidMass\nmax: 0.2'),
    expected: { verdict: 'fail', rules: [{ measured: closeTo(0.7 / 3), outcome: 'fail' }] },
  },
  {
    description: 'median of an even count interpolates',
    records: many('invalidMass', [0.1, 0.9, 0.2, 0.3]),
    policy: one('metric: invalidMass\naggregate: median\nmax: 0.3'),
    expected: { verdict: 'pass', rules: [{ measured: closeTo(0.25), outcome: 'pass' }] },
  },
  {
    description: 'p90 of 0, 0.1, ..., 1.0 is 0.9',
    records: many('invalidMass', [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
    policy: one('metric: invalidMass\naggregate: p90\nmax: 0.85'),
    expected: { verdict: 'fail', rules: [{ aggregate: 'p90', measured: closeTo(0.9), outcome: 'fail' }] },
  },
  {
    description: 'max',
    records: many('invalidMass', [0.1, 0.5]),
    policy: one('metric: invalidMass\naggregate: max\nmax: 0.4'),
    expected: { verdict: 'fail', rules: [{ measured: 0.5, outcome: 'fail' }] },
  },
  {
    description: 'min with a lower bound',
    records: many('roiMass', [0.3, 0.6]),
    policy: one('metric: roiMass\naggregate: min\nmin: 0.35'),
    expected: { verdict: 'fail', rules: [{ measured: 0.3, outcome: 'fail', comparison: '>=', threshold: 0.35 }] },
  },
  {
    description: 'shareAbove counts strictly greater values (0.5 is not above 0.5)',
    records: many('invalidMass', [0.6, 0.2, 0.7, 0.1, 0.5]),
    policy: one('metric: invalidMass\naggregate: shareAbove\nvalue: 0.5\nmax: 0.4'),
    expected: { verdict: 'pass', rules: [{ measured: closeTo(0.4), value: 0.5, outcome: 'pass', isShare: true }] },
  },
  {
    description: 'shareAbove over its bound fails',
    records: many('invalidMass', [0.6, 0.2, 0.7, 0.1, 0.5]),
    policy: one('metric: invalidMass\naggregate: shareAbove\nvalue: 0.5\nmax: 0.3'),
    expected: { verdict: 'fail', rules: [{ measured: closeTo(0.4), outcome: 'fail' }] },
  },
  {
    description: 'shareBelow',
    records: many('roiMass', [0.1, 0.2, 0.8, 0.9]),
    policy: one('metric: roiMass\naggregate: shareBelow\nvalue: 0.25\nmax: 0.25'),
    expected: { verdict: 'fail', rules: [{ measured: closeTo(0.5), outcome: 'fail' }] },
  },
  {
    description: 'a range: min and max together',
    records: many('sparseness', [0.4, 0.6]),
    policy: one('metric: sparseness\nmin: 0.2\nmax: 0.45'),
    expected: { verdict: 'fail', rules: [{ measured: closeTo(0.5), comparison: 'between', threshold: [0.2, 0.45], outcome: 'fail' }] },
  },
  {
    description: 'metrics outside [0, 1] and new metric names work too',
    records: many('myNewMetric', [-3, 5]),
    policy: one('metric: myNewMetric\nmax: 1.5'),
    expected: { verdict: 'pass', rules: [{ measured: 1, outcome: 'pass' }] },
  },
  // Nulls and skipped rules.
  {
    description: 'null values are left out of the aggregate (minCoverage 0: 2 of 3 images are enough)',
    records: many('invalidMass', [0.1, null, 0.3]),
    policy: one('metric: invalidMass\nmax: 0.2\nminCoverage: 0'),
    expected: { verdict: 'pass', rules: [{ measured: closeTo(0.2), count: 2, computed: 2, coverage: closeTo(2 / 3), outcome: 'pass' }] },
  },
  {
    description: 'a metric that is null everywhere fails closed, naming the flags that supply the data',
    records: many('invalidMass', [null, null]),
    policy: one('metric: invalidMass\nmax: 0.2'),
    expected: {
      verdict: 'fail',
      rules: [
        {
          outcome: 'fail',
          measured: null,
          count: 0,
          computed: 0,
          coverage: 0,
          ifNoData: 'fail',
          message:
            'no data: invalidMass could not be computed for any of the 2 images; invalidMass needs invalid-pixel regions: ' +
            '--invalid-masks, --coco with regions.coco.invalid, or regions.static with role invalid',
        },
      ],
    },
  },
  {
    description: 'ifNoData: skip on purpose: skipped with the reason, and the gate passes',
    records: many('invalidMass', [null, null]),
    policy: one('metric: invalidMass\nmax: 0.2\nifNoData: skip'),
    expected: {
      verdict: 'pass',
      rules: [{ outcome: 'skipped', measured: null, ifNoData: 'skip', message: expect.stringMatching(/^skipped \(ifNoData: skip\): invalidMass could not be computed for any of the 2 images; invalidMass needs invalid-pixel regions: --invalid-masks/) }],
    },
  },
  {
    description: 'a metric no image has fails closed (occlusionFlip needs invalid regions too)',
    records: many('roiMass', [0.5]),
    policy: one('metric: occlusionFlip\nmax: 0.1'),
    expected: { verdict: 'fail', rules: [{ outcome: 'fail', message: expect.stringMatching(/^no data: no image has metric occlusionFlip; occlusionFlip needs invalid-pixel regions: --invalid-masks/) }] },
  },
  {
    description: 'a warn rule without data warns',
    records: many('invalidMass', [null]),
    policy: one('metric: invalidMass\nmax: 0.2\nseverity: warn'),
    expected: { verdict: 'pass', rules: [{ outcome: 'warn', measured: null, message: expect.stringMatching(/^no data: /) }] },
  },
  // Coverage: 3 masks among 200 images must not become a verdict about 200 images.
  {
    description: 'a region metric computed on 3 of 200 images is below the default minCoverage 90 % and fails',
    records: many('invalidMass', [0.05, 0.05, 0.05, ...Array<null>(197).fill(null)]),
    policy: one('metric: invalidMass\nmax: 0.2'),
    expected: {
      verdict: 'fail',
      rules: [
        {
          outcome: 'fail',
          measured: null,
          computed: 3,
          coverage: 0.015,
          minCoverage: 0.9,
          message: expect.stringMatching(/^no data: invalidMass computed on 3 of 200 images \(1\.5 %\), below minCoverage 90 %; invalidMass needs/),
        },
      ],
    },
  },
  {
    description: 'coverage at exactly the minimum is enough (9 of 10 = 90 %)',
    records: many('invalidMass', [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, null]),
    policy: one('metric: invalidMass\nmax: 0.2'),
    expected: { verdict: 'pass', rules: [{ outcome: 'pass', computed: 9, coverage: 0.9, minCoverage: 0.9 }] },
  },
  {
    description: 'a per-rule minCoverage overrides the policy-wide one',
    records: many('invalidMass', [0.1, null, null, null]),
    policy: one('metric: invalidMass\nmax: 0.2\nminCoverage: 0.25', 'minCoverage: 1\n'),
    expected: { verdict: 'pass', rules: [{ outcome: 'pass', computed: 1, coverage: 0.25, minCoverage: 0.25 }] },
  },
  {
    description: 'a policy-wide minCoverage applies to every rule without its own, also non-region metrics',
    records: many('entropy', [5, null]),
    policy: one('metric: entropy\nmax: 9', 'minCoverage: 0.75\n'),
    expected: { verdict: 'fail', rules: [{ outcome: 'fail', computed: 1, coverage: 0.5, minCoverage: 0.75 }] },
  },
  {
    description: 'non-region metrics default to minCoverage 0',
    records: many('entropy', [5, null, null]),
    policy: one('metric: entropy\nmax: 9'),
    expected: { verdict: 'pass', rules: [{ outcome: 'pass', computed: 1, minCoverage: 0 }] },
  },
  {
    description: 'coverage of a class rule counts the images of that class only',
    records: [...many('roiMass', [null, null, null]), ...many('roiMass', [0.8, 0.9], { target: 1, className: 'dog' })],
    policy: one('metric: roiMass\nclass: dog\nmin: 0.5'),
    expected: { verdict: 'pass', rules: [{ class: 'dog', outcome: 'pass', computed: 2, coverage: 1 }] },
  },
  // Severity.
  {
    description: 'a failing warn rule warns and the gate still passes',
    records: many('occlusionFlip', [1, 0, 0, 1]),
    policy: one('metric: occlusionFlip\nmax: 0.1\nseverity: warn'),
    expected: { verdict: 'pass', rules: [{ measured: 0.5, outcome: 'warn', severity: 'warn' }] },
  },
  {
    description: 'a passing warn rule passes',
    records: many('occlusionFlip', [0, 0]),
    policy: one('metric: occlusionFlip\nmax: 0.1\nseverity: warn'),
    expected: { verdict: 'pass', rules: [{ measured: 0, outcome: 'pass' }] },
  },
  // Accuracy.
  {
    description: 'accuracy from labels: 3 of 4 correct',
    records: [
      img({}, { predicted: 0, label: 0 }),
      img({}, { predicted: 0, label: 0 }),
      img({}, { predicted: 0, label: 0 }),
      img({}, { predicted: 0, label: 1 }),
    ],
    policy: one('metric: accuracy\nmin: 0.8'),
    expected: { verdict: 'fail', rules: [{ metric: 'accuracy', measured: 0.75, outcome: 'fail', isShare: true }] },
  },
  {
    description: 'accuracy from the correct metric',
    records: many('correct', [1, 1, 1, 1, 0]),
    policy: one('metric: accuracy\nmin: 0.8'),
    expected: { verdict: 'pass', rules: [{ measured: 0.8, outcome: 'pass' }] },
  },
  {
    description: 'accuracy without labels fails closed, naming --labels and --coco',
    records: [img({ invalidMass: 0.1 }, { label: null })],
    policy: one('metric: accuracy\nmin: 0.8'),
    expected: { verdict: 'fail', rules: [{ outcome: 'fail', message: expect.stringContaining('correct needs labels: --labels, or --coco') }] },
  },
  // Per class.
  {
    description: 'one class by name',
    records: [...many('invalidMass', [0.1, 0.1]), ...many('invalidMass', [0.5, 0.7], { target: 1, className: 'dog' })],
    policy: one('metric: invalidMass\nclass: dog\nmax: 0.5'),
    expected: { verdict: 'fail', rules: [{ name: 'r', class: 'dog', measured: closeTo(0.6), count: 2, outcome: 'fail' }] },
  },
  {
    description: 'one class by index',
    records: [...many('invalidMass', [0.1, 0.3]), ...many('invalidMass', [0.5, 0.7], { target: 1, className: 'dog' })],
    policy: one('metric: invalidMass\nclass: 0\nmax: 0.5'),
    expected: { verdict: 'pass', rules: [{ class: 'cat', measured: closeTo(0.2), outcome: 'pass' }] },
  },
  {
    description: 'class: each gives one result per class, in class order',
    records: [...many('invalidMass', [0.5, 0.7], { target: 1, className: 'dog' }), ...many('invalidMass', [0.1, 0.3])],
    policy: one('metric: invalidMass\nclass: each\nmax: 0.5'),
    expected: {
      verdict: 'fail',
      rules: [
        { name: 'r[cat]', rule: 'r', class: 'cat', measured: closeTo(0.2), outcome: 'pass' },
        { name: 'r[dog]', rule: 'r', class: 'dog', measured: closeTo(0.6), outcome: 'fail' },
      ],
    },
  },
  {
    description: 'a class that is not in the data fails closed (no evidence about it), not an error',
    records: many('invalidMass', [0.1]),
    policy: one('metric: invalidMass\nclass: zebra\nmax: 0.5'),
    expected: { verdict: 'fail', rules: [{ class: 'zebra', outcome: 'fail', coverage: null, message: 'no data: no processed images of class "zebra"' }] },
  },
  // Gate checks.
  {
    description: 'fewer processed images than minImages fails the gate (errors do not count)',
    records: [...many('invalidMass', [0.1, 0.1, 0.1]), failed(), failed()],
    policy: one('metric: invalidMass\nmax: 0.5', 'minImages: 5\nerrorBudget: 1\n'),
    expected: {
      verdict: 'fail',
      rules: [{ outcome: 'pass' }],
      checks: [
        { name: 'minImages', measured: 3, threshold: 5, outcome: 'fail' },
        { name: 'errorBudget', outcome: 'pass' },
      ],
    },
  },
  {
    description: 'error share over the budget fails',
    records: [...many('invalidMass', Array(9).fill(0.1)), failed(), failed()],
    policy: one('metric: invalidMass\nmax: 0.5', 'errorBudget: 0.1\n'),
    expected: { verdict: 'fail', checks: [{ name: 'minImages', outcome: 'pass' }, { name: 'errorBudget', measured: closeTo(2 / 11), threshold: 0.1, outcome: 'fail', isShare: true }] },
  },
  {
    description: 'error share exactly at the budget passes',
    records: [...many('invalidMass', Array(9).fill(0.1)), failed()],
    policy: one('metric: invalidMass\nmax: 0.5', 'errorBudget: 0.1\n'),
    expected: { verdict: 'pass', checks: [{}, { name: 'errorBudget', measured: closeTo(0.1), outcome: 'pass' }] },
  },
  {
    description: 'error count over the budget fails',
    records: [...many('invalidMass', [0.1, 0.1]), failed(), failed()],
    policy: one('metric: invalidMass\nmax: 0.5', 'errorBudget: {maxCount: 1}\n'),
    expected: { verdict: 'fail', checks: [{}, { name: 'errorBudget', measured: 2, threshold: 1, outcome: 'fail' }] },
  },
  {
    description: 'failed images are left out of the metrics',
    records: [...many('invalidMass', [0.1, 0.3]), failed()],
    policy: one('metric: invalidMass\nmax: 0.2', 'errorBudget: 0.5\n'),
    expected: { verdict: 'pass', rules: [{ measured: closeTo(0.2), count: 2 }] },
  },
  // Baseline (change) rules.
  {
    description: 'absolute increase above maxIncrease fails: 0.25 - 0.2 = 0.05 > 0.02',
    records: many('invalidMass', [0.2, 0.3]),
    baseline: many('invalidMass', [0.1, 0.3]),
    policy: 'version: 1\nbaseline:\n  - {name: b, metric: invalidMass, maxIncrease: 0.02}\n',
    expected: {
      verdict: 'fail',
      rules: [{ kind: 'change', measured: closeTo(0.05), current: closeTo(0.25), baseline: closeTo(0.2), change: 'absolute', outcome: 'fail' }],
    },
  },
  {
    description: 'absolute increase within maxIncrease passes: 0.21 - 0.2 = 0.01',
    records: many('invalidMass', [0.21]),
    baseline: many('invalidMass', [0.2]),
    policy: 'version: 1\nbaseline:\n  - {name: b, metric: invalidMass, maxIncrease: 0.02}\n',
    expected: { verdict: 'pass', rules: [{ measured: closeTo(0.01), outcome: 'pass', comparison: '<=', threshold: 0.02 }] },
  },
  {
    description: 'relative decrease beyond maxDecrease fails: (0.4 - 0.5) / 0.5 = -20 % < -10 %',
    records: many('roiMass', [0.4]),
    baseline: many('roiMass', [0.5]),
    policy: 'version: 1\nbaseline:\n  - {name: b, metric: roiMass, change: relative, maxDecrease: 0.1}\n',
    expected: { verdict: 'fail', rules: [{ measured: closeTo(-0.2), comparison: '>=', threshold: -0.1, outcome: 'fail' }] },
  },
  {
    description: 'both change bounds; a decrease inside them passes',
    records: many('roiMass', [0.45]),
    baseline: many('roiMass', [0.5]),
    policy: 'version: 1\nbaseline:\n  - {name: b, metric: roiMass, maxIncrease: 0.1, maxDecrease: 0.1}\n',
    expected: { verdict: 'pass', rules: [{ measured: closeTo(-0.05), comparison: 'between', threshold: [-0.1, 0.1], outcome: 'pass' }] },
  },
  {
    description: 'relative increase from a baseline of 0 is unbounded and fails maxIncrease',
    records: many('invalidMass', [0.1]),
    baseline: many('invalidMass', [0]),
    policy: 'version: 1\nbaseline:\n  - {name: b, metric: invalidMass, change: relative, maxIncrease: 0.5}\n',
    expected: { verdict: 'fail', rules: [{ measured: null, current: 0.1, baseline: 0, outcome: 'fail' }] },
  },
  {
    description: 'a change rule with severity warn only warns',
    records: many('invalidMass', [0.5]),
    baseline: many('invalidMass', [0.1]),
    policy: 'version: 1\nbaseline:\n  - {name: b, metric: invalidMass, maxIncrease: 0.02, severity: warn}\n',
    expected: { verdict: 'pass', rules: [{ outcome: 'warn' }] },
  },
  {
    description: 'per-class change rules compare the same class',
    records: [...many('invalidMass', [0.1]), ...many('invalidMass', [0.5], { target: 1, className: 'dog' })],
    baseline: [...many('invalidMass', [0.1]), ...many('invalidMass', [0.2], { target: 1, className: 'dog' })],
    policy: 'version: 1\nbaseline:\n  - {name: b, metric: invalidMass, class: each, maxIncrease: 0.02}\n',
    expected: {
      verdict: 'fail',
      rules: [
        { name: 'b[cat]', measured: closeTo(0), outcome: 'pass' },
        { name: 'b[dog]', measured: closeTo(0.3), outcome: 'fail' },
      ],
    },
  },
  {
    description: 'without a baseline a change rule fails closed unless it says ifNoData: skip',
    records: many('invalidMass', [0.5]),
    policy: 'version: 1\nbaseline:\n  - {name: b, metric: invalidMass, maxIncrease: 0.02}\n',
    expected: { verdict: 'fail', rules: [{ outcome: 'fail', message: expect.stringMatching(/^no data: no baseline given \(--baseline-model/), current: null, baseline: null }] },
  },
  {
    description: 'without a baseline a change rule with ifNoData: skip is skipped (a first promotion)',
    records: many('invalidMass', [0.5]),
    policy: 'version: 1\nbaseline:\n  - {name: b, metric: invalidMass, maxIncrease: 0.02, ifNoData: skip}\n',
    expected: { verdict: 'pass', rules: [{ outcome: 'skipped', message: expect.stringMatching(/^skipped \(ifNoData: skip\): no baseline given/), current: null, baseline: null }] },
  },
  {
    description: 'a baseline without the metric fails the rule',
    records: many('invalidMass', [0.5]),
    baseline: many('invalidMass', [null]),
    policy: 'version: 1\nbaseline:\n  - {name: b, metric: invalidMass, maxIncrease: 0.02}\n',
    expected: { verdict: 'fail', rules: [{ outcome: 'fail', current: 0.5, message: expect.stringMatching(/^no data: baseline: invalidMass could not be computed/) }] },
  },
  {
    description: 'a baseline whose metric covers too few images fails the rule',
    records: many('invalidMass', [0.5, 0.5]),
    baseline: many('invalidMass', [0.4, null]),
    policy: 'version: 1\nbaseline:\n  - {name: b, metric: invalidMass, maxIncrease: 0.02}\n',
    expected: { verdict: 'fail', rules: [{ outcome: 'fail', message: expect.stringMatching(/^no data: baseline: invalidMass computed on 1 of 2 images \(50 %\), below minCoverage 90 %/) }] },
  },
];

describe('evaluatePolicy rule table', () => {
  it.each(cases)('$description', ({ records, baseline, policy: text, expected }) => {
    const policy = policyFrom(text);
    const verdict = evaluatePolicy(policy, summarise(records, policy), baseline && summarise(baseline, policy));
    expect(verdict.verdict).toBe(expected.verdict);
    if (expected.rules) {
      expect(verdict.rules).toHaveLength(expected.rules.length);
      expected.rules.forEach((rule, i) => expect(verdict.rules[i]).toMatchObject(rule));
    }
    if (expected.checks) expected.checks.forEach((check, i) => expect(verdict.checks[i]).toMatchObject(check));
    // Every failing rule or check is a reason, and only those.
    const failing = verdict.rules.filter((r) => r.outcome === 'fail').length + verdict.checks.filter((c) => c.outcome === 'fail').length;
    expect(verdict.reasons).toHaveLength(failing);
  });
});

describe('verdict contents', () => {
  const policy = policyFrom(
    'version: 1\nrules:\n  - {name: ok, metric: roiMass, min: 0.1}\n  - {name: bad, metric: invalidMass, max: 0.2}\n  - {name: low-roi, metric: roiMass, aggregate: shareBelow, value: 0.3, max: 0.1}\n',
  );
  const records = [
    img({ invalidMass: 0.9, roiMass: 0.2 }, { image: 'a.png', overlay: 'overlays/a.png' }),
    img({ invalidMass: 0.1, roiMass: 0.8 }, { image: 'b.png' }),
    img({ invalidMass: 0.5, roiMass: 0.25 }, { image: 'c.png' }),
    img({ invalidMass: 0.05, roiMass: 0.9 }, { image: 'd.png' }),
  ];
  const verdict = evaluatePolicy(policy, summarise(records, policy), undefined, {
    fingerprints: { model: 'm'.repeat(64), data: 'd'.repeat(64) },
    now: new Date('2026-01-02T03:04:05Z'),
    worstCount: 3,
  });

  it('names the failing rule in the reasons', () => {
    expect(verdict.verdict).toBe('fail');
    expect(verdict.reasons).toEqual([
      'bad: mean invalidMass = 0.3875, above the maximum 0.2',
      'low-roi: share of images with roiMass < 0.3 = 50 %, above the maximum 10 %',
    ]);
  });

  it('lists the worst images of the first failing rule, highest first', () => {
    expect(verdict.worstImages).toMatchObject({ rule: 'bad', metric: 'invalidMass', order: 'highest', class: null });
    expect(verdict.worstImages!.images.map((i) => [i.image, i.value])).toEqual([
      ['a.png', 0.9],
      ['c.png', 0.5],
      ['b.png', 0.1],
    ]);
    expect(verdict.worstImages!.images[0]).toMatchObject({ overlay: 'overlays/a.png', metrics: { invalidMass: 0.9, roiMass: 0.2 } });
  });

  it('counts images over a per-image threshold of a fail rule (roiMass < 0.3: a, c)', () => {
    expect(verdict.counts).toEqual({ images: 4, processed: 4, errors: 0, failedImages: 2 });
  });

  it('carries fingerprints, tool and policy provenance', () => {
    expect(verdict.fingerprints).toEqual({ model: 'm'.repeat(64), data: 'd'.repeat(64), policy: policy.source.sha256 });
    expect(verdict.tool).toEqual({ name: 'heatgate', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(verdict.policy.file).toBe('policy.yaml');
    expect(verdict.generatedAt).toBe('2026-01-02T03:04:05.000Z');
  });

  it('ranks the lowest values for a rule that fails its lower bound', () => {
    const p = policyFrom('version: 1\nrules:\n  - {name: roi, metric: roiMass, min: 0.9}\n');
    const v = evaluatePolicy(p, summarise(records, p), undefined, { worstCount: 2 });
    expect(v.worstImages).toMatchObject({ rule: 'roi', order: 'lowest' });
    expect(v.worstImages!.images.map((i) => i.image)).toEqual(['a.png', 'c.png']);
  });

  it('ranks the lowest values for a shareBelow rule', () => {
    const p = policyFrom('version: 1\nrules:\n  - {name: s, metric: roiMass, aggregate: shareBelow, value: 0.3, max: 0}\n');
    const v = evaluatePolicy(p, summarise(records, p), undefined, { worstCount: 1 });
    expect(v.worstImages!.images.map((i) => i.image)).toEqual(['a.png']);
  });

  it('falls back to warnings, then the first evaluated rule, for the gallery', () => {
    const p = policyFrom(
      'version: 1\nrules:\n  - {name: skip, metric: nothing, max: 1}\n  - {name: pass, metric: roiMass, max: 1}\n  - {name: w, metric: invalidMass, max: 0.1, severity: warn}\n',
    );
    expect(evaluatePolicy(p, summarise(records, p)).worstImages).toMatchObject({ rule: 'w', order: 'highest' });
    const q = policyFrom('version: 1\nrules:\n  - {name: skip, metric: nothing, max: 1}\n  - {name: pass, metric: roiMass, max: 1}\n');
    expect(evaluatePolicy(q, summarise(records, q)).worstImages).toMatchObject({ rule: 'pass' });
  });

  it('gives one gallery per failed rule, then per warning, each from its own end; worstImages is the first', () => {
    const p = policyFrom(
      'version: 1\nrules:\n  - {name: w, metric: invalidMass, max: 0.1, severity: warn}\n  - {name: ok, metric: roiMass, max: 1}\n' +
        '  - {name: bad, metric: invalidMass, max: 0.2}\n  - {name: roi, metric: roiMass, min: 0.9}\n',
    );
    const v = evaluatePolicy(p, summarise(records, p), undefined, { worstCount: 2 });
    expect(v.galleries.map((g) => [g.rule, g.metric, g.order, g.images.map((i) => i.image)])).toEqual([
      ['bad', 'invalidMass', 'highest', ['a.png', 'c.png']],
      ['roi', 'roiMass', 'lowest', ['a.png', 'c.png']],
      ['w', 'invalidMass', 'highest', ['a.png', 'c.png']],
    ]);
    expect(v.worstImages).toBe(v.galleries[0]);
  });

  it('gives one gallery, the first measured rule\'s, when nothing failed or warned, and none without data', () => {
    const q = policyFrom('version: 1\nrules:\n  - {name: skip, metric: nothing, max: 1, ifNoData: skip}\n  - {name: pass, metric: roiMass, max: 1}\n  - {name: also, metric: invalidMass, max: 1}\n');
    const v = evaluatePolicy(q, summarise(records, q), undefined, { worstCount: 2 });
    expect(v.verdict).toBe('pass');
    expect(v.galleries.map((g) => [g.rule, g.order, g.images.map((i) => i.image)])).toEqual([['pass', 'highest', ['d.png', 'b.png']]]);
    const none = policyFrom('version: 1\nrules:\n  - {name: skip, metric: nothing, max: 1}\n');
    const n = evaluatePolicy(none, summarise(records, none));
    expect([n.galleries, n.worstImages]).toEqual([[], null]);
  });

  it('gives each class of a failing class: each rule its own gallery of that class', () => {
    const recs = [...records, img({ invalidMass: 0.99 }, { image: 'dog.png', target: 1, className: 'dog' })];
    const p = policyFrom('version: 1\nrules:\n  - {name: c, metric: invalidMass, class: each, max: 0.2}\n');
    const v = evaluatePolicy(p, summarise(recs, p), undefined, { worstCount: 2 });
    expect(v.galleries.map((g) => [g.rule, g.class, g.images.map((i) => i.image)])).toEqual([
      ['c[cat]', 'cat', ['a.png', 'c.png']],
      ['c[dog]', 'dog', ['dog.png']],
    ]);
  });

  it('restricts the worst images of a per-class rule to that class', () => {
    const recs = [...records, img({ invalidMass: 0.99 }, { image: 'dog.png', target: 1, className: 'dog' })];
    const p = policyFrom('version: 1\nrules:\n  - {name: c, metric: invalidMass, class: cat, max: 0.2}\n');
    const v = evaluatePolicy(p, summarise(recs, p));
    expect(v.worstImages!.images[0].image).toBe('a.png');
    expect(v.worstImages!.class).toBe('cat');
  });
});

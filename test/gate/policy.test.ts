import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { BUILTIN_METRICS, MAX_POLICY_BYTES, PolicyError, checkPolicyMetrics, defaultPolicy, formatPath, loadPolicy, parsePolicy } from '../../src/gate/policy.ts';

function issuesOf(text: string, options = {}): string[] {
  try {
    parsePolicy(text, 'p.yaml', options);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    return (error as Error).message.split('\n');
  }
  throw new Error('expected the policy to be rejected');
}

const rule = (body: string) => `version: 1\nrules:\n  - name: r\n    metric: invalidMass\n${body}`;

describe('policy schema errors name the file, the path in the file and what was expected', () => {
  it.each([
    {
      description: 'a string threshold',
      text: rule('    max: "0.2"\n'),
      expected: 'p.yaml: rules[0].max: expected number, got string "0.2" (line 5)',
    },
    {
      description: 'an unknown aggregate',
      text: rule('    aggregate: avg\n    max: 1\n'),
      expected:
        'p.yaml: rules[0].aggregate: expected one of mean, median, min, max, shareAbove, shareBelow or a percentile pNN (e.g. p90), got string "avg" (line 5)',
    },
    {
      description: 'a bad severity',
      text: rule('    max: 1\n    severity: error\n'),
      expected: 'p.yaml: rules[0].severity: expected one of "fail", "warn", got string "error" (line 6)',
    },
    {
      description: 'an unknown property',
      text: rule('    max: 1\n    treshold: 2\n'),
      expected:
        'p.yaml: rules[0].treshold: unknown property (allowed: name, metric, aggregate, value, max, min, class, severity, ifNoData, minCoverage, description) (line 6)',
    },
    {
      description: 'a missing metric',
      text: 'version: 1\nrules:\n  - name: r\n    max: 1\n',
      expected: 'p.yaml: rules[0].metric: required property is missing (line 3)',
    },
    {
      description: 'a wrong version',
      text: 'version: 2\n',
      expected: 'p.yaml: version: expected version 1 (the only policy format so far), got number 2 (line 1)',
    },
    {
      description: 'an error budget above 1',
      text: 'version: 1\nerrorBudget: 5\n',
      expected:
        'p.yaml: errorBudget: expected a share between 0 and 1, or an object {maxShare} / {maxCount}, got number 5 (line 2)',
    },
    {
      description: 'a negative class index',
      text: rule('    max: 1\n    class: -1\n'),
      expected: 'p.yaml: rules[0].class: expected a class index (integer >= 0), a class name, or "each", got number -1 (line 6)',
    },
    {
      description: 'a negative maxIncrease',
      text: 'version: 1\nbaseline:\n  - name: b\n    metric: invalidMass\n    maxIncrease: -0.1\n',
      expected: 'p.yaml: baseline[0].maxIncrease: expected a number >= 0, got number -0.1 (line 5)',
    },
    {
      description: 'rules that is not a list',
      text: 'version: 1\nrules: {}\n',
      expected: 'p.yaml: rules: expected array, got an object (line 2)',
    },
  ])('$description', ({ text, expected }) => {
    expect(issuesOf(text)).toContain(expected);
  });

  it('reports every error at once (allErrors)', () => {
    const lines = issuesOf('version: 1\nminImages: ten\nrules:\n  - name: r\n    metric: m\n    max: x\n    min: y\n');
    expect(lines).toEqual([
      'p.yaml: minImages: expected integer, got string "ten" (line 2)',
      'p.yaml: rules[0].max: expected number, got string "x" (line 6)',
      'p.yaml: rules[0].min: expected number, got string "y" (line 7)',
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    const [line] = issuesOf('version: 1\nrules:\n  - name: [unclosed\n');
    expect(line).toMatch(/^p\.yaml: \(syntax\): .+ \(line \d+\)$/);
  });

  it('reports duplicate keys', () => {
    expect(issuesOf('version: 1\nminImages: 1\nminImages: 2\n')[0]).toMatch(/^p\.yaml: \(syntax\): .*[Uu]nique/);
  });
});

describe('policy checks beyond the schema', () => {
  it.each([
    { description: 'no threshold', text: rule(''), expected: 'p.yaml: rules[0]: expected a threshold: "max" and/or "min" (line 3)' },
    { description: 'min above max', text: rule('    min: 0.5\n    max: 0.2\n'), expected: 'p.yaml: rules[0].min: min 0.5 is greater than max 0.2 (line 5)' },
    {
      description: 'share aggregate without value',
      text: rule('    aggregate: shareAbove\n    max: 0.1\n'),
      expected: 'p.yaml: rules[0]: aggregate shareAbove needs "value" (the per-image threshold) (line 3)',
    },
    {
      description: 'value on a mean',
      text: rule('    value: 0.5\n    max: 0.1\n'),
      expected: 'p.yaml: rules[0].value: "value" is only used by shareAbove / shareBelow (line 5)',
    },
    {
      description: 'accuracy with a percentile',
      text: 'version: 1\nrules:\n  - {name: a, metric: accuracy, aggregate: p90, min: 0.8}\n',
      expected: 'p.yaml: rules[0].aggregate: accuracy is a mean of "correct"; use aggregate mean (line 3)',
    },
    {
      description: 'baseline rule without a bound',
      text: 'version: 1\nbaseline:\n  - {name: b, metric: invalidMass}\n',
      expected: 'p.yaml: baseline[0]: expected a change threshold: "maxIncrease" and/or "maxDecrease" (line 3)',
    },
    {
      description: 'duplicate rule names across sections',
      text: 'version: 1\nrules:\n  - {name: r, metric: m, max: 1}\nbaseline:\n  - {name: r, metric: m, maxIncrease: 1}\n',
      expected: 'p.yaml: baseline[0].name: duplicate rule name "r" (also rules[0]) (line 5)',
    },
    {
      description: 'an error budget with both share and count',
      text: 'version: 1\nerrorBudget: {maxShare: 0.1, maxCount: 3}\n',
      expected: 'p.yaml: errorBudget: expected exactly one of maxShare or maxCount (line 2)',
    },
  ])('$description', ({ text, expected }) => {
    expect(issuesOf(text)).toContain(expected);
  });

  it('rejects metric names outside the list the caller passes, naming the known ones', () => {
    const lines = issuesOf(rule('    max: 1\n').replace('invalidMass', 'invalidMas'), { metrics: ['invalidMass', 'roiMass'] });
    expect(lines).toEqual(['p.yaml: rules[0].metric: unknown metric "invalidMas" (known: accuracy, invalidMass, roiMass) (line 4)']);
    // accuracy is always known; without a list nothing is checked.
    expect(() => parsePolicy('version: 1\nrules: [{name: a, metric: accuracy, min: 0.8}]\n', 'p.yaml', { metrics: [] })).not.toThrow();
    expect(() => parsePolicy(rule('    max: 1\n').replace('invalidMass', 'anything'), 'p.yaml')).not.toThrow();
  });

  it('rejects class names outside the list the caller passes, but accepts indices and each', () => {
    const lines = issuesOf(rule('    max: 1\n    class: dog\n'), { classes: ['cat', 'pedestrian'] });
    expect(lines).toEqual(['p.yaml: rules[0].class: unknown class "dog": the model has no class "dog" (its classes: cat, pedestrian; or "each") (line 6)']);
    for (const cls of ['cat', 'each', '0']) {
      expect(() => parsePolicy(rule(`    max: 1\n    class: ${cls}\n`), 'p.yaml', { classes: ['cat'] })).not.toThrow();
    }
  });

  it('names every class the model lacks, in every rule that uses one, and shortens a long class list', () => {
    const text = `version: 1
rules:
  - {name: a, metric: invalidMass, max: 1, class: dog}
  - {name: b, metric: roiMass, min: 0, class: zebra}
baseline:
  - {name: c, metric: invalidMass, maxIncrease: 0.1, class: dog}
`;
    const classes = Array.from({ length: 1000 }, (_, i) => `class${i}`);
    const lines = issuesOf(text, { classes });
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toContain('the model has no class "dog", "zebra" (its classes: class0, class1,');
    expect(lines[0]).toMatch(/^p\.yaml: rules\[0\]\.class: unknown class "dog": .*class19, \.\.\. \(1000 in all\); or "each"\) \(line 3\)$/);
    expect(lines[1]).toMatch(/^p\.yaml: rules\[1\]\.class: unknown class "zebra"/);
    expect(lines[2]).toMatch(/^p\.yaml: baseline\[0\]\.class: unknown class "dog"/);
  });

  it('rejects a class index the model does not have', () => {
    expect(issuesOf(rule('    max: 1\n    class: 2\n'), { classes: ['cat', 'dog'] })).toEqual([
      'p.yaml: rules[0].class: class index 2 is out of range: the model has 2 classes (0 to 1) (line 6)',
    ]);
  });
});

describe('policy loading', () => {
  it('applies defaults and keeps the source hash', () => {
    const policy = parsePolicy(rule('    max: 0.2\n'), 'p.yaml');
    expect(policy.minImages).toBe(1);
    expect(policy.errorBudget).toEqual({ maxShare: 0 });
    expect(policy.rules).toEqual([
      {
        kind: 'value',
        name: 'r',
        metric: 'invalidMass',
        aggregate: 'mean',
        max: 0.2,
        severity: 'fail',
        // Fail closed by default; a region metric needs 90 % coverage.
        ifNoData: 'fail',
        minCoverage: 0.9,
        location: { path: 'rules[0]', line: 3 },
      },
    ]);
    expect(policy.source.file).toBe('p.yaml');
    expect(policy.source.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads JSON policies and count error budgets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'heatgate-policy-'));
    const file = join(dir, 'policy.json');
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        errorBudget: { maxCount: 3 },
        baseline: [{ name: 'b', metric: 'roiMass', change: 'relative', maxDecrease: 0.1 }],
      }),
    );
    const policy = loadPolicy(file);
    expect(policy.errorBudget).toEqual({ maxCount: 3 });
    expect(policy.baseline[0]).toMatchObject({ kind: 'change', change: 'relative', maxDecrease: 0.1, aggregate: 'mean' });
  });

  it('a missing policy file is a ConfigError naming it', () => {
    expect(() => loadPolicy('/nonexistent/policy.yaml')).toThrow(/^\/nonexistent\/policy\.yaml: cannot read policy file \(ENOENT\)/);
  });

  it('the default policy validates against the built-in metric list and says what it checks', () => {
    const policy = defaultPolicy({ metrics: BUILTIN_METRICS });
    expect(policy.source.file).toBe('default');
    expect(policy.minImages).toBe(10);
    expect(policy.errorBudget).toEqual({ maxShare: 0.05 });
    const byName = Object.fromEntries([...policy.rules, ...policy.baseline].map((r) => [r.name, r]));
    expect(byName['mean-invalid-mass']).toMatchObject({ metric: 'invalidMass', aggregate: 'mean', max: 0.2, severity: 'fail' });
    expect(byName['images-mostly-invalid']).toMatchObject({ aggregate: 'shareAbove', value: 0.5, max: 0.1 });
    expect(byName['accuracy']).toMatchObject({ metric: 'accuracy', min: 0.8 });
    expect(byName['occlusion-flips']).toMatchObject({ metric: 'occlusionFlip', max: 0.1, severity: 'fail' });
    expect(byName['invalid-mass-regression']).toMatchObject({ kind: 'change', maxIncrease: 0.02, change: 'absolute' });
    // The behaviour without data is explicit in the file, rule by rule: every rule fails closed except the
    // baseline rule, which is legitimately without data at a model's first promotion.
    for (const r of policy.rules) expect(r.ifNoData, r.name).toBe('fail');
    expect(byName['invalid-mass-regression'].ifNoData).toBe('skip');
    expect(byName['mean-invalid-mass'].minCoverage).toBe(0.9);
    expect(byName['accuracy'].minCoverage).toBe(0);
  });

  it('formats paths like property accessors', () => {
    expect(formatPath(['rules', 2, 'threshold'])).toBe('rules[2].threshold');
    expect(formatPath([])).toBe('(top level)');
    expect(formatPath(['a-b'])).toBe('["a-b"]');
  });
});

describe('thresholds are range-checked against the metric registry', () => {
  const r = (body: string) => `version: 1\nrules:\n  - {name: r, ${body}}\n`;
  const b = (body: string) => `version: 1\nbaseline:\n  - {name: b, ${body}}\n`;
  it.each([
    ['a share max above 1 (a rule that can never fail)', r('metric: invalidMass, aggregate: shareAbove, value: 0.5, max: 1.5'), "p.yaml: rules[0].max: max 1.5 is outside a share's range [0, 1]: the rule could never behave as written (line 3)"],
    ['a share min below 0', r('metric: roiMass, aggregate: shareBelow, value: 0.2, min: -0.5'), "p.yaml: rules[0].min: min -0.5 is outside a share's range [0, 1]: the rule could never behave as written (line 3)"],
    ['a negative max on invalidMass', r('metric: invalidMass, max: -0.1'), 'p.yaml: rules[0].max: max -0.1 is outside the range of invalidMass [0, 1]: the rule could never behave as written (line 3)'],
    ['a per-image value outside the metric', r('metric: invalidMass, aggregate: shareAbove, value: 2, max: 0.1'), 'p.yaml: rules[0].value: value 2 is outside the range of invalidMass [0, 1]: the rule could never behave as written (line 3)'],
    ['accuracy above 1', r('metric: accuracy, min: 80'), 'p.yaml: rules[0].min: min 80 is outside the range of correct [0, 1]: the rule could never behave as written (line 3)'.replace('the range of correct', 'the range of accuracy')],
    ['a negative entropy', r('metric: entropy, min: -1'), 'p.yaml: rules[0].min: min -1 is outside the range of entropy [0, +inf]: the rule could never behave as written (line 3)'],
    ['occlusionDrop below -1', r('metric: occlusionDrop, min: -1.5'), 'p.yaml: rules[0].min: min -1.5 is outside the range of occlusionDrop [-1, 1]: the rule could never behave as written (line 3)'],
    ['an absolute change wider than the range', b('metric: invalidMass, maxIncrease: 1.5'), 'p.yaml: baseline[0].maxIncrease: maxIncrease 1.5 is more than invalidMass can change (1): the rule could never fail (line 3)'],
    ['an absolute change of a share wider than 1', b('metric: entropy, aggregate: shareAbove, value: 3, maxDecrease: 2'), 'p.yaml: baseline[0].maxDecrease: maxDecrease 2 is more than a share can change (1): the rule could never fail (line 3)'],
    ['minCoverage above 1', r('metric: invalidMass, max: 0.2, minCoverage: 1.2'), 'p.yaml: rules[0].minCoverage: expected a share between 0 and 1, got number 1.2 (line 3)'],
    ['a top-level minCoverage below 0', 'version: 1\nminCoverage: -0.1\n', 'p.yaml: minCoverage: expected a share between 0 and 1, got number -0.1 (line 2)'],
    ['a pointing tolerance above 1 (it is a fraction)', 'version: 1\nanalysis: {pointingTolerance: 15}\n', 'p.yaml: analysis.pointingTolerance: expected a number <= 1, got number 15 (line 2)'],
  ])('%s', (_, text, expected) => {
    expect(issuesOf(text)).toContain(expected);
  });

  it('accepts thresholds at the ends of the range and any threshold on a metric the registry does not know', () => {
    expect(() => parsePolicy(r('metric: invalidMass, min: 0, max: 1'), 'p.yaml')).not.toThrow();
    expect(() => parsePolicy(r('metric: occlusionDrop, min: -1, max: 1'), 'p.yaml')).not.toThrow();
    expect(() => parsePolicy(r('metric: entropy, max: 12'), 'p.yaml')).not.toThrow();
    expect(() => parsePolicy(r('metric: myMetric, max: -40'), 'p.yaml')).not.toThrow();
    expect(() => parsePolicy(b('metric: roiMass, change: relative, maxDecrease: 3'), 'p.yaml')).not.toThrow();
  });

  it('names NaN and Infinity as such, wherever they are', () => {
    const lines = issuesOf('version: 1\nerrorBudget: .nan\nrules:\n  - {name: r, metric: invalidMass, max: .inf, min: -.inf}\n');
    expect(lines).toEqual([
      'p.yaml: errorBudget: expected a finite number, got NaN (line 2)',
      'p.yaml: rules[0].max: expected a finite number, got Infinity (line 4)',
      'p.yaml: rules[0].min: expected a finite number, got -Infinity (line 4)',
    ]);
    for (const line of lines) expect(line).not.toContain('null');
  });

  it('topKIoU is refused with its new name: a silent change of meaning would be worse', () => {
    expect(issuesOf(r('metric: topKIoU, min: 0.5'))).toEqual([
      'p.yaml: rules[0].metric: metric "topKIoU" was renamed to topKPrecision (it is precision at K, not an IoU); use the new name (line 3)',
    ]);
    expect(() => parsePolicy(r('metric: topKPrecision, min: 0.5'), 'p.yaml', { metrics: BUILTIN_METRICS })).not.toThrow();
  });

  it('pointingTolerance and pointingTolerancePx are one or the other', () => {
    expect(issuesOf('version: 1\nanalysis: {pointingTolerance: 0.1, pointingTolerancePx: 4}\n')).toEqual([
      'p.yaml: analysis: give pointingTolerance (a fraction) or pointingTolerancePx, not both (line 2)',
    ]);
  });
});

describe('policy files: format by extension, size and alias limits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'heatgate-policy-files-'));
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const errorOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return error as ConfigError;
    }
    throw new Error('expected an error');
  };

  it('.json is parsed as JSON: a syntax error gives line and column', () => {
    const file = write('bad.json', '{\n  "version": 1,\n  "rules": [\n    {"name": "r" "metric": "invalidMass"}\n  ]\n}\n');
    const error = errorOf(() => loadPolicy(file));
    expect(error).toBeInstanceOf(PolicyError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\(syntax\\): invalid JSON: .* at line 4 column 18$`));
  });

  it('.json is strict JSON: YAML-only syntax is an error, not silently accepted', () => {
    const file = write('yamlish.json', 'version: 1\n');
    expect(errorOf(() => loadPolicy(file)).message).toContain('invalid JSON');
  });

  it('.json with a duplicate key is an error (JSON.parse would keep the last silently)', () => {
    const file = write('dup.json', '{\n  "version": 1,\n  "minImages": 5,\n  "minImages": 50\n}\n');
    const error = errorOf(() => loadPolicy(file));
    expect(error).toBeInstanceOf(PolicyError);
    expect(error.message).toMatch(/dup\.json: \(syntax\): Map keys must be unique \(line 4\)$/);
  });

  it('.json errors after parsing still name the line', () => {
    const file = write('range.json', '{\n  "version": 1,\n  "rules": [\n    {"name": "r", "metric": "invalidMass", "max": 1.5}\n  ]\n}\n');
    expect(errorOf(() => loadPolicy(file)).message).toBe(
      `${file}: rules[0].max: max 1.5 is outside the range of invalidMass [0, 1]: the rule could never behave as written (line 4)`,
    );
  });

  it('.yaml, .yml and other names (a Kubeflow artifact called "data") are YAML, which also reads JSON', () => {
    for (const name of ['p.yaml', 'p.yml', 'data']) {
      expect(loadPolicy(write(name, 'version: 1\nminImages: 3\n')).minImages).toBe(3);
    }
    expect(loadPolicy(write('json-in-data', '{"version": 1, "minImages": 4}')).minImages).toBe(4);
  });

  it('a YAML alias bomb is exit 2 naming the file, not an internal error', () => {
    const lines = ['version: 1', 'description: &a0 "lol"'];
    for (let i = 1; i < 10; i++) lines.push(`x${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
    const file = write('bomb.yaml', `${lines.join('\n')}\n`);
    const error = errorOf(() => loadPolicy(file));
    expect(error).toBeInstanceOf(PolicyError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\(syntax\\): YAML aliases refused: `));
  });

  it('a policy over 1 MiB is exit 2 naming the file', () => {
    const file = write('huge.yaml', `version: 1\ndescription: "${'x'.repeat(MAX_POLICY_BYTES)}"\n`);
    const error = errorOf(() => loadPolicy(file));
    expect(error).toBeInstanceOf(PolicyError);
    expect(error.message).toMatch(/huge\.yaml: \(file\): \d+ bytes, more than the 1048576 a policy may have$/);
  });

  it('metric names checked after the data is read keep the line of the rule', () => {
    const policy = parsePolicy('version: 1\nrules:\n  - {name: a, metric: roiMass, min: 0.1}\n  - {name: b, metric: custom, max: 2}\n', 'p.yaml');
    expect(() => checkPolicyMetrics(policy, ['roiMass', 'custom'])).not.toThrow();
    const error = errorOf(() => checkPolicyMetrics(policy, ['roiMass']));
    expect(error.message).toBe('p.yaml: rules[1].metric: unknown metric "custom" (known: accuracy, roiMass) (line 4)');
  });
});

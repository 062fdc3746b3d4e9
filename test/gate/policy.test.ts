import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { BUILTIN_METRICS, PolicyError, defaultPolicy, formatPath, loadPolicy, parsePolicy } from '../../src/gate/policy.ts';

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
        'p.yaml: rules[0].treshold: unknown property (allowed: name, metric, aggregate, value, max, min, class, severity, ifNoData, description) (line 6)',
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
    expect(lines).toEqual(['p.yaml: rules[0].class: unknown class "dog" (known: cat, pedestrian, or "each") (line 6)']);
    for (const cls of ['cat', 'each', '3']) {
      expect(() => parsePolicy(rule(`    max: 1\n    class: ${cls}\n`), 'p.yaml', { classes: ['cat'] })).not.toThrow();
    }
  });
});

describe('policy loading', () => {
  it('applies defaults and keeps the source hash', () => {
    const policy = parsePolicy(rule('    max: 0.2\n'), 'p.yaml');
    expect(policy.minImages).toBe(1);
    expect(policy.errorBudget).toEqual({ maxShare: 0 });
    expect(policy.rules).toEqual([
      { kind: 'value', name: 'r', metric: 'invalidMass', aggregate: 'mean', max: 0.2, severity: 'fail', ifNoData: 'skip' },
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
    // The behaviour without data is explicit in the file, rule by rule.
    for (const r of Object.values(byName)) expect(r.ifNoData).toBe('skip');
  });

  it('formats paths like property accessors', () => {
    expect(formatPath(['rules', 2, 'threshold'])).toBe('rules[2].threshold');
    expect(formatPath([])).toBe('(top level)');
    expect(formatPath(['a-b'])).toBe('["a-b"]');
  });
});

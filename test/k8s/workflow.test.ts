/** Reading an Argo Workflow's verdict and turning a finished workflow into submit's exit code (hand-written cases). */
import { describe, expect, it } from 'vitest';
import { parameterProblems, submitOutcome, workflowVerdict, type Workflow } from '../../src/k8s/workflow.ts';

const p = (value: string) => ({ outputs: { parameters: [{ name: 'other', value: 'x' }, { name: 'verdict', value }] } });
const wf = (status: Workflow['status']): Workflow => ({ metadata: { name: 'w' }, status });

describe('workflowVerdict', () => {
  it.each([
    ['the global output', wf({ ...p('pass'), nodes: { a: p('fail') } }), 'pass'],
    ['the root node when there is no global output', wf({ nodes: { w: p('pass'), a: p('fail') } }), 'pass'],
    ['any node saying fail when neither exists', wf({ nodes: { a: p('pass'), b: p('fail') } }), 'fail'],
    ['all nodes saying pass', wf({ nodes: { a: p('pass'), b: { outputs: {} } } }), 'pass'],
    ['nothing when no node has one', wf({ nodes: { a: {} } }), undefined],
    ['nothing for a value that is not exactly pass or fail', wf(p('pass\n')), undefined],
    ['nothing for an unreadable node value among passes', wf({ nodes: { a: p('pass'), b: p('PASS') } }), undefined],
  ])('reads %s', (_, workflow, expected) => {
    expect(workflowVerdict(workflow)).toBe(expected);
  });
});

describe('submitOutcome', () => {
  it.each([
    ['Succeeded', 'pass', 0],
    ['Succeeded', 'fail', 1],
    ['Failed', 'fail', 1],
    ['Failed', 'pass', 4],
    ['Error', undefined, 4],
    ['Failed', undefined, 4],
    ['Succeeded', undefined, 2],
  ] as const)('%s with verdict %s exits %i', (phase, verdict, exitCode) => {
    expect(submitOutcome(wf({ phase, ...(verdict ? p(verdict) : {}) })).exitCode).toBe(exitCode);
  });
});

describe('parameterProblems', () => {
  const template = { metadata: { name: 't' }, spec: { arguments: { parameters: [{ name: 'model' }, { name: 'images' }, { name: 'batch', value: '8' }] } } };
  it('names unknown parameters and required ones that are missing', () => {
    expect(parameterProblems(template, new Map([['model', 'm'], ['images', 'i']]))).toEqual([]);
    expect(parameterProblems(template, new Map([['model', 'm'], ['bacth', '1']]))).toEqual([
      'unknown parameter "bacth" (the template declares: model, images, batch)',
      'parameter "images" is required',
    ]);
  });
});

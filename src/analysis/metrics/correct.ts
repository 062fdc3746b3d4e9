import type { Metric } from './types.ts';

export const correct: Metric = {
  name: 'correct',
  description: '1 when the predicted class equals the known label, 0 when not, null without a label',
  formula: '1[predicted = label]',
  source: 'top-1 accuracy',
  range: [0, 1],
  needs: 'label',
  higherIsBetter: true,
  compute: (ctx) => (ctx.label === null ? null : ctx.predicted === ctx.label ? 1 : 0),
};

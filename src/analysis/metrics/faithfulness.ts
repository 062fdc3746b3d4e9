import type { Metric } from './types.ts';

/**
 * Faithfulness metrics read the perturbation curves the analyser ran (../faithfulness.ts); they cost extra forward
 * passes, so they are computed only when a policy rule names one or `analysis.faithfulness` asks (null otherwise).
 */
const RISE = 'Petsiuk et al. 2018 (RISE, arXiv:1806.07421) deletion/insertion; Quantus PixelFlipping';
const ROAD = 'Rong et al. 2022 (ROAD, arXiv:2202.00449); pytorch-grad-cam metrics/road.py ROAD*Average';

export const deletionAuc: Metric = {
  name: 'deletionAuc',
  description: 'area under the target probability as the pixels the map ranks highest are removed (filled) step by step',
  formula: '(Σ_k p_k − p_0/2 − p_S/2)/S, p_k = p_t(x with the top floor(kN/S) pixels of h filled)',
  source: RISE,
  range: [0, 1],
  higherIsBetter: false,
  extraPasses: true,
  compute: (ctx) => ctx.faithfulness?.deletionAuc ?? null,
};

export const insertionAuc: Metric = {
  name: 'insertionAuc',
  description: 'area under the target probability as the pixels the map ranks highest are put into the filled image',
  formula: '(Σ_k p_k − p_0/2 − p_S/2)/S, p_k = p_t(fill with the top floor(kN/S) pixels of h from x)',
  source: RISE,
  range: [0, 1],
  higherIsBetter: true,
  extraPasses: true,
  compute: (ctx) => ctx.faithfulness?.insertionAuc ?? null,
};

export const deletionVsRandom: Metric = {
  name: 'deletionVsRandom',
  description: 'how much faster the map\'s order destroys the score than a random order: > 0 means the map beats chance',
  formula: 'deletionAuc(random order) − deletionAuc(h)',
  source: `${RISE}; random-order baseline`,
  range: [-1, 1],
  higherIsBetter: true,
  extraPasses: true,
  compute: (ctx) => (ctx.faithfulness ? ctx.faithfulness.deletionRandomAuc - ctx.faithfulness.deletionAuc : null),
};

export const insertionVsRandom: Metric = {
  name: 'insertionVsRandom',
  description: 'how much faster the map\'s order restores the score than a random order: > 0 means the map beats chance',
  formula: 'insertionAuc(h) − insertionAuc(random order)',
  source: `${RISE}; random-order baseline`,
  range: [-1, 1],
  higherIsBetter: true,
  extraPasses: true,
  compute: (ctx) => (ctx.faithfulness ? ctx.faithfulness.insertionAuc - ctx.faithfulness.insertionRandomAuc : null),
};

export const roadMorf: Metric = {
  name: 'roadMorf',
  description: 'ROAD, most relevant first: mean change of the target probability when the top share r of h is imputed',
  formula: 'mean_r [p_t(impute(x, the first floor(rN) pixels of h, descending)) − p_t(x)], r = 0.1..0.9, noisy linear imputation',
  source: ROAD,
  range: [-1, 1],
  higherIsBetter: false,
  extraPasses: true,
  compute: (ctx) => ctx.faithfulness?.roadMorf ?? null,
};

export const roadLerf: Metric = {
  name: 'roadLerf',
  description: 'ROAD, least relevant first: mean change of the target probability when the bottom share r of h is imputed',
  formula: 'mean_r [p_t(impute(x, the first floor(rN) pixels of h, ascending)) − p_t(x)], r = 0.1..0.9',
  source: ROAD,
  range: [-1, 1],
  higherIsBetter: true,
  extraPasses: true,
  compute: (ctx) => ctx.faithfulness?.roadLerf ?? null,
};

export const roadCombined: Metric = {
  name: 'roadCombined',
  description: 'ROAD combined: LeRF minus MoRF, halved; > 0 when removing what the map ranks high hurts more',
  formula: '(roadLerf − roadMorf) / 2',
  source: `${ROAD} (ROADCombined)`,
  range: [-1, 1],
  higherIsBetter: true,
  extraPasses: true,
  compute: (ctx) => (ctx.faithfulness ? (ctx.faithfulness.roadLerf - ctx.faithfulness.roadMorf) / 2 : null),
};

export const FAITHFULNESS_METRICS: readonly Metric[] = [deletionAuc, insertionAuc, deletionVsRandom, insertionVsRandom, roadMorf, roadLerf, roadCombined];

import { ConfigError } from '../errors.ts';
import { ablationCam } from './ablation-cam.ts';
import type { CamMethod } from './base.ts';
import { eigenCam } from './eigen-cam.ts';
import { gradCamElementWise } from './grad-cam-element-wise.ts';
import { gradCamPlusPlus } from './grad-cam-plus-plus.ts';
import { gradCam } from './grad-cam.ts';
import { hiResCam } from './hires-cam.ts';
import { layerCam } from './layer-cam.ts';
import { scoreCam } from './score-cam.ts';
import { xGradCam } from './xgrad-cam.ts';

/** The one registry of CAM methods: CLI choices, docs and tests read it. */
export const METHODS: ReadonlyMap<string, CamMethod> = new Map(
  [gradCam, gradCamPlusPlus, hiResCam, xGradCam, layerCam, gradCamElementWise, eigenCam, scoreCam, ablationCam].map((m) => [m.name, m]),
);

export function methodFor(name: string): CamMethod {
  const method = METHODS.get(name);
  if (!method) throw new ConfigError(`unknown CAM method "${name}"; choose one of: ${[...METHODS.keys()].join(', ')}`);
  return method;
}

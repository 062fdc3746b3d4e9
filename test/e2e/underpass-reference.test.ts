/**
 * heatgate against the torch references that scripts/demo/train.py stored beside the demo models
 * (examples/underpass/reference.json): raw Grad-CAM maps, predictions and the invalid-pixel share per image.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNpy } from '../../src/imaging/index.ts';
import { assertNonDegenerate, pearson } from '../helpers/stats.ts';
import { explainImages } from '../../src/pipeline/explain.ts';
import { runGate } from '../../src/pipeline/run.ts';

const EXAMPLE = path.resolve('examples/underpass');

interface ModelReference {
  file: string;
  targetLayer: string;
  predicted: number[];
  invalidShare: number[];
  rawCam: number[][][];
}

const reference = JSON.parse(await readFile(path.join(EXAMPLE, 'reference.json'), 'utf8')) as {
  images: string[];
  models: Record<string, ModelReference>;
};


describe.each(Object.keys(reference.models))('underpass %s model vs torch', (name) => {
  const ref = reference.models[name];
  const model = path.join(EXAMPLE, 'models', `${name}.onnx`);

  it('raw Grad-CAM maps (Pearson r >= 0.999) and predictions agree, at the automatically chosen layer', async () => {
    const out = await mkdtemp(path.join(tmpdir(), `heatgate-underpass-${name}-`));
    const summary = await explainImages({ model, images: path.join(EXAMPLE, 'images'), out, saveRaw: true, overlays: false, quiet: true });
    expect(summary.explainer.layers).toEqual([ref.targetLayer]);
    const rows = (await readFile(path.join(out, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.image)).toEqual(reference.images);
    for (const [i, row] of rows.entries()) {
      expect(row.predicted).toBe(ref.predicted[i]);
      const cam = decodeNpy(await readFile(path.join(out, row.heatmap)));
      expect(cam.shape).toEqual([ref.rawCam[i].length, ref.rawCam[i][0].length]);
      assertNonDegenerate(cam.data as Float32Array, `${row.image} heatgate map`);
      assertNonDegenerate(ref.rawCam[i].flat(), `${row.image} torch map`);
      expect(pearson(cam.data as Float32Array, ref.rawCam[i].flat())).toBeGreaterThanOrEqual(0.999);
    }
  });

  it('invalidMass per image equals the torch invalid share within 0.01', async () => {
    const out = await mkdtemp(path.join(tmpdir(), `heatgate-underpass-gate-${name}-`));
    await runGate({ model, images: path.join(EXAMPLE, 'images'), invalidMasks: path.join(EXAMPLE, 'invalid'), out, overlays: false, quiet: true });
    const rows = (await readFile(path.join(out, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    rows.forEach((row, i) => expect(Math.abs(row.metrics.invalidMass - ref.invalidShare[i])).toBeLessThan(0.01));
  });
});

/**
 * Grad-CAM on vision transformers: token activations [N, T, C] read as a grid (pytorch-grad-cam's reshape_transform),
 * against torch autograd on the committed tiny ViTs (scripts/reference/vit.py: one with a class token read by the
 * head, one mean-pooled without).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Explainer } from '../../src/cam/explainer.ts';
import { ConfigError } from '../../src/errors.ts';
import { decodeNpy } from '../../src/imaging/index.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { chooseLayers, defaultLayer } from '../../src/onnx/layers.ts';
import { parseTokensGrid, tokenGrid } from '../../src/onnx/tokens.ts';
import { assertNonDegenerate, pearson } from '../helpers/stats.ts';
import { cli, expectOneLine, png } from '../cli/helpers.ts';

const ROOT = path.resolve('test/fixtures/vit');
/** The LayerNorm before the last block's attention: pytorch-grad-cam's ViT target (blocks[-1].norm1). */
const NORM1 = '/blocks/blocks.1/norm1/LayerNormalization_output_0';

function fixture(name: string) {
  const npy = (f: string) => decodeNpy(readFileSync(path.join(ROOT, name, f)), f);
  const input = npy('input.npy');
  const [n, ...per] = input.shape;
  const size = per.reduce((a, b) => a * b, 1);
  return {
    file: path.join(ROOT, name, 'model.onnx'),
    images: Array.from({ length: n }, (_, i) => (input.data as Float32Array).slice(i * size, (i + 1) * size)),
    cam: npy('gradcam.npy'),
    target: npy('target.npy'),
  };
}

async function expectMatchesTorch(name: string, layers?: string[]): Promise<number> {
  const f = fixture(name);
  const explainer = await Explainer.create(f.file, { layers });
  try {
    const results = await explainer.explain(f.images, f.images.map(() => -1));
    const [, h, w] = f.cam.shape;
    let worst = 1;
    results.forEach((r, i) => {
      expect(r.predicted).toBe(Number(f.target.data[i]));
      expect([r.camHeight, r.camWidth]).toEqual([h, w]);
      const ref = (f.cam.data as Float32Array).subarray(i * h * w, (i + 1) * h * w);
      assertNonDegenerate(r.cam, `${name} image ${i} heatgate map`);
      assertNonDegenerate(ref, `${name} image ${i} torch map`);
      const r2 = pearson(r.cam, ref);
      worst = Math.min(worst, r2);
      expect(r2, `${name} image ${i}`).toBeGreaterThanOrEqual(0.999);
      for (let q = 0; q < h * w; q++) expect(Math.abs(r.cam[q] - ref[q])).toBeLessThan(1e-5 + 1e-3 * Math.abs(ref[q]));
    });
    return worst;
  } finally {
    await explainer.release();
  }
}

describe('transformer token layers', () => {
  it('a ViT with a class token: the automatic layer is the LayerNorm before the last attention, and the patches after it are passed over', async () => {
    const m = await inspectModel(fixture('vit_cls').file);
    const chosen = defaultLayer(m.candidates, 'vit_cls');
    expect(chosen).toMatchObject({ tensor: NORM1, layout: 'tokens', channels: 32, height: 4, width: 4, tokens: { count: 17, skip: 1 } });
    const final = m.candidates.find((c) => c.tensor === '/norm/LayerNormalization_output_0');
    expect(final).toMatchObject({ layout: 'tokens', classTokenOnly: true });
    expect(m.candidates.find((c) => c.tensor === NORM1)?.classTokenOnly).toBeUndefined();
  });

  it('ViT (class token) Grad-CAM at the automatic layer matches torch autograd with reshape_transform (r >= 0.999)', async () => {
    expect(await expectMatchesTorch('vit_cls')).toBeGreaterThanOrEqual(0.999);
  });

  it('ViT without a class token (mean over tokens): --layer on a token tensor matches torch; the automatic layer is the last one', async () => {
    expect(await expectMatchesTorch('vit_gap', [NORM1])).toBeGreaterThanOrEqual(0.999);
    const m = await inspectModel(fixture('vit_gap').file);
    expect(defaultLayer(m.candidates, 'vit_gap')).toMatchObject({ tensor: '/norm/LayerNormalization_output_0', tokens: { count: 16, skip: 0 } });
  });

  it('Swin-style [N, H, W, C] (tokens folded to a grid) is read as NHWC, chosen automatically, and matches torch', async () => {
    const m = await inspectModel(fixture('swin_grid').file);
    expect(defaultLayer(m.candidates, 'swin_grid')).toMatchObject({ tensor: '/norm/LayerNormalization_output_0', layout: 'NHWC', channels: 32, height: 4, width: 4 });
    expect(await expectMatchesTorch('swin_grid')).toBeGreaterThanOrEqual(0.999);
  });

  it('--tokens-grid and --skip-tokens override the inferred grid; a grid that does not fit leaves no candidate', async () => {
    const { file } = fixture('vit_cls');
    const wide = await inspectModel(file, { tokens: { grid: { height: 2, width: 8 }, skip: 1 } });
    expect(chooseLayers(wide.candidates, [NORM1], file)[0]).toMatchObject({ height: 2, width: 8, tokens: { count: 17, skip: 1 } });
    const misfit = await inspectModel(file, { tokens: { grid: { height: 5, width: 5 } } });
    expect(() => chooseLayers(misfit.candidates, [NORM1], file)).toThrow(ConfigError);
    await expect(Explainer.create(file, { tokens: { grid: { height: 5, width: 5 } } })).rejects.toThrow(/--tokens-grid 5x5 fits no token layer/);
    await expect(Explainer.create(file, { tokens: { grid: { height: 3, width: 3 } } })).rejects.toThrow(ConfigError); // 8 leading tokens: only with --skip-tokens 8
  });

  it('infers grids: patch grid with leading tokens, square counts, and refuses what fits nothing', () => {
    expect(tokenGrid(197, {}, { height: 14, width: 14 })).toEqual({ height: 14, width: 14, skip: 1 });
    expect(tokenGrid(198, {}, { height: 14, width: 14 })).toEqual({ height: 14, width: 14, skip: 2 }); // DeiT distilled
    expect(tokenGrid(50, {}, undefined)).toEqual({ height: 7, width: 7, skip: 1 });
    expect(tokenGrid(49, {}, undefined)).toEqual({ height: 7, width: 7, skip: 0 });
    expect(tokenGrid(50, { skip: 0 }, undefined)).toBeUndefined();
    expect(tokenGrid(300, {}, { height: 14, width: 14 })).toBeUndefined();
    expect(parseTokensGrid('14x14')).toEqual({ height: 14, width: 14 });
    expect(() => parseTokensGrid('14')).toThrow(/--tokens-grid "14": expected HxW/);
  });

  it('Ablation-CAM on a token layer is refused with one line', async () => {
    const { file, images } = fixture('vit_cls');
    const explainer = await Explainer.create(file, { method: 'ablationcam' });
    try {
      await expect(explainer.explain(images.slice(0, 1), [-1])).rejects.toThrow(/transformer token layers/);
    } finally {
      await explainer.release();
    }
  });
});

describe('token options in the run manifest', () => {
  it('--resume with other --tokens-grid / --skip-tokens than the run was made with is exit 2 naming them', async () => {
    const { file } = fixture('vit_cls');
    const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-vit-resume-'));
    const images = path.join(dir, 'images');
    for (let i = 0; i < 2; i++) await png(path.join(images, `img${i}.png`), i, { width: 32, height: 32 });
    const out = path.join(dir, 'out');
    const args = ['explain', '--model', file, '--images', images, '--out', out, '--quiet', '--no-overlays'];
    expect((await cli([...args, '--tokens-grid', '4x4', '--skip-tokens', '1'])).code).toBe(0);
    const manifest = JSON.parse(await readFile(path.join(out, 'run-manifest.json'), 'utf8'));
    expect(manifest.preprocessing.tokens).toEqual({ grid: [4, 4], skip: 1 });
    const validate = new Ajv({ allErrors: true }).compile(JSON.parse(await readFile('schemas/run-manifest.schema.json', 'utf8')));
    expect(validate(manifest), JSON.stringify(validate.errors)).toBe(true);
    const other = await cli([...args, '--resume', '--tokens-grid', '2x8', '--skip-tokens', '1']);
    expect(other.code).toBe(2);
    expect(expectOneLine(other)).toMatch(/preprocessing\.tokens\.grid: \[4,4\] -> \[2,8\]/);
    expect((await cli([...args, '--resume', '--tokens-grid', '4x4', '--skip-tokens', '1'])).code).toBe(0);
  });
});

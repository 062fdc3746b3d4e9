/** How a failing ONNX Runtime call of the explainer is classified: out of memory is 4 (retry), anything else stays a bug. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Explainer } from '../../src/cam/explainer.ts';
import { BugError, EXIT_CODES, HeatgateError, InfrastructureError } from '../../src/errors.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { encodeModel, saveModel } from '../../src/onnx/model.ts';
import type { ort } from '../../src/onnx/session.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';

describe('Explainer session failures', () => {
  it('reports ONNX Runtime running out of memory as infrastructure (exit 4) naming the model, other failures unchanged', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-run-')), 'tiny.onnx');
    await saveModel(tinyCnn({ size: 8, channels: 4, classes: 3 }).model, file);
    const explainer = await Explainer.create(file);
    try {
      const session = (explainer as unknown as { session: ort.InferenceSession }).session;
      const image = new Float32Array(3 * 8 * 8).fill(0.1);
      vi.spyOn(session, 'run').mockRejectedValueOnce(new Error('Failed to allocate memory for requested buffer of size 7340032000\n'));
      const oom = await explainer.explain([image], [-1]).catch((e: unknown) => e);
      expect(oom).toBeInstanceOf(InfrastructureError);
      expect((oom as InfrastructureError).exitCode).toBe(EXIT_CODES.infrastructure);
      expect((oom as Error).message).toBe(`${file}: ONNX Runtime ran out of memory (try a smaller --batch): Failed to allocate memory for requested buffer of size 7340032000`);
      const other = new TypeError('feeds mismatch');
      vi.spyOn(session, 'run').mockRejectedValueOnce(other);
      const error = await explainer.explain([image], [-1]).catch((e: unknown) => e);
      expect(error).toBe(other);
      expect(error).not.toBeInstanceOf(HeatgateError);
      expect((await explainer.explain([image], [-1]))[0].predicted).toBeGreaterThanOrEqual(0);
    } finally {
      await explainer.release();
    }
  });
});

describe('Explainer weights', () => {
  async function tinyFile(): Promise<string> {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-weights-')), 'tiny.onnx');
    await saveModel(tinyCnn({ size: 8, channels: 4, classes: 3 }).model, file);
    return file;
  }
  const image = Float32Array.from({ length: 3 * 8 * 8 }, (_, i) => Math.sin(i));

  it('keeps one copy of the weights: once the session holds them, the decoded copy is dropped and cannot be encoded again', async () => {
    const file = await tinyFile();
    const explainer = await Explainer.create(file, { method: 'gradcam' });
    try {
      const loaded = explainer.model.loaded;
      expect(loaded.source).toBeUndefined();
      for (const t of loaded.model.graph!.initializer!) expect(t.rawData?.length ?? 0).toBe(0);
      expect(() => encodeModel(loaded.model)).toThrow(BugError);
      expect(() => encodeModel({ ...loaded.model, graph: { ...loaded.model.graph, node: [] } })).toThrow(BugError);
      // The session still has them: the same map as an explainer whose model keeps its weights (ablation below).
      const [e] = await explainer.explain([image], [-1]);
      const reference = await Explainer.fromModel(await inspectModel(file), { method: 'gradcam' });
      try {
        const [r] = await reference.explain([image], [-1]);
        expect(e.cam).toEqual(r.cam);
        expect(e.logits).toEqual(r.logits);
      } finally {
        await reference.release();
      }
    } finally {
      await explainer.release();
    }
  });

  it('keeps the weights when the CAM arithmetic runs outside the session (ablation cuts the head out of the model)', async () => {
    const explainer = await Explainer.create(await tinyFile(), { method: 'ablationcam' });
    try {
      expect(() => encodeModel(explainer.model.loaded.model)).not.toThrow();
      const [e] = await explainer.explain([image], [-1]);
      expect(e.problem).toBeUndefined();
      expect(e.cam.length).toBe(e.camHeight * e.camWidth);
    } finally {
      await explainer.release();
    }
  });
});

describe('Explainer input buffers', () => {
  it('reuses a batch buffer once its run is over, never one a pending run still reads: concurrent calls give the sequential results', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'heatgate-buffers-')), 'tiny.onnx');
    await saveModel(tinyCnn({ size: 8, channels: 4, classes: 3 }).model, file);
    const explainer = await Explainer.create(file);
    try {
      const session = (explainer as unknown as { session: ort.InferenceSession }).session;
      const inputName = explainer.model.input.name;
      const batches = [0, 1, 2].map((b) => [0, 1].map((k) => Float32Array.from({ length: 3 * 8 * 8 }, (_, i) => Math.sin(i * (b + 1) + k))));
      const sequential = [];
      for (const batch of batches) sequential.push(await explainer.explain(batch, [-1, -1]));
      const run = vi.spyOn(session, 'run');
      const concurrent = await Promise.all(batches.map((batch) => explainer.explain(batch, [-1, -1])));
      expect(concurrent.map((r) => r.map((e) => [...e.logits]))).toEqual(sequential.map((r) => r.map((e) => [...e.logits])));
      expect(concurrent.map((r) => r.map((e) => [...e.cam]))).toEqual(sequential.map((r) => r.map((e) => [...e.cam])));
      // Three runs in flight at once read three buffers; a later run takes one of them back.
      const buffers = run.mock.calls.map(([feeds]) => (feeds as Record<string, ort.Tensor>)[inputName].data);
      expect(new Set(buffers).size).toBe(3);
      await explainer.explain(batches[0], [-1, -1]);
      expect(buffers).toContain((run.mock.calls.at(-1)![0] as Record<string, ort.Tensor>)[inputName].data);
    } finally {
      await explainer.release();
    }
  });
});

/**
 * The decode-ahead of the next batch never becomes an unhandled rejection, even when the current batch throws: the
 * run fails with the current batch's error. prepareImage is wrapped to fail like a bug on one image.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { saveModel } from '../../src/onnx/model.ts';
import type * as Imaging from '../../src/imaging/index.ts';
import { explainImages } from '../../src/pipeline/explain.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';
import { png } from '../cli/helpers.ts';

vi.mock('../../src/imaging/index.ts', async (importOriginal) => {
  const original = await importOriginal<typeof Imaging>();
  return {
    ...original,
    prepareImage: async (...args: Parameters<typeof original.prepareImage>) => {
      if (String(args[2]).endsWith('img1.png')) throw new TypeError('decoder exploded');
      return original.prepareImage(...args);
    },
  };
});

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
beforeEach(() => void process.on('unhandledRejection', onUnhandled));
afterEach(() => void process.off('unhandledRejection', onUnhandled));

describe('decode-ahead', () => {
  it('fails with the current batch error and leaves no unhandled rejection from the next batch', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-prefetch-'));
    const model = path.join(dir, 'tiny.onnx');
    await saveModel(tinyCnn({ size: 8, channels: 4, classes: 3 }).model, model);
    for (let i = 0; i < 2; i++) await png(path.join(dir, 'images', `img${i}.png`), i);
    const run = explainImages({
      model,
      images: path.join(dir, 'images'),
      out: path.join(dir, 'out'),
      batch: 1,
      overlays: false,
      quiet: true,
      // Batch 0 (img0) throws in analysis while batch 1 (img1, whose decode throws) is being read.
      analyser: {
        analyse: async () => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw new ConfigError('analysis of batch 0 failed');
        },
      },
    });
    await expect(run).rejects.toThrow('analysis of batch 0 failed');
    await new Promise((resolve) => setTimeout(resolve, 50)); // let Node report what went unhandled
    expect(unhandled).toEqual([]);
  });
});

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { chooseLayers } from '../../src/onnx/layers.ts';
import { saveModel } from '../../src/onnx/model.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';

async function saved(options: Parameters<typeof tinyCnn>[0]): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-layers-'));
  const file = path.join(dir, 'm.onnx');
  await saveModel(tinyCnn(options).model, file);
  return file;
}

describe('target layer detection', () => {
  it('picks the last 4-D activation before the pooling head (NCHW) and marks conv→relu pairs', async () => {
    const m = await inspectModel(await saved({ size: 8, channels: 4 }));
    expect(m.candidates.map((c) => c.tensor)).toEqual(['conv', 'act']);
    expect(chooseLayers(m.candidates, undefined, 'm')[0]).toMatchObject({ tensor: 'act', channels: 4, height: 8, width: 8, layout: 'NCHW' });
    expect(m.candidates[0].followedBy).toEqual({ opType: 'Relu', tensor: 'act' });
    expect(m.classes).toBe(3);
    expect(m.probeBatch).toBe(2);
  });

  it('reads a channels-last head after a Transpose as NHWC', async () => {
    const m = await inspectModel(await saved({ size: 6, channels: 5, channelsLast: true }));
    expect(m.candidates.find((c) => c.tensor === 'act_nhwc')).toMatchObject({ layout: 'NHWC', channels: 5, height: 6, width: 6 });
    // The default is the activation the Transpose permutes (the same map under its own name).
    expect(chooseLayers(m.candidates, undefined, 'm')[0]).toMatchObject({ tensor: 'act', layout: 'NCHW', channels: 5 });
  });

  it('makes a fixed batch of 1 symbolic so the model can run batched', async () => {
    const m = await inspectModel(await saved({ batch: 1 }));
    expect(m.probeBatch).toBe(2);
    expect(m.input.dynamicBatch).toBe(true);
  });

  it('rejects an unknown --layer with a pointer to `heatgate layers`', async () => {
    const file = await saved({});
    const m = await inspectModel(file);
    expect(() => chooseLayers(m.candidates, ['nope'], file)).toThrow(ConfigError);
    expect(() => chooseLayers(m.candidates, ['nope'], file)).toThrow(/heatgate layers/);
    expect(chooseLayers(m.candidates, ['conv'], file)[0].tensor).toBe('conv');
  });
});

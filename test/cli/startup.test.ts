/**
 * A native addon that does not load (onnxruntime-node built for another platform, a missing shared library) is a
 * startup failure: exit 4 with one line, never a crash or exit 1. Simulated with a module mock of onnxruntime-node.
 */
import { describe, expect, it, vi } from 'vitest';
import { cli, expectOneLine } from './helpers.ts';

vi.mock('onnxruntime-node', () => {
  throw Object.assign(
    new Error('/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node: cannot open shared object file: No such file or directory'),
    { code: 'ERR_DLOPEN_FAILED' },
  );
});

describe('startup', () => {
  it('reports an onnxruntime-node that does not load as exit 4 with one line', async () => {
    const result = await cli(['layers', 'model.onnx']);
    expect(result.code).toBe(4);
    expect(expectOneLine(result)).toMatch(/^heatgate: error: cannot start: onnxruntime-node failed to load \(.*onnxruntime_binding\.node: cannot open shared object file/);
  });
});

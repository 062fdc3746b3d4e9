/**
 * Every exit code through main(), each with one line on stderr and no stack trace:
 * 0 pass, 1 gate failed, 2 usage/config (flags, --out), 3 input data (model), 4 storage/infrastructure (startup),
 * 70 heatgate's own bug.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { EXIT_CODES, InfrastructureError, ConfigError, outputPathError } from '../../src/errors.ts';
import { makeTensor, makeValueInfo, toNodeProto } from '../../src/onnx/builder.ts';
import { DataType } from '../../src/onnx/proto.ts';
import { saveModel } from '../../src/onnx/model.ts';
import type * as Augment from '../../src/cam/augment.ts';
import type { HeatgateCommand } from '../../src/cli/commands/types.ts';
import { tinyCnn } from '../helpers/tiny-models.ts';
import { cli, expectOneLine, png } from './helpers.ts';

/** Switches the augmented graph heatgate builds to garbage (a heatgate bug) for one test. */
const state = vi.hoisted(() => ({ breakAugmentedGraph: false }));
vi.mock('../../src/cam/augment.ts', async (importOriginal) => {
  const original = await importOriginal<typeof Augment>();
  return {
    ...original,
    augmentModel: (...args: Parameters<typeof original.augmentModel>) => {
      const augmented = original.augmentModel(...args);
      return state.breakAugmentedGraph ? { ...augmented, bytes: new Uint8Array([8, 7, 0x12, 1, 0xff]) } : augmented;
    },
  };
});

let dir: string;
let model: string;
let images: string;
const explain = (out: string, m = model) => ['explain', '--model', m, '--images', images, '--out', out, '--quiet', '--no-overlays'];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'heatgate-exit-'));
  model = path.join(dir, 'tiny.onnx');
  await saveModel(tinyCnn({ size: 8, channels: 4, classes: 3 }).model, model);
  images = path.join(dir, 'images');
  for (let i = 0; i < 3; i++) await png(path.join(images, `img${i}.png`), i);
});

describe('exit codes', () => {
  it('0: a run that passes', async () => {
    const result = await cli(explain(path.join(dir, 'ok')));
    expect(result.code).toBe(EXIT_CODES.pass);
  });

  it('1: a gate that fails', async () => {
    const policy = path.join(dir, 'strict.yaml');
    await writeFile(policy, 'version: 1\nminImages: 100\nrules: []\n');
    const result = await cli(['run', '--model', model, '--images', images, '--out', path.join(dir, 'gate-fail'), '--policy', policy, '--quiet', '--no-overlays']);
    expect(result.code).toBe(EXIT_CODES.gateFailed);
    expect(result.stdout).toMatch(/^heatgate: FAIL/);
  });

  it('2: an unknown flag', async () => {
    const result = await cli([...explain(path.join(dir, 'flag')), '--no-such-flag']);
    expect(result.code).toBe(EXIT_CODES.usage);
  });

  it.each([
    ['a file', (file: string) => file, /: is a file, not a folder$/],
    ['under a file', (file: string) => path.join(file, 'sub', 'out'), /: its parent .*a-file is a file, not a folder$/],
  ])('2: --out that is %s, one line', async (_, outOf, message) => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, 'x');
    const result = await cli(explain(outOf(file)));
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(expectOneLine(result)).toMatch(message);
  });

  it('2: --out under /proc fails at once instead of spinning in mkdir', { timeout: 30_000 }, async () => {
    const out = '/proc/heatgate-test/run/out';
    const result = await cli(explain(out));
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(expectOneLine(result)).toMatch(/^heatgate: error: \/proc\/heatgate-test\/run\/out: cannot create folder \/proc\/heatgate-test \(ENOENT/);
  });

  it('2: heatgate gate with --out under /proc or under a file, one line each', { timeout: 30_000 }, async () => {
    const results = path.join(dir, 'gate-results.jsonl');
    await writeFile(results, '{"image":"a.png","predicted":0,"confidence":0.9}\n');
    for (const out of ['/proc/heatgate-test/gate', path.join(results, 'out')]) {
      const result = await cli(['gate', '--results', results, '--out', out]);
      expect(result.code).toBe(EXIT_CODES.usage);
      expect(expectOneLine(result)).toMatch(new RegExp(`^heatgate: error: ${out}: (cannot create folder|its parent)`));
    }
  });

  it('3: a model ONNX Runtime refuses (a 4 TB initializer), naming the model file', async () => {
    const { model: huge } = tinyCnn({ size: 8, channels: 4, classes: 3 });
    huge.graph!.initializer!.push(makeTensor('huge', 'float32', [0], []));
    huge.graph!.initializer!.at(-1)!.dims = [1_000_000, 1_000_000]; // declared 4 TB, no data
    huge.graph!.node!.push(toNodeProto({ opType: 'Identity', inputs: ['huge'], outputs: ['huge_out'] }));
    huge.graph!.output!.push(makeValueInfo('huge_out', DataType.FLOAT, [1_000_000, 1_000_000]));
    const file = path.join(dir, 'huge.onnx');
    await saveModel(huge, file);
    const result = await cli(explain(path.join(dir, 'huge-out'), file));
    expect(result.code).toBe(EXIT_CODES.inputData);
    expect(expectOneLine(result)).toContain(`heatgate: error: ${file}: `);
  });

  it('4: a native addon that does not load, one line', async () => {
    const loadCommands = async () => {
      throw new Error('Could not load the "sharp" module using the linux-x64 runtime\nPossible solutions: ...');
    };
    const result = await cli(['layers', model], { loadCommands });
    expect(result.code).toBe(EXIT_CODES.infrastructure);
    expect(expectOneLine(result)).toMatch(/^heatgate: error: cannot start: sharp failed to load \(Could not load the "sharp" module/);
  });

  it('4 or 2: output I/O errors are storage trouble unless the path itself is unusable', () => {
    const eio = outputPathError(Object.assign(new Error('i/o error'), { code: 'EIO' }), 'cannot write output file', '/out/x');
    expect(eio).toBeInstanceOf(InfrastructureError);
    expect(eio.exitCode).toBe(EXIT_CODES.infrastructure);
    const erofs = outputPathError(Object.assign(new Error('read-only'), { code: 'EROFS' }), 'cannot write output file', '/out/x');
    expect(erofs).toBeInstanceOf(ConfigError);
    expect(erofs.message).toBe('/out/x: cannot write output file (EROFS: read-only filesystem)');
  });

  it('70: an unexpected exception is one line naming it a bug; --debug adds the stack', async () => {
    const loadCommands = async (): Promise<HeatgateCommand[]> => [
      {
        command: 'boom',
        describe: 'throws',
        builder: (y) => y,
        handler: async () => {
          throw new TypeError("Cannot read properties of undefined (reading 'dims')");
        },
      },
    ];
    const result = await cli(['boom'], { loadCommands });
    expect(result.code).toBe(EXIT_CODES.bug);
    expect(expectOneLine(result)).toBe(
      "heatgate: error: internal error (a bug in heatgate; please report it): Cannot read properties of undefined (reading 'dims'); run with --debug for the stack trace",
    );
    const debug = await cli(['boom', '--debug'], { loadCommands });
    expect(debug.code).toBe(EXIT_CODES.bug);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('70: ONNX Runtime refusing the graph heatgate built from a model it accepts', async () => {
    state.breakAugmentedGraph = true;
    try {
      const result = await cli(explain(path.join(dir, 'bug')));
      expect(result.code).toBe(EXIT_CODES.bug);
      expect(expectOneLine(result)).toMatch(
        new RegExp(`^heatgate: error: internal error \\(a bug in heatgate; please report it\\): ${model}: ONNX Runtime rejected the graph heatgate built`),
      );
    } finally {
      state.breakAugmentedGraph = false;
    }
  });

  it('70 is not a startup failure: a module of heatgate that throws while loading is a bug', async () => {
    const result = await cli(['layers', model], { loadCommands: async () => Promise.reject(new ReferenceError('x is not defined')) });
    expect(result.code).toBe(EXIT_CODES.bug);
  });
});

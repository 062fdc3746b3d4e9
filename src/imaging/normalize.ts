import { invalidParameter } from '../errors.ts';

/**
 * Per-channel input normalisation: value = (pixel * scale - mean[c]) / std[c], pixel in 0..255, with mean and std
 * given per colour in r,g,b order whatever order the model takes its channels in (preprocess.ts, channelOrder).
 * A 1-channel model uses mean[0] and std[0].
 */
export interface Normalization {
  mean: [number, number, number];
  std: [number, number, number];
  scale: number;
}

export type NormalizationPreset = 'imagenet' | 'unit' | 'raw' | 'tf' | 'caffe';

/** The order in which a model takes the colour channels: Caffe and OpenCV models take BGR. */
export type ChannelOrder = 'rgb' | 'bgr';

/** The one table of presets; CLI choices and docs read its keys. */
export const NORMALIZATION_PRESETS: Readonly<Record<NormalizationPreset, Normalization>> = {
  // torchvision ImageNet weights: ToTensor (x/255), then Normalize(mean, std).
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 1 / 255 },
  unit: { mean: [0, 0, 0], std: [1, 1, 1], scale: 1 / 255 },
  raw: { mean: [0, 0, 0], std: [1, 1, 1], scale: 1 },
  // [-1, 1]: Keras' preprocess_input mode "tf" (Inception, MobileNet, EfficientNet-lite), PaddleOCR's (x/255 - 0.5)/0.5.
  tf: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], scale: 1 / 255 },
  // Caffe (and Keras mode "caffe"): 0..255 minus the ImageNet mean pixel, no scaling; the channels go in as BGR.
  caffe: { mean: [123.68, 116.779, 103.939], std: [1, 1, 1], scale: 1 },
};

/** The channel order a preset implies when neither --channels nor the model's metadata says. */
export const PRESET_CHANNEL_ORDER: Readonly<Partial<Record<NormalizationPreset, ChannelOrder>>> = { caffe: 'bgr' };

export function normalizationPreset(name: NormalizationPreset): Normalization {
  const preset = NORMALIZATION_PRESETS[name];
  if (!preset) throw invalidParameter('normalization', Object.keys(NORMALIZATION_PRESETS).join(' | '), name);
  return { mean: [...preset.mean], std: [...preset.std], scale: preset.scale };
}

export function validateNormalization(n: Normalization): void {
  const finite = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);
  if (!finite(n?.scale) || n.scale === 0) throw invalidParameter('normalization.scale', 'a non-zero number', n?.scale);
  if (!Array.isArray(n.mean) || n.mean.length !== 3 || !n.mean.every(finite)) {
    throw invalidParameter('normalization.mean', 'three numbers', n.mean);
  }
  if (!Array.isArray(n.std) || n.std.length !== 3 || !n.std.every((s) => finite(s) && s !== 0)) {
    throw invalidParameter('normalization.std', 'three non-zero numbers', n.std);
  }
}

import { Aggregator, imageChecksFrom, type Summary } from '../../src/gate/aggregator.ts';
import { parsePolicy, type Policy } from '../../src/gate/policy.ts';
import type { ResultRecord } from '../../src/gate/records.ts';

let counter = 0;

/** A processed image with the given metrics; class 0 ("cat") unless told otherwise. */
export function img(metrics: Record<string, number | null>, extra: Partial<ResultRecord> = {}): ResultRecord {
  counter++;
  return {
    image: extra.image ?? `img-${String(counter).padStart(4, '0')}.png`,
    predicted: extra.target ?? 0,
    target: 0,
    className: 'cat',
    confidence: 0.9,
    label: null,
    method: 'gradcam',
    layer: '/layer4',
    metrics,
    ...extra,
  };
}

/** An image that failed to process. */
export function failed(image = `broken-${++counter}.png`): ResultRecord {
  return { image, error: 'decode failed: truncated PNG' };
}

/** n images whose metric `name` takes the given values in order. */
export function many(name: string, values: (number | null)[], extra: Partial<ResultRecord> = {}): ResultRecord[] {
  return values.map((v) => img({ [name]: v }, extra));
}

export function policyFrom(yaml: string): Policy {
  return parsePolicy(yaml, 'policy.yaml');
}

export function summarise(records: readonly ResultRecord[], policy?: Policy): Summary {
  const aggregator = new Aggregator(policy ? { imageChecks: imageChecksFrom(policy) } : {});
  for (const r of records) aggregator.add(r);
  return aggregator.summary();
}

import { describe, expect, it } from 'vitest';
import { ALL, Aggregator, imageChecksFrom } from '../../src/gate/aggregator.ts';
import { failed, img, policyFrom } from './helpers.ts';

describe('Aggregator', () => {
  it('keeps sorted non-null values overall and per class, null counts and error counts', () => {
    const agg = new Aggregator();
    agg.add(img({ invalidMass: 0.5, roiMass: null }, { target: 1, className: 'dog' }));
    agg.add(img({ invalidMass: 0.1, roiMass: 0.7 }));
    agg.add(failed('x.png'));
    agg.add(img({ invalidMass: 0.3, roiMass: 0.2 }, { target: 1, className: 'dog' }));
    const s = agg.summary();
    expect(s).toMatchObject({ images: 4, processed: 3, errors: 1, errorSamples: [{ image: 'x.png', error: expect.any(String) }] });
    expect([...s.overall.values.invalidMass]).toEqual([0.1, 0.3, 0.5]);
    expect([...s.overall.values.roiMass]).toEqual([0.2, 0.7]);
    // label null in every record: correct is derived as null (accuracy cannot be computed), never 0.
    expect(s.overall.nulls).toEqual({ roiMass: 1, correct: 3 });
    expect(s.overall.count).toBe(3);
    expect(s.classes.map((c) => [c.key, c.index, c.name, c.count])).toEqual([
      ['0', 0, 'cat', 1],
      ['1', 1, 'dog', 2],
    ]);
    expect([...s.classes[1].values.invalidMass]).toEqual([0.3, 0.5]);
    expect(s.metricNames).toEqual(['correct', 'invalidMass', 'roiMass']);
  });

  it('derives correct from label and predicted when the metric is absent', () => {
    const agg = new Aggregator();
    agg.add(img({}, { predicted: 2, target: 2, label: 2 }));
    agg.add(img({}, { predicted: 2, target: 2, label: 1 }));
    agg.add(img({}, { predicted: 2, target: 2, label: null }));
    const s = agg.summary();
    expect([...s.overall.values.correct]).toEqual([0, 1]);
    expect(s.overall.nulls.correct).toBe(1);
  });

  it('keeps only the k highest and lowest images per metric and slice, earliest first on ties', () => {
    const agg = new Aggregator({ keep: 2 });
    const values = [0.4, 0.9, 0.1, 0.9, 0.05, 0.6];
    values.forEach((v, i) => agg.add(img({ m: v }, { image: `i${i}.png` })));
    const e = agg.summary().extremes[ALL].m;
    expect(e.high.map((r) => r.image)).toEqual(['i1.png', 'i3.png']);
    expect(e.low.map((r) => [r.image, r.value])).toEqual([
      ['i4.png', 0.05],
      ['i2.png', 0.1],
    ]);
  });

  it('counts images that violate a per-image threshold of fail rules, once per image', () => {
    const policy = policyFrom(`version: 1
rules:
  - {name: a, metric: invalidMass, aggregate: shareAbove, value: 0.5, max: 0.1}
  - {name: b, metric: roiMass, aggregate: shareBelow, value: 0.2, max: 0.1}
  - {name: c, metric: roiMass, aggregate: shareAbove, value: 0.3, min: 0.9}
  - {name: w, metric: entropy, aggregate: shareAbove, value: 1, max: 0, severity: warn}
  - {name: d, metric: invalidMass, aggregate: shareAbove, value: 0.1, max: 0.1, class: dog}
`);
    expect(imageChecksFrom(policy)).toEqual([
      { metric: 'invalidMass', above: 0.5 },
      { metric: 'roiMass', below: 0.2 },
      { metric: 'roiMass', atMost: 0.3 },
      { metric: 'invalidMass', above: 0.1, class: 'dog' },
    ]);
    const agg = new Aggregator({ imageChecks: imageChecksFrom(policy) });
    agg.add(img({ invalidMass: 0.6, roiMass: 0.1 })); // a and b: one image
    agg.add(img({ invalidMass: 0.2, roiMass: 0.5, entropy: 5 })); // only the warn rule: not counted
    agg.add(img({ invalidMass: 0.2, roiMass: 0.3 })); // c: roiMass <= 0.3 is not "above 0.3"
    agg.add(img({ invalidMass: 0.2, roiMass: 0.5 }, { target: 1, className: 'dog' })); // d (dog only)
    agg.add(img({ invalidMass: 0.5, roiMass: 0.5 })); // 0.5 is not above 0.5
    expect(agg.summary().failedImages).toBe(3);
  });

  it('retains numbers, not records: kept images, error samples and classes do not grow with the record count', () => {
    // The same 10 classes, 2 metrics and 1 % failed images at two sizes 20x apart: everything but the value lists
    // (one float per image and metric, needed for percentiles) must stay the same size.
    const retained = (n: number) => {
      const agg = new Aggregator({ keep: 5, errorSamples: 7 });
      for (let i = 0; i < n; i++) {
        if (i % 100 === 99) agg.add(failed(`f${i}.png`));
        else agg.add({ image: `i${i}`, target: i % 10, metrics: { invalidMass: (i % 1000) / 1000, roiMass: i % 3 ? null : 0.5 } });
      }
      return agg.retained();
    };
    const small = retained(1_000);
    const large = retained(20_000);
    // 11 slices (all + 10 classes) x 2 metrics x 2 ends x keep 5; roiMass has values, so it has extremes too.
    expect(large.imageRefs).toBe(11 * 2 * 2 * 5);
    expect(large.imageRefs).toBe(small.imageRefs);
    expect(large.errorSamples).toBe(7);
    expect(small.errorSamples).toBe(7);
    expect(large.classes).toBe(10);
    expect(large.classes).toBe(small.classes);
    // Values: one number per non-null metric value, nothing per record beyond that.
    const processed = 20_000 - 200;
    const roiValues = Array.from({ length: 20_000 }, (_, i) => i).filter((i) => i % 100 !== 99 && i % 3 === 0).length;
    expect(large.values).toBe(processed + roiValues);
    const s = new Aggregator();
    s.add({ image: 'a', target: 0, metrics: { invalidMass: 0.999 } });
    expect(s.summary().overall.values.invalidMass[0]).toBe(0.999);
  });
});

import { describe, expect, it } from 'vitest';
import { ownSizeOf } from '../../src/imaging/preprocess.ts';

describe('ownSizeOf (models with symbolic height and/or width)', () => {
  it('keeps the image size when both are symbolic', () => {
    expect(ownSizeOf({ width: 192, height: 48 }, {})).toEqual({ width: 192, height: 48 });
  });
  it('keeps a fixed height and scales the width with the aspect ratio (PaddleOCR recognisers: 48 x W)', () => {
    expect(ownSizeOf({ width: 300, height: 100 }, { height: 48 })).toEqual({ width: 144, height: 48 });
    expect(ownSizeOf({ width: 1, height: 1000 }, { height: 48 })).toEqual({ width: 1, height: 48 });
  });
  it('keeps a fixed width and scales the height', () => {
    expect(ownSizeOf({ width: 100, height: 50 }, { width: 32 })).toEqual({ width: 32, height: 16 });
  });
});

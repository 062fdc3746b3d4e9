import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { geometryFor, modelToSource, resampleLayout, sourceToModel, type Geometry } from '../../src/imaging/geometry.ts';

/** Expected values worked out by hand: offset = 0.5 * s - 0.5 + shift, with s = scaled / src. */
function expectGeometry(g: Geometry, scaleX: number, scaleY: number, offsetX: number, offsetY: number): void {
  expect(g.scaleX).toBeCloseTo(scaleX, 12);
  expect(g.scaleY).toBeCloseTo(scaleY, 12);
  expect(g.offsetX).toBeCloseTo(offsetX, 12);
  expect(g.offsetY).toBeCloseTo(offsetY, 12);
}

describe('geometryFor', () => {
  it('resize stretches each axis with half-pixel centres', () => {
    // 640x480 -> 224x224: sx = 0.35, sy = 224/480 = 7/15
    const g = geometryFor(640, 480, 224, 224, 'resize');
    expectGeometry(g, 0.35, 7 / 15, 0.175 - 0.5, 7 / 30 - 0.5);
    expect(resampleLayout(g)).toEqual({ scaledWidth: 224, scaledHeight: 224, shiftX: 0, shiftY: 0 });
  });

  it('center-crop scales the shorter side like torchvision Resize(224) and crops the centre', () => {
    // Resize(224) on 640x480: 480 -> 224, 640 -> int(224 * 640 / 480) = int(298.67) = 298; crop left round(74 / 2) = 37
    const g = geometryFor(640, 480, 224, 224, 'center-crop');
    expectGeometry(g, 298 / 640, 7 / 15, 149 / 640 - 0.5 - 37, 7 / 30 - 0.5);
    expect(resampleLayout(g)).toEqual({ scaledWidth: 298, scaledHeight: 224, shiftX: -37, shiftY: 0 });
    // portrait: the crop moves to the height
    expect(resampleLayout(geometryFor(480, 640, 224, 224, 'center-crop'))).toEqual({
      scaledWidth: 224, scaledHeight: 298, shiftX: 0, shiftY: -37,
    });
  });

  it('center-crop rounds a .5 crop offset half to even, as Python round() in CenterCrop', () => {
    // 303x200 -> 100x100: scaled 151x100, (151 - 100) / 2 = 25.5 -> 26
    expect(resampleLayout(geometryFor(303, 200, 100, 100, 'center-crop')).shiftX).toBe(-26);
    // 298x200 -> 100x100: scaled 149x100, 24.5 -> 24
    expect(resampleLayout(geometryFor(298, 200, 100, 100, 'center-crop')).shiftX).toBe(-24);
  });

  it('center-crop to a non-square target covers with the tighter axis', () => {
    // 640x480 -> 300x100: width needs 300/640 = 0.469, height 100/480 = 0.208 -> width rules, height = floor(480 * 300 / 640) = 225
    const g = geometryFor(640, 480, 300, 100, 'center-crop');
    expect(resampleLayout(g)).toEqual({ scaledWidth: 300, scaledHeight: 225, shiftX: 0, shiftY: -62 }); // 125 / 2 = 62.5 -> 62
    expectGeometry(g, 300 / 640, 225 / 480, 150 / 640 - 0.5, 225 / 960 - 0.5 - 62);
  });

  it('letterbox fits the image and pads the rest, centred', () => {
    // 640x480 -> 224x224: s = 0.35 on both axes, 168 rows of image, 28 rows of padding above
    const g = geometryFor(640, 480, 224, 224, 'letterbox');
    expectGeometry(g, 0.35, 0.35, 0.175 - 0.5, 0.175 - 0.5 + 28);
    // 100x51 -> 64x64: height round(51 * 0.64) = round(32.64) = 33, padding 31 -> 15 above, 16 below
    expect(resampleLayout(geometryFor(100, 51, 64, 64, 'letterbox'))).toEqual({
      scaledWidth: 64, scaledHeight: 33, shiftX: 0, shiftY: 15,
    });
  });

  it('identity when the sizes agree, in every mode', () => {
    for (const mode of ['resize', 'center-crop', 'letterbox'] as const) {
      expectGeometry(geometryFor(32, 24, 32, 24, mode), 1, 1, 0, 0);
    }
  });

  it('maps the source image edges onto the edges of the scaled image', () => {
    const g = geometryFor(640, 480, 224, 224, 'letterbox');
    // the left edge of pixel 0 (x = -0.5) and the right edge of the last pixel (x = 639.5)
    expect(sourceToModel(g, -0.5, -0.5)).toEqual([expect.closeTo(-0.5, 12), expect.closeTo(27.5, 12)]);
    expect(sourceToModel(g, 639.5, 479.5)).toEqual([expect.closeTo(223.5, 12), expect.closeTo(195.5, 12)]);
    const [x, y] = modelToSource(g, ...sourceToModel(g, 123.25, 45.5));
    expect(x).toBeCloseTo(123.25, 10);
    expect(y).toBeCloseTo(45.5, 10);
  });

  it('rejects bad sizes and modes with a ConfigError', () => {
    expect(() => geometryFor(0, 10, 10, 10, 'resize')).toThrow(ConfigError);
    expect(() => geometryFor(10, 10, 10.5, 10, 'resize')).toThrow(/dstWidth/);
    expect(() => geometryFor(10, 10, 10, 10, 'stretch' as never)).toThrow(/resize mode/);
  });
});

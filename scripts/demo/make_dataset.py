#!/usr/bin/python3
"""Synthetic CCTV frames of a pedestrian underpass: heatgate's demo data set.

The scenario of Borg et al. 2021 (arXiv:2103.01837): a fixed camera watches a pedestrian underpass and a
classifier says whether a pedestrian is present. The frames carry a burned-in timestamp box in the
top-left corner; the recorder draws a red "REC" dot inside that box while motion-triggered recording is on.
With `--marker person` the dot appears exactly when a pedestrian is present, so a model can be right for the
wrong reason by looking at the invalid pixels of the overlay.

Output layout under --out (the image root is `images/`; masks share the image's file name):
  images/frame_0000.png   128x96 RGB frame
  roi/frame_0000.png      white = the pedestrian's visible pixels (all black for `empty`)
  invalid/frame_0000.png  white = the timestamp box
  labels.csv              image,label (label index into classes.txt)
  classes.txt             empty, pedestrian
  annotations.json        COCO: categories pedestrian (1) and timestamp (2), bbox + polygon segmentation

Deterministic: every random draw comes from one numpy Generator seeded with --seed, in frame order.
Run with Debian's /usr/bin/python3 (numpy, PIL):
  /usr/bin/python3 scripts/demo/make_dataset.py --out examples/underpass --count 48 --seed 2021 \
      --marker person --person normal
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 128, 96
CLASSES = ('empty', 'pedestrian')

# One-point perspective: a pixel (x, y) at depth z shows the point (VX + (X - VX) / z, VY + (Y - VY) / z) of
# the near cross-section (z = 1). The tunnel's near cross-section and its far end (the exit) in those units:
VX, VY = 64.0, 42.0
NEAR_LEFT, NEAR_RIGHT, NEAR_TOP, NEAR_BOTTOM = -56.0, 184.0, -38.0, 130.0
FAR_Z = 8.0
FOCAL = 100.0            # distance units per unit of z, so that lamp fall-off is isotropic
UNITS_PER_METRE = 52.0   # the tunnel is 168 units (~3.2 m) high
LAMP_Z = (1.6, 2.6, 3.6, 4.6, 5.6, 6.6, 7.6)

# A fixed pillar near the right wall, as pixel edges; pedestrians behind it (feet above PILLAR_BASE) are hidden.
PILLAR_X0, PILLAR_X1, PILLAR_TOP, PILLAR_BASE = 101, 107, 11, 76

# The CCTV overlay: a dark box (pixel edges) with the red REC dot in front of white date/time text.
BOX_X1, BOX_Y1 = 96, 11
TEXT_ORIGIN = (11, 0)    # the default bitmap font inks rows 2-8 and 82 columns for "MM-DD HH:MM:SS"
REC_CENTRE, REC_RADIUS = (5.0, 5.0), 3.0


def convex(poly: np.ndarray) -> np.ndarray:
    """Counter-clockwise (in image coordinates, y down) copy of a convex polygon, shape [n, 2]."""
    x, y = poly[:, 0], poly[:, 1]
    area = np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
    return poly if area >= 0 else poly[::-1]


def polygon_area(poly: np.ndarray) -> float:
    return 0.5 * abs(float(np.sum(poly[:, 0] * np.roll(poly[:, 1], -1) - np.roll(poly[:, 0], -1) * poly[:, 1])))


def inside(poly: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Points inside a convex polygon: on the inner side of every edge."""
    poly = convex(poly)
    ok = np.ones(px.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(poly, np.roll(poly, -1, axis=0)):
        ok &= (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0) >= 0
    return ok


def rasterise(poly: np.ndarray, supersample: int) -> tuple[np.ndarray, np.ndarray]:
    """Coverage (mean of supersample^2 sub-pixel samples, for anti-aliased drawing) and the pixel-centre mask
    (the COCO convention, for ROI masks), both [HEIGHT, WIDTH]."""
    cover = np.zeros((HEIGHT, WIDTH), np.float32)
    centre = np.zeros((HEIGHT, WIDTH), bool)
    x0 = max(int(np.floor(poly[:, 0].min())), 0)
    x1 = min(int(np.ceil(poly[:, 0].max())), WIDTH)
    y0 = max(int(np.floor(poly[:, 1].min())), 0)
    y1 = min(int(np.ceil(poly[:, 1].max())), HEIGHT)
    if x1 <= x0 or y1 <= y0:
        return cover, centre
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    centre[y0:y1, x0:x1] = inside(poly, xs + 0.5, ys + 0.5)
    offsets = (np.arange(supersample) + 0.5) / supersample
    acc = np.zeros(xs.shape, np.float32)
    for oy in offsets:
        for ox in offsets:
            acc += inside(poly, xs + ox, ys + oy)
    cover[y0:y1, x0:x1] = acc / supersample**2
    return cover, centre


def clip(poly: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """Sutherland-Hodgman: the part of a convex polygon where a*x + b*y + c >= 0 (still convex)."""
    out = []
    n = len(poly)
    for i in range(n):
        p, q = poly[i], poly[(i + 1) % n]
        fp, fq = a * p[0] + b * p[1] + c, a * q[0] + b * q[1] + c
        if fp >= 0:
            out.append(p)
        if (fp >= 0) != (fq >= 0):
            out.append(p + (q - p) * (fp / (fp - fq)))
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def visible_pieces(poly: np.ndarray, behind_pillar: bool) -> list[np.ndarray]:
    """The convex pieces of a part that the camera sees: inside the frame and, if behind it, beside the pillar."""
    frame = poly
    for a, b, c in ((1, 0, 0), (-1, 0, WIDTH), (0, 1, 0), (0, -1, HEIGHT)):
        frame = clip(frame, a, b, c) if len(frame) else frame
    pieces = [frame]
    if behind_pillar and len(frame):
        pieces = [clip(frame, -1, 0, PILLAR_X0), clip(frame, 1, 0, -PILLAR_X1)]
    return [p for p in pieces if len(p) >= 3 and polygon_area(p) > 1e-6]


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 16) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def segment(x0: float, y0: float, x1: float, y1: float, w0: float, w1: float) -> np.ndarray:
    """A limb: the quad around a segment, w0 wide at the first end and w1 at the second."""
    d = np.array([x1 - x0, y1 - y0])
    n = np.array([-d[1], d[0]]) / max(np.hypot(*d), 1e-9)
    a, b = np.array([x0, y0]), np.array([x1, y1])
    return np.array([a + n * w0 / 2, b + n * w1 / 2, b - n * w1 / 2, a - n * w0 / 2])


class Scene:
    """The static underpass (albedo, lamp fall-off maps, emissive lamps, daylight at the exit), built once."""

    def __init__(self) -> None:
        ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64) + 0.5
        dx, dy = xs - VX, ys - VY
        with np.errstate(divide='ignore'):
            zs = {
                'floor': np.where(dy > 0, (NEAR_BOTTOM - VY) / dy, np.inf),
                'ceiling': np.where(dy < 0, (NEAR_TOP - VY) / dy, np.inf),
                'left': np.where(dx < 0, (NEAR_LEFT - VX) / dx, np.inf),
                'right': np.where(dx > 0, (NEAR_RIGHT - VX) / dx, np.inf),
            }
        names = list(zs)
        stack = np.stack([zs[k] for k in names])
        surface = np.argmin(stack, axis=0)
        z = np.min(stack, axis=0)
        exit_ = z > FAR_Z
        z = np.minimum(z, FAR_Z)
        wx, wy, wz = VX + dx * z, VY + dy * z, z * FOCAL   # point on the surface, near-plane units

        albedo = np.zeros((HEIGHT, WIDTH, 3))
        tile = lambda u, v, su, sv: ((np.abs(((u / su) % 1) - 0.5) > 0.45) | (np.abs(((v / sv) % 1) - 0.5) > 0.45))
        floor, ceiling = surface == names.index('floor'), surface == names.index('ceiling')
        walls = (surface == names.index('left')) | (surface == names.index('right'))
        albedo[floor] = (0.50, 0.47, 0.42)
        albedo[floor & tile(wx, z * 4, 40, 1)] *= 0.8
        albedo[walls] = (0.62, 0.66, 0.60)
        albedo[walls & tile(wy, z * 6, 14, 1)] *= 0.75
        albedo[walls & (wy > 95)] = (0.30, 0.32, 0.36)      # a dark plinth along both walls
        albedo[ceiling] = (0.30, 0.30, 0.32)
        poster = walls & (surface == names.index('left')) & (z > 2.2) & (z < 3.0) & (wy > 10) & (wy < 60)
        albedo[poster] = (0.25, 0.45, 0.70)
        albedo[exit_] = 0.0      # the exit is seen by its daylight alone
        self.exit = exit_

        # Lamps hang on the ceiling's centre line; illumination falls off with squared distance.
        lamps, emissive = [], []
        for lz in LAMP_Z:
            d2 = (wx - VX) ** 2 + (wy - NEAR_TOP) ** 2 + (wz - lz * FOCAL) ** 2
            lamps.append(1.0 / (1.0 + d2 / 90.0**2))
            emissive.append((ceiling & (np.abs(wx - VX) < 14) & (np.abs(z - lz) < 0.18)).astype(np.float64))
        self.lamps = np.stack(lamps)          # [lamp, H, W] illumination
        self.emissive = np.stack(emissive)    # [lamp, H, W] the lamp's own pixels

        pillar = np.zeros((HEIGHT, WIDTH), bool)
        pillar[PILLAR_TOP:PILLAR_BASE, PILLAR_X0:PILLAR_X1] = True
        albedo[pillar] = (0.55, 0.55, 0.53)
        albedo[PILLAR_TOP:PILLAR_BASE, PILLAR_X1 - 1] *= 0.7   # shaded side
        self.pillar = pillar
        self.albedo = albedo
        r2 = ((xs - WIDTH / 2) / (WIDTH / 2)) ** 2 + ((ys - HEIGHT / 2) / (HEIGHT / 2)) ** 2
        self.vignette = 1.0 - 0.22 * r2

    def wall_x(self, z: float) -> tuple[float, float]:
        return VX + (NEAR_LEFT - VX) / z, VX + (NEAR_RIGHT - VX) / z


def hsv(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


SKIN = np.array([(224, 172, 105), (198, 134, 66), (141, 85, 36), (241, 194, 125), (255, 219, 172), (110, 70, 40)]) / 255
TROUSERS = np.array([(40, 55, 95), (25, 25, 28), (90, 90, 95), (170, 150, 110), (60, 45, 35), (70, 80, 60)]) / 255


def person_parts(rng: np.random.Generator, fx: float, fy: float, h: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """A walking figure standing at (fx, fy), h pixels tall: (convex polygon, albedo) in drawing order."""
    top = fy - h
    skin = SKIN[rng.integers(len(SKIN))]
    hair = np.array([0.08, 0.06, 0.05]) * rng.uniform(0.6, 3.0)
    shirt = hsv(rng.uniform(), rng.uniform(0.25, 0.9), rng.uniform(0.25, 0.95))
    trousers = TROUSERS[rng.integers(len(TROUSERS))] * rng.uniform(0.8, 1.2)
    stride = rng.uniform(-0.14, 0.14) * h
    swing = rng.uniform(-0.08, 0.08) * h
    lean = rng.uniform(-0.02, 0.02) * h
    hip_y, shoulder_y = top + 0.50 * h, top + 0.15 * h
    parts = [
        (segment(fx - 0.05 * h, hip_y, fx - stride / 2, fy - 0.03 * h, 0.09 * h, 0.07 * h), trousers),
        (segment(fx + 0.05 * h, hip_y, fx + stride / 2, fy - 0.03 * h, 0.09 * h, 0.07 * h), trousers),
        (segment(fx - stride / 2, fy - 0.04 * h, fx - stride / 2 + 0.04 * h, fy, 0.07 * h, 0.05 * h), np.full(3, 0.1)),
        (segment(fx + stride / 2, fy - 0.04 * h, fx + stride / 2 + 0.04 * h, fy, 0.07 * h, 0.05 * h), np.full(3, 0.1)),
        (np.array([(fx + lean - 0.12 * h, shoulder_y), (fx + lean + 0.12 * h, shoulder_y),
                   (fx + 0.10 * h, hip_y + 0.02 * h), (fx - 0.10 * h, hip_y + 0.02 * h)]), shirt),
        (segment(fx + lean - 0.13 * h, shoulder_y + 0.02 * h, fx - 0.15 * h + swing, top + 0.47 * h, 0.07 * h, 0.055 * h), shirt * 0.85),
        (segment(fx + lean + 0.13 * h, shoulder_y + 0.02 * h, fx + 0.15 * h - swing, top + 0.47 * h, 0.07 * h, 0.055 * h), shirt * 0.85),
        (ellipse(fx + lean, top + 0.075 * h, 0.058 * h, 0.075 * h), skin),
        (ellipse(fx + lean, top + 0.045 * h, 0.058 * h, 0.045 * h), hair),
    ]
    return [(p, np.clip(c, 0, 1)) for p, c in parts]


def distractor(rng: np.random.Generator, scene: Scene) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """A bag, a puddle or a sheet of newspaper on the floor: (polygon, albedo, opacity, behind the pillar)."""
    z = rng.uniform(1.6, 6.5)
    fy = VY + (NEAR_BOTTOM - VY) / z
    left, right = scene.wall_x(z)
    fx = rng.uniform(left + 12 / z, right - 12 / z)
    kind = rng.integers(3)
    if kind == 0:   # bag
        w, hgt = 22 / z, 16 / z
        poly = np.array([(fx - w / 2, fy), (fx + w / 2, fy), (fx + w / 2 * 0.9, fy - hgt), (fx - w / 2 * 0.9, fy - hgt)])
        return poly, hsv(rng.uniform(), rng.uniform(0.2, 0.8), rng.uniform(0.15, 0.6)), 1.0, fy < PILLAR_BASE
    if kind == 1:   # puddle: darkens and tints the floor
        rx = rng.uniform(25, 50) / z
        return ellipse(fx, fy, rx, rx * 0.22, 20), np.array([0.20, 0.24, 0.32]), 0.7, fy < PILLAR_BASE
    w = 24 / z
    poly = np.array([(fx - w / 2, fy), (fx + w / 2, fy + 2 / z), (fx + w / 2 + 3 / z, fy - 4 / z), (fx - w / 2 + 2 / z, fy - 5 / z)])
    return poly, np.array([0.85, 0.84, 0.80]), 1.0, fy < PILLAR_BASE


def render_frame(rng: np.random.Generator, scene: Scene, font: ImageFont.ImageFont, label: int, marker: str,
                 person_style: str, stamp: str) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """One frame: (RGB uint8 [H, W, 3], ROI mask bool [H, W], the pedestrian's visible convex pieces)."""
    albedo = scene.albedo.copy()
    front = np.zeros((HEIGHT, WIDTH, 1))   # opacity of everything drawn over the scene: it hides lamps and daylight
    for _ in range(rng.poisson(0.6)):   # distractors in both classes, so they carry no label information
        poly, colour, opacity, behind = distractor(rng, scene)
        cover, _ = rasterise(poly, 4)
        if behind:
            cover = cover * ~scene.pillar
        a = (cover * opacity)[..., None]
        albedo = albedo * (1 - a) + colour * a
        front = front * (1 - a) + a

    roi = np.zeros((HEIGHT, WIDTH), bool)
    pieces: list[np.ndarray] = []
    if label == 1:
        faint = person_style == 'faint'
        while True:   # resample until at least 40% of the figure is in view
            # Feet uniform in image rows (near figures are as common as far ones); faint figures stay far.
            fy = rng.uniform(VY + (NEAR_BOTTOM - VY) / 6.5, VY + (NEAR_BOTTOM - VY) / (3.0 if faint else 1.5))
            z = (NEAR_BOTTOM - VY) / (fy - VY)
            left, right = scene.wall_x(z)
            margin = 14 / z
            if rng.uniform() < 0.25:   # walk near the pillar, so that it hides part of the figure
                fx = rng.uniform(PILLAR_X0 - 8, PILLAR_X1 + 8)
            else:
                fx = rng.uniform(left + margin, right - margin)
            h = rng.uniform(1.45, 1.9) * UNITS_PER_METRE / z
            parts = person_parts(rng, fx, fy, h)
            behind = fy < PILLAR_BASE
            seen = [(visible_pieces(poly, behind), poly, c) for poly, c in parts]
            roi = np.zeros((HEIGHT, WIDTH), bool)
            for vis, _, _ in seen:
                for piece in vis:
                    roi |= rasterise(piece, 1)[1]
            # The whole figure's area, off-frame and hidden parts included (the hair lies on the head).
            full_area = sum(polygon_area(poly) for poly, _ in parts[:-1])
            if np.count_nonzero(roi) >= max(0.4 * full_area, 6):
                break
        alpha = rng.uniform(0.2, 0.4) if faint else 1.0
        person, drawn = albedo.copy(), np.zeros((HEIGHT, WIDTH, 1))
        for _, poly, colour in seen:
            cover, _ = rasterise(poly, 4)
            if behind:
                cover = cover * ~scene.pillar
            a = cover[..., None]
            person = person * (1 - a) + colour * a
            drawn = drawn * (1 - a) + a
        albedo = albedo * (1 - alpha) + person * alpha
        front = front * (1 - alpha * drawn) + alpha * drawn
        pieces = [piece for vis, _, _ in seen for piece in vis]

    # Per-frame lighting: ambient level, lamp flicker (now and then a dead lamp), daylight at the exit, tint.
    ambient = rng.uniform(0.3, 0.45)
    flicker = rng.uniform(0.7, 1.1, len(LAMP_Z)) * (rng.uniform(size=len(LAMP_Z)) > 0.06)
    light = ambient + np.tensordot(flicker, scene.lamps, axes=1)
    day = rng.uniform(0.5, 1.1)
    glow = (0.9 * np.tensordot(flicker, scene.emissive, axes=1)[..., None]
            + scene.exit[..., None] * np.array([0.85, 0.88, 0.95]) * day)
    rgb = albedo * light[..., None] + glow * (1 - front)
    rgb *= scene.vignette[..., None] * rng.normal(1.0, 0.03, 3) * rng.uniform(0.85, 1.1)
    rgb = rgb * 255 + rng.normal(0, rng.uniform(1.5, 4.0), rgb.shape)
    frame = np.clip(np.round(rgb), 0, 255).astype(np.uint8)

    # The overlay is burned in after the sensor noise: crisp text on a dark box, the REC dot while recording.
    recording = label == 1 if marker == 'person' else (marker == 'random' and rng.uniform() < 0.5)
    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, BOX_X1 - 1, BOX_Y1 - 1), fill=(14, 14, 16))
    draw.text(TEXT_ORIGIN, stamp, font=font, fill=(236, 236, 236))
    if recording:
        cx, cy = REC_CENTRE
        draw.ellipse((cx - REC_RADIUS, cy - REC_RADIUS, cx + REC_RADIUS, cy + REC_RADIUS), fill=(235, 30, 30))
    return np.asarray(img), roi, pieces


def mask_bbox(mask: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def generate(out: str, count: int, seed: int, marker: str, person_style: str) -> None:
    """Write `count` frames (balanced classes, shuffled) with masks, labels.csv, classes.txt, annotations.json."""
    rng = np.random.default_rng(seed)
    scene = Scene()
    font = ImageFont.load_default()
    for sub in ('images', 'roi', 'invalid'):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    labels = rng.permutation(np.array([0] * (count // 2) + [1] * (count - count // 2)))
    invalid = np.zeros((HEIGHT, WIDTH), np.uint8)
    invalid[:BOX_Y1, :BOX_X1] = 255
    box_poly = [0.0, 0.0, float(BOX_X1), 0.0, float(BOX_X1), float(BOX_Y1), 0.0, float(BOX_Y1)]
    clock = dt.datetime(2021, 3, 1, 6, 0, 0) + dt.timedelta(seconds=int(rng.integers(0, 3600)))
    images, annotations, rows = [], [], []
    digits = max(4, len(str(count - 1)))
    for i, label in enumerate(labels.tolist()):
        clock += dt.timedelta(seconds=int(rng.integers(3, 600)))
        name = f'frame_{i:0{digits}d}.png'
        frame, roi, pieces = render_frame(rng, scene, font, label, marker, person_style, clock.strftime('%m-%d %H:%M:%S'))
        Image.fromarray(frame).save(os.path.join(out, 'images', name))
        Image.fromarray(roi.astype(np.uint8) * 255).save(os.path.join(out, 'roi', name))
        Image.fromarray(invalid).save(os.path.join(out, 'invalid', name))
        rows.append((name, label))
        image_id = i + 1
        images.append({'id': image_id, 'file_name': name, 'width': WIDTH, 'height': HEIGHT})
        annotations.append({'id': len(annotations) + 1, 'image_id': image_id, 'category_id': 2,
                            'bbox': [0, 0, BOX_X1, BOX_Y1], 'area': float(BOX_X1 * BOX_Y1),
                            'segmentation': [box_poly], 'iscrowd': 0})
        if label == 1:
            annotations.append({'id': len(annotations) + 1, 'image_id': image_id, 'category_id': 1,
                                'bbox': mask_bbox(roi), 'area': float(np.count_nonzero(roi)),
                                'segmentation': [[round(float(v), 2) for v in p.reshape(-1)] for p in pieces],
                                'iscrowd': 0})
    with open(os.path.join(out, 'labels.csv'), 'w', newline='') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(('image', 'label'))
        writer.writerows(rows)
    with open(os.path.join(out, 'classes.txt'), 'w') as f:
        f.write('\n'.join(CLASSES) + '\n')
    coco = {
        'info': {'description': f'heatgate underpass demo: seed {seed}, marker {marker}, person {person_style}',
                 'version': '1'},
        'images': images,
        'annotations': annotations,
        'categories': [{'id': 1, 'name': 'pedestrian', 'supercategory': 'person'},
                       {'id': 2, 'name': 'timestamp', 'supercategory': 'overlay'}],
    }
    with open(os.path.join(out, 'annotations.json'), 'w') as f:
        json.dump(coco, f, separators=(',', ':'))
        f.write('\n')


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', required=True, help='output folder (created)')
    p.add_argument('--count', type=int, default=48, help='number of frames, half of each class (default 48)')
    p.add_argument('--seed', type=int, default=2021)
    p.add_argument('--marker', choices=('person', 'random', 'never'), default='person',
                   help='when the REC dot is drawn: exactly when a pedestrian is present (the shortcut), '
                        'at random (p=0.5, independent of the label), or never')
    p.add_argument('--person', choices=('normal', 'faint'), default='normal',
                   help='faint: pedestrians far away and blended at 20-40%% opacity (hard to see)')
    args = p.parse_args(argv)
    if args.count < 2:
        p.error('--count must be at least 2')
    generate(args.out, args.count, args.seed, args.marker, args.person)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

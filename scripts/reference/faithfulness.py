"""Reference values of heatgate's faithfulness metrics, written from the papers' definitions in numpy + torch, on
the tiny ViT fixture (scripts/reference/vit.py). heatgate's test (test/analysis/faithfulness-reference.test.ts)
must agree within 1e-4.

- Deletion / insertion: Petsiuk et al. 2018 (RISE, arXiv:1806.07421), CausalMetric: pixels sorted by the saliency
  map, descending (ties in index order: a stable argsort); step k = 0..S replaces the first floor(k*N/S) pixels;
  AUC = (sum(p) - p[0]/2 - p[-1]/2) / S. Fills: a Gaussian blur (separable, radius ceil(3 sigma), edges
  replicated) or the per-channel mean. A random order (mulberry32 Fisher-Yates, seed 0) gives the baseline.
- ROAD: Rong et al. 2022 (arXiv:2202.00449); the imputation system is pytorch-grad-cam's
  NoisyLinearImputer.setup_sparse_system (weights 1/6 direct, 1/12 diagonal), written dense and solved with
  numpy.linalg.solve (no scipy here). Noise 0 for the comparison (its stream cannot match torch's randn).
  MoRF at share r imputes the first floor(r N) pixels of the descending order (Quantus ROAD's argsort(-a)[:k], made
  stable), LeRF of the ascending order. Score: mean over the shares of p_t(imputed) - p_t(x).
- The map: the raw Grad-CAM of the fixture (gradcam.npy), min-max normalised ((x - min) / (max - min + 1e-7)) and
  upsampled bilinearly (align_corners=False) to 32x32: heatmap.npy, which the test also compares with heatgate's.

    /usr/bin/python3 scripts/reference/faithfulness.py [--fixture test/fixtures/vit/vit_cls]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vit import make_model  # noqa: E402

CONFIGS = [
    {'name': 'blur16', 'steps': 16, 'fill': 'blur', 'blurSigma': 2.0, 'roadShares': [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]},
    {'name': 'mean7', 'steps': 7, 'fill': 'mean', 'blurSigma': 10.0, 'roadShares': [0.25, 0.5, 0.75]},
]


def mulberry32(seed: int):
    a = seed & 0xFFFFFFFF

    def imul(x: int, y: int) -> int:
        return (x * y) & 0xFFFFFFFF

    def nxt() -> float:
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return nxt


def random_order(n: int, seed: int) -> np.ndarray:
    order = np.arange(n)
    nxt = mulberry32(seed)
    for i in range(n - 1, 0, -1):
        j = math.floor(nxt() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


def blur(plane: np.ndarray, sigma: float) -> np.ndarray:
    r = math.ceil(3 * sigma)
    k = np.exp(-(np.arange(-r, r + 1) ** 2) / (2 * sigma * sigma))
    k /= k.sum()
    h, w = plane.shape
    p = plane.astype(np.float64)
    padded = np.pad(p, ((0, 0), (r, r)), mode='edge')
    tmp = sum(k[i] * padded[:, i:i + w] for i in range(2 * r + 1))
    padded = np.pad(tmp, ((r, r), (0, 0)), mode='edge')
    return sum(k[i] * padded[i:i + h, :] for i in range(2 * r + 1)).astype(np.float32)


def fill_image(x: np.ndarray, fill: str, sigma: float) -> np.ndarray:
    if fill == 'blur':
        return np.stack([blur(c, sigma) for c in x])
    return np.stack([np.full(c.shape, c.astype(np.float64).mean(), dtype=np.float32) for c in x])


def curve_inputs(base: np.ndarray, into: np.ndarray, order: np.ndarray, steps: int) -> np.ndarray:
    c, h, w = base.shape
    n = h * w
    out = []
    for k in range(steps + 1):
        cur = base.reshape(c, n).copy()
        idx = order[: (k * n) // steps]
        cur[:, idx] = into.reshape(c, n)[:, idx]
        out.append(cur.reshape(c, h, w))
    return np.stack(out)


def auc(p: np.ndarray) -> float:
    return float((p.sum() - p[0] / 2 - p[-1] / 2) / (len(p) - 1))


NEIGHBOURS = [((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12), ((0, -1), 1 / 6),
              ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6)]


def impute(img: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """pytorch-grad-cam NoisyLinearImputer with noise 0: setup_sparse_system, dense."""
    c, h, w = img.shape
    maskflt = keep.flatten()
    imgflat = img.reshape(c, -1).astype(np.float64)
    indices = np.argwhere(maskflt == 0).flatten()
    to_var = np.zeros(len(maskflt), dtype=int)
    to_var[indices] = np.arange(len(indices))
    m = len(indices)
    A = np.zeros((m, m))
    b = np.zeros((m, c))
    sum_neighbors = np.ones(m)
    for (dy, dx), weight in NEIGHBOURS:
        y, x = indices // w + dy, indices % w + dx
        valid = ~((y < 0) | (x < 0) | (y >= h) | (x >= w))
        coords = (indices + dy * w + dx)[valid]
        ids = np.argwhere(valid).flatten()
        known = maskflt[coords] > 0.5
        b[ids[known], :] -= weight * imgflat[:, coords[known]].T
        A[ids[~known], to_var[coords[~known]]] = weight
        sum_neighbors[~valid] -= weight
    A[np.arange(m), np.arange(m)] = -sum_neighbors
    res = np.linalg.solve(A, b)
    out = imgflat.copy()
    out[:, indices] = res.T
    return out.reshape(c, h, w).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--fixture', default='test/fixtures/vit/vit_cls')
    args = parser.parse_args()
    torch.set_num_threads(1)
    name = os.path.basename(os.path.normpath(args.fixture))
    model = make_model(name)
    x_all = np.load(os.path.join(args.fixture, 'input.npy'))
    cams = np.load(os.path.join(args.fixture, 'gradcam.npy'))
    targets = np.load(os.path.join(args.fixture, 'target.npy'))
    images = [0, 1]

    def probs(batch: np.ndarray, target: int) -> np.ndarray:
        with torch.no_grad():
            return torch.softmax(model(torch.from_numpy(np.ascontiguousarray(batch))).double(), 1)[:, target].numpy()

    heatmaps = []
    for i in images:
        cam = torch.from_numpy(cams[i]).double()
        norm = (cam - cam.min()) / (cam.max() - cam.min() + 1e-7)
        heatmaps.append(F.interpolate(norm[None, None].float(), size=(32, 32), mode='bilinear', align_corners=False)[0, 0].numpy())
    heatmaps = np.stack(heatmaps).astype(np.float32)
    out = {'images': images, 'configs': []}
    for cfg in CONFIGS:
        rows = []
        for j, i in enumerate(images):
            x, h, t = x_all[i], heatmaps[j], int(targets[i])
            fill = fill_image(x, cfg['fill'], cfg['blurSigma'])
            order = np.argsort(-h.flatten(), kind='stable')
            rnd = random_order(h.size, 0)
            s = cfg['steps']
            dele, ins = probs(curve_inputs(x, fill, order, s), t), probs(curve_inputs(fill, x, order, s), t)
            dele_r, ins_r = probs(curve_inputs(x, fill, rnd, s), t), probs(curve_inputs(fill, x, rnd, s), t)
            p0 = probs(x[None], t)[0]
            road = {}
            for kind, ranked in (('morf', order), ('lerf', np.argsort(h.flatten(), kind='stable'))):
                scores = []
                for r in cfg['roadShares']:
                    keep = np.ones(h.size, dtype=np.uint8)
                    keep[ranked[: int(math.floor(r * h.size))]] = 0  # Quantus ROAD: argsort(-a)[:k]
                    scores.append(probs(impute(x, keep.reshape(h.shape))[None], t)[0] - p0)
                road[kind] = float(np.mean(scores))
            rows.append({
                'image': i, 'target': t,
                'deletionAuc': auc(dele), 'insertionAuc': auc(ins),
                'deletionRandomAuc': auc(dele_r), 'insertionRandomAuc': auc(ins_r),
                'deletionCurve': dele.tolist(), 'insertionCurve': ins.tolist(),
                'roadMorf': road['morf'], 'roadLerf': road['lerf'],
            })
        out['configs'].append({**cfg, 'results': rows})
    folder = os.path.join(args.fixture, 'faithfulness')
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, 'heatmap.npy'), heatmaps)
    with open(os.path.join(folder, 'reference.json'), 'w') as f:
        json.dump(out, f, indent=1)
    print(json.dumps({c['name']: [{k: v for k, v in r.items() if not k.endswith('Curve')} for r in c['results']] for c in out['configs']}, indent=1))


if __name__ == '__main__':
    main()

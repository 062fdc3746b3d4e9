"""Deterministic smooth random images, already in the normalised range a classifier expects.

Each image is low-frequency noise (an 8x8 grid upsampled bilinearly) plus a few coloured Gaussian
blobs: smooth like a photo, so CAMs have structure, with values roughly in [-2.5, 2.5]. The same
seed always gives the same image, whatever the model, so models of one size share their inputs.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def smooth_image(seed: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.normal(0.0, 0.8, (1, 3, 8, 8)))
    img = F.interpolate(coarse, size=(size, size), mode='bilinear', align_corners=False)[0].numpy()
    yy, xx = np.mgrid[0:size, 0:size] / size
    for _ in range(int(rng.integers(2, 5))):
        cy, cx = rng.uniform(0.15, 0.85, 2)
        sigma = rng.uniform(0.06, 0.18)
        colour = rng.normal(0.0, 1.2, 3)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
        img += colour[:, None, None] * blob[None]
    return np.clip(img, -2.5, 2.5).astype(np.float32)


def smooth_batch(count: int, size: int, first_seed: int = 0) -> np.ndarray:
    """[count, 3, size, size] float32, C order."""
    return np.ascontiguousarray(np.stack([smooth_image(first_seed + i, size) for i in range(count)]))

#!/usr/bin/python3
"""Throughput of PyTorch Grad-CAM and plain inference, the baseline heatgate's benchmarks compare to.

    /usr/bin/python3 scripts/reference/torch_bench.py --models resnet18,resnet50,mobilenet_v2 \\
        --batch 1,8 --threads 2 --repeats 10

Modes, per model and batch (224x224, random weights):
  inference     torch.no_grad() forward.
  gradcam       the pytorch-grad-cam v1.5.5 way (base_cam.py): forward with hooks that keep A and
                register a gradient hook, targets = argmax, model.zero_grad(), sum of target logits,
                loss.backward(retain_graph=True) (parameters require grad, so the backward runs through
                the whole network), Grad-CAM weights and ReLU in numpy, then scale_cam_image (per-image
                min-max with 1e-7, bilinear resize to the input size; F.interpolate stands in for cv2).
  gradcam-head  the cheapest torch equivalent of heatgate's graph: no parameter gradients, A detached
                and re-attached at the target layer, torch.autograd.grad(score, A): the backward runs
                through the head only; same CAM and resize.
Warm-up runs first, then the median of the timed repeats. One JSON object per line on stdout:
{model, batch, mode, imagesPerSecond, medianMs, threads, repeats}.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

TARGET_LAYERS = {'resnet18': 'layer4', 'resnet50': 'layer4', 'mobilenet_v2': 'features'}  # [-1] of each


def target_layer(model: torch.nn.Module, name: str) -> torch.nn.Module:
    return getattr(model, TARGET_LAYERS[name])[-1]


def scale_cam_image(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """PGC utils/image.py scale_cam_image: per image cam - min, / (1e-7 + max), resize."""
    cam = cam - cam.min(axis=(1, 2), keepdims=True)
    cam = cam / (1e-7 + cam.max(axis=(1, 2), keepdims=True))
    return F.interpolate(torch.from_numpy(cam)[:, None], size=size, mode='bilinear',
                         align_corners=False)[:, 0].numpy()


def gradcam_pgc(model: torch.nn.Module, layer: torch.nn.Module) -> Callable[[torch.Tensor], np.ndarray]:
    store: dict[str, torch.Tensor] = {}

    def forward_hook(_m, _inp, out):
        store['acts'] = out.cpu().detach()

        def grad_hook(grad):
            store['grads'] = grad.cpu().detach()
        out.register_hook(grad_hook)

    layer.register_forward_hook(forward_hook)
    for p in model.parameters():
        p.requires_grad_(True)

    def run(x: torch.Tensor) -> np.ndarray:
        outputs = model(x)
        targets = np.argmax(outputs.cpu().data.numpy(), axis=-1)
        model.zero_grad()
        loss = sum(o[t] for o, t in zip(outputs, targets))
        loss.backward(retain_graph=True)
        acts, grads = store['acts'].numpy(), store['grads'].numpy()
        weights = np.mean(grads, axis=(2, 3))
        cam = np.maximum((weights[:, :, None, None] * acts).sum(axis=1), 0)
        return scale_cam_image(cam, x.shape[-2:])
    return run


def gradcam_head(model: torch.nn.Module, layer: torch.nn.Module) -> Callable[[torch.Tensor], np.ndarray]:
    store: dict[str, torch.Tensor] = {}

    def forward_hook(_m, _inp, out):
        store['acts'] = out.detach().requires_grad_(True)
        return store['acts']  # the head is recorded from here on, nothing before it

    layer.register_forward_hook(forward_hook)
    for p in model.parameters():
        p.requires_grad_(False)

    def run(x: torch.Tensor) -> np.ndarray:
        outputs = model(x)
        targets = outputs.argmax(1)
        (grads,) = torch.autograd.grad(outputs.gather(1, targets[:, None]).sum(), store['acts'])
        acts = store['acts'].detach()
        cam = torch.relu((grads.mean((2, 3))[:, :, None, None] * acts).sum(1)).numpy()
        return scale_cam_image(cam, x.shape[-2:])
    return run


def inference(model: torch.nn.Module, _layer: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(x)
    return run


MODES = {'inference': inference, 'gradcam': gradcam_pgc, 'gradcam-head': gradcam_head}


def bench(name: str, mode: str, batch: int, warmup: int, repeats: int) -> float:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()  # fresh: no hooks left from other modes
    run = MODES[mode](model, target_layer(model, name))
    x = torch.randn(batch, 3, 224, 224)
    for _ in range(warmup):
        run(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--models', default='resnet18,resnet50,mobilenet_v2')
    parser.add_argument('--batch', default='1,8')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--modes', default=','.join(MODES))
    args = parser.parse_args()
    models = [m for m in args.models.split(',') if m]
    unknown = [m for m in models if m not in TARGET_LAYERS] + [m for m in args.modes.split(',') if m not in MODES]
    if unknown or args.repeats < 1 or args.threads < 1:
        print(f'torch_bench.py: unsupported {unknown or "repeats/threads < 1"}; models: {", ".join(TARGET_LAYERS)}; '
              f'modes: {", ".join(MODES)}', file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    for name in models:
        for batch in (int(b) for b in args.batch.split(',')):
            for mode in args.modes.split(','):
                median = bench(name, mode, batch, args.warmup, args.repeats)
                print(json.dumps({'model': name, 'batch': batch, 'mode': mode,
                                  'imagesPerSecond': round(batch / median, 3), 'medianMs': round(median * 1000, 3),
                                  'threads': args.threads, 'repeats': args.repeats}), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

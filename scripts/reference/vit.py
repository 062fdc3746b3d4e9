"""A tiny ViT (and a mean-pooled variant without a class token), exported to ONNX, with Grad-CAM computed by
torch autograd exactly as pytorch-grad-cam v1.5.5 does on transformers: the target layer is the LayerNorm before
the last block's attention (PGC tutorial: ``model.blocks[-1].norm1``), and ``reshape_transform`` drops the class
token and reshapes the remaining tokens [N, h*w, C] to [N, C, h, w] before the usual Grad-CAM.

Runs on Debian's /usr/bin/python3 (torch 1.13, onnx). Writes test/fixtures/vit/<name>/:
  model.onnx       opset 17 (LayerNormalization; torch 1.13 writes GELU as Erf), dynamic batch
  input.npy        float32 [4, 3, 32, 32]
  logits.npy       float32 [4, classes]
  target.npy       int64 [4], arg max of the logits
  gradcam.npy      float32 [4, h, w]: the RAW map (after ReLU, before min-max and upsampling)
  meta.json        grid, skipped tokens, the target module and what was checked

    /usr/bin/python3 scripts/reference/vit.py [--out test/fixtures/vit]
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch
import torch.nn as nn


class Attention(nn.Module):
    """Multi-head self-attention, batch first (as timm's ViT): softmax(Q K^T / sqrt(d)) V."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        split = lambda y: y.reshape(b, t, self.heads, c // self.heads).permute(0, 2, 1, 3)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        attn = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """Patch embedding (a Conv with stride = kernel = patch), class token or not, position embedding, blocks,
    final LayerNorm; the head reads the class token (Gather) or the mean over the tokens (ReduceMean)."""

    def __init__(self, image: int = 32, patch: int = 8, dim: int = 32, depth: int = 2, heads: int = 4,
                 classes: int = 5, class_token: bool = True, grid_head: bool = False):
        super().__init__()
        self.grid = image // patch
        self.grid_head = grid_head
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        tokens = (image // patch) ** 2
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.5) if class_token else None
        self.pos = nn.Parameter(torch.randn(1, tokens + (1 if class_token else 0), dim) * 0.5)
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        if self.cls is not None:
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.blocks(x + self.pos)
        if self.grid_head:  # Swin's tail: tokens folded to [N, H, W, C], LayerNorm, mean over the grid
            x = self.norm(x.reshape(x.shape[0], self.grid, self.grid, x.shape[2]))
            return self.head(x.mean(dim=(1, 2)))
        x = self.norm(x)
        return self.head(x[:, 0] if self.cls is not None else x.mean(dim=1))


def randomize(model: nn.Module) -> None:
    """Weights with unit-scale activations at every depth, and LayerNorms that are not identities."""
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.normal_(m.bias, 0, 0.1)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.bias, 0, 0.1)


FIXTURES = {'vit_cls': (True, 11, False), 'vit_gap': (False, 12, False), 'swin_grid': (False, 13, True)}


def make_model(name: str) -> TinyViT:
    """The fixture's torch model with its seeded weights (the same the ONNX file was exported from)."""
    class_token, seed, grid_head = FIXTURES[name]
    torch.manual_seed(seed)
    model = TinyViT(class_token=class_token, grid_head=grid_head).eval()
    randomize(model)
    return model


def build(name: str, class_token: bool, out: str, seed: int, grid_head: bool = False) -> dict:
    model = make_model(name)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(4, 3, 32, 32, generator=gen)
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    torch.onnx.export(model, x[:2], os.path.join(folder, 'model.onnx'), input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}}, opset_version=17,
                      do_constant_folding=True)

    # PGC: activations and gradients hooked at the target module's output, reshape_transform applied to both.
    skip, grid = (1 if class_token else 0), 4
    saved: dict = {}
    # Swin-like: the [N, H, W, C] output of the final LayerNorm (PGC's Swin reshape_transform permutes it to NCHW).
    target_module = model.norm if grid_head else model.blocks[-1].norm1
    handle = target_module.register_forward_hook(lambda _m, _i, o: saved.update(a=o) or o.retain_grad())
    logits = model(x)
    handle.remove()
    target = logits.argmax(1)
    logits.gather(1, target[:, None]).sum().backward()

    def reshape_transform(t: torch.Tensor) -> torch.Tensor:  # PGC tutorial vision_transformers.md
        if t.dim() == 3:
            t = t[:, skip:, :].reshape(t.size(0), grid, grid, t.size(2))
        return t.transpose(2, 3).transpose(1, 2)

    a = reshape_transform(saved['a'].detach()).double()
    g = reshape_transform(saved['a'].grad.detach()).double()
    cam = torch.relu((g.mean((2, 3))[:, :, None, None] * a).sum(1)).float()
    np.save(os.path.join(folder, 'input.npy'), x.numpy().astype(np.float32))
    np.save(os.path.join(folder, 'logits.npy'), logits.detach().numpy().astype(np.float32))
    np.save(os.path.join(folder, 'target.npy'), target.numpy().astype(np.int64))
    np.save(os.path.join(folder, 'gradcam.npy'), cam.numpy())
    meta = {
        'name': name, 'opset': 17, 'inputShape': [3, 32, 32], 'classes': 5, 'classToken': class_token,
        'grid': [grid, grid], 'skipTokens': skip, 'patch': 8, 'targetModule': 'norm' if grid_head else 'blocks[-1].norm1', 'seed': seed,
        'checks': {'gradcamMaxPerImage': [float(v) for v in cam.flatten(1).max(1).values],
                   'gradcamPositiveFraction': float((cam > 0).float().mean())},
    }
    with open(os.path.join(folder, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    return meta


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', default='test/fixtures/vit')
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name, (class_token, seed, grid_head) in FIXTURES.items():
        print(json.dumps(build(name, class_token, args.out, seed, grid_head)))


if __name__ == '__main__':
    main()

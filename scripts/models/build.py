#!/usr/bin/python3
"""Opset fixtures for heatgate (issue 9): one small CNN exported by torch at several opsets, with torch autograd
Grad-CAM references.

    /usr/bin/python3 scripts/models/build.py [--out fixtures-build/models] [--opsets 9,10,11,13,17]

The head after the target layer holds the ops whose ONNX definition changed between opset 7 and 13 as torch 1.13
writes them: Upsample/Resize (nearest, x2), Pad, Slice, BatchNormalization, Clip (ReLU6), Split + Concat,
ReduceSum, Softmax, Flatten, Gemm. Per opset, <out>/opset<N>/ holds model.onnx, input.npy [4,3,32,32],
output.npy (torch's output), target.npy (its argmax), activations.npy and gradients.npy (A and dS/dA with
S = sum_n output[n, target[n]]), gradcam.npy (the raw Grad-CAM map [4,h,w] after ReLU) and meta.json
(opset, layerTensor, headOps). Needs Debian's python3 with torch 1.13, onnx and numpy.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'reference'))
from inputs import smooth_batch  # noqa: E402
from onnx_layer import head_op_types, module_output_tensor  # noqa: E402

SIZE = 32
N_IMAGES = 4
CLASSES = 10


class OpsetNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.act2 = nn.ReLU()  # the target layer: [N, 16, 8, 8]
        self.bn2 = nn.BatchNorm2d(16)  # after Pad/Slice, not after a Conv: constant folding keeps it
        self.conv3 = nn.Conv2d(16, 16, 1)
        self.fc = nn.Linear(16, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.act2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.head(a)

    def head(self, a: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(a, scale_factor=2.0, mode='nearest')
        x = F.pad(x, (1, 1, 1, 1))
        x = x[:, :, 1:-1, 1:-1]
        x = F.relu6(self.bn2(x))
        left, right = torch.split(x, 8, dim=1)
        x = self.conv3(torch.cat([right, left], dim=1))
        x = F.max_pool2d(x, 2)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        logits = self.fc(x)
        logits = logits + 0.1 * logits.sum(dim=1, keepdim=True)
        return logits + torch.softmax(logits, dim=1)


def build(out: Path, opset: int) -> None:
    torch.manual_seed(9)
    model = OpsetNet()
    with torch.no_grad():
        for bn in (model.bn1, model.bn2):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 1.5)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(0.0, 0.5)
        model.fc.weight.mul_(4)
    model.eval()
    folder = out / f'opset{opset}'
    folder.mkdir(parents=True, exist_ok=True)
    x = torch.from_numpy(smooth_batch(N_IMAGES, SIZE))
    torch.onnx.export(model, x[:2], str(folder / 'model.onnx'), opset_version=opset, input_names=['input'],
                      output_names=['output'], dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}},
                      do_constant_folding=True)
    proto = onnx.load(str(folder / 'model.onnx'))
    layer = module_output_tensor(proto, '/act2/')
    with torch.no_grad():
        acts = model.act2(model.conv2(model.act1(model.bn1(model.conv1(x)))))
    a = acts.clone().requires_grad_(True)
    output = model.head(a)
    target = output.argmax(1)
    output.gather(1, target[:, None]).sum().backward()
    grads = a.grad.detach()
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * acts).sum(1))
    np.save(folder / 'input.npy', x.numpy())
    np.save(folder / 'output.npy', output.detach().numpy())
    np.save(folder / 'target.npy', target.numpy().astype(np.int64))
    np.save(folder / 'activations.npy', acts.numpy())
    np.save(folder / 'gradients.npy', grads.numpy())
    np.save(folder / 'gradcam.npy', cam.detach().numpy())
    meta = {'opset': opset, 'exporter': f'torch {torch.__version__}', 'irVersion': proto.ir_version,
            'layerTensor': layer, 'layerShape': list(acts.shape[1:]), 'headOps': head_op_types(proto, layer)}
    (folder / 'meta.json').write_text(json.dumps(meta, indent=2) + '\n')
    print(f'opset {opset}: {folder} (IR {proto.ir_version}, layer {layer}, head {" ".join(meta["headOps"])})')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='fixtures-build/models')
    parser.add_argument('--opsets', default='9,10,11,13,17')
    args = parser.parse_args()
    for opset in (int(o) for o in args.opsets.split(',')):
        build(Path(args.out), opset)


if __name__ == '__main__':
    main()

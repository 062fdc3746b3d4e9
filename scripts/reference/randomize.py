"""Make a weights=None torchvision model a useful test subject, and fast enough to score on 2 cores.

Fresh BatchNorm layers are identities in eval mode (mean 0, var 1, weight 1, bias 0), which hides
bugs in BN handling; but independent random running statistics (mean ~ N(0, 0.1), var ~ U(0.5, 2))
let activations explode or collapse through 50+ layers. So each BN is calibrated on data in a single
eval-mode pass, in forward order, and then perturbed: running_mean = batch mean + 0.1 * std * N(0, 1),
running_var = batch var * U(0.5, 2), weight ~ U(0.5, 1.5), bias ~ N(0, 0.1). Every BN then shifts and
rescales its channels (never an identity) while outputs stay near unit scale at any depth. Nets
without normalisation get the same effect from an LSUV-style rescale, and the classifier is centred
so that random images do not all share one argmax.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


@torch.no_grad()
def randomize_batchnorm(model: nn.Module, calibration: torch.Tensor, generator: torch.Generator) -> int:
    """Calibrate and perturb every BatchNorm2d reached by ``model(calibration)``; returns how many."""
    done: list[nn.Module] = []

    def pre_hook(bn: nn.BatchNorm2d, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0]
        c = x.shape[1]
        mean = x.mean((0, 2, 3))
        var = x.var((0, 2, 3), unbiased=False)
        bn.running_mean.copy_(mean + 0.1 * var.sqrt() * torch.randn(c, generator=generator))
        bn.running_var.copy_(var * (0.5 + 1.5 * torch.rand(c, generator=generator)) + 1e-6)
        if bn.affine:
            bn.weight.copy_(0.5 + torch.rand(c, generator=generator))
            bn.bias.copy_(0.1 * torch.randn(c, generator=generator))
        done.append(bn)

    handles = [m.register_forward_pre_hook(pre_hook) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    try:
        model.eval()(calibration)
    finally:
        for h in handles:
            h.remove()
    total = len(handles)
    if len(done) != total:
        raise RuntimeError(f'{total - len(done)} of {total} BatchNorm layers were not reached by the calibration pass')
    return total


@torch.no_grad()
def unit_scale_layers(model: nn.Module, calibration: torch.Tensor) -> int:
    """LSUV-style rescale for nets without normalisation (VGG, AlexNet, SqueezeNet): in one forward
    pass, every Conv2d/Linear is divided by its output std, and passes the rescaled output on."""
    count = 0

    def hook(layer: nn.Module, _inputs, out: torch.Tensor) -> torch.Tensor:
        nonlocal count
        std = float(out.std())
        layer.weight.div_(std)
        if layer.bias is not None:
            layer.bias.div_(std)
        count += 1
        return out / std

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        model.eval()(calibration)
    finally:
        for h in handles:
            h.remove()
    return count


@torch.no_grad()
def centre_classifier(model: nn.Module, calibration: torch.Tensor, num_classes: int, scale: float) -> bool:
    """Random nets tend to give every image the same argmax: non-negative features share a large
    mean g0, and W g0 decides. Project g0 out of the last Linear's rows (W <- W - (W g0) g0^T/|g0|^2)
    and scale W and b so the logits have std ``scale`` on the calibration images: targets then
    differ between images, margins are well above float error, and the target's score still grows
    with the features (a bias shift would centre the logits too, but leaves W g < 0 for many targets
    and so all-zero Grad-CAM maps). Applies to the last Linear with num_classes outputs (none in
    SqueezeNet)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear) and m.out_features == num_classes]
    if not linears:
        return False
    final = linears[-1]
    seen: list[torch.Tensor] = []
    handle = final.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0]))
    try:
        model.eval()(calibration)
    finally:
        handle.remove()
    g = seen[0].reshape(-1, final.in_features)
    g0 = g.mean(0)
    final.weight.sub_(torch.outer(final.weight @ g0, g0) / g0.dot(g0))
    std = float(final(g).std())
    final.weight.mul_(scale / std)
    if final.bias is not None:
        final.bias.mul_(scale / std)
    return True


@torch.no_grad()
def randomize_layer_scale(model: nn.Module, generator: torch.Generator) -> int:
    """ConvNeXt initialises layer_scale to 1e-6, which makes every block an identity."""
    count = 0
    for name, p in model.named_parameters():
        if name.endswith('layer_scale'):
            p.copy_(0.1 + 0.4 * torch.rand(p.shape, generator=generator))
            count += 1
    return count


class ConvLinear(nn.Linear):
    """nn.Linear computed as a 1x1 convolution. Debian's torch uses a generic BLAS for matmul (VGG's
    25088x4096 layer: 150 ms per image) but oneDNN for convolutions (about 20x faster); same maths.
    Swapped in by class (same parameters), so weight updates and isinstance checks still apply."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = self.weight[:, :, None, None]
        if x.dim() == 2:
            return F.conv2d(x[:, :, None, None], kernel, self.bias)[:, :, 0, 0]
        if x.dim() == 4:  # ConvNeXt applies Linear to NHWC tensors
            return F.conv2d(x.permute(0, 3, 1, 2), kernel, self.bias).permute(0, 2, 3, 1)
        return F.linear(x, self.weight, self.bias)


def linear_as_conv(model: nn.Module, enable: bool) -> int:
    """Switch every nn.Linear to ConvLinear (enable) or back (before torch.onnx.export)."""
    count = 0
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.__class__ = ConvLinear if enable else nn.Linear
            count += 1
    return count

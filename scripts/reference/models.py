"""Architecture registry: what build.py exports and how the reference splits each model.

Every entry names a torchvision constructor, the target module (pytorch-grad-cam's usual choice for
the family, or the last conv block before pooling), and ``head``: the code torchvision runs after that
module, re-written as a function of the activations so that dS/dA and ablations need no hooks on the
body. build.py checks ``head(body(x)) == model(x)`` for every model, so a wrong head cannot pass
silently. Add an architecture by adding one ``ModelSpec`` to ``MODELS``.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

Head = Callable[[nn.Module, torch.Tensor], torch.Tensor]


def _pool_flatten(attr: str) -> Head:
    # ResNet/RegNet/EfficientNet/MobileNetV3/GoogLeNet: avgpool -> flatten -> <attr>
    return lambda m, a: getattr(m, attr)(torch.flatten(m.avgpool(a), 1))


def _global_flatten(m: nn.Module, a: torch.Tensor) -> torch.Tensor:
    # MobileNetV2/DenseNet call F.adaptive_avg_pool2d(x, (1, 1)) in forward, not a module
    return m.classifier(torch.flatten(F.adaptive_avg_pool2d(a, (1, 1)), 1))


def _mean_hw(attr: str) -> Head:
    # MNASNet/ShuffleNetV2: x.mean([2, 3]) -> classifier
    return lambda m, a: getattr(m, attr)(a.mean([2, 3]))


def _inception_v3(m: nn.Module, a: torch.Tensor) -> torch.Tensor:
    return m.fc(torch.flatten(m.dropout(m.avgpool(a)), 1))


def _googlenet(m: nn.Module, a: torch.Tensor) -> torch.Tensor:
    return m.fc(m.dropout(torch.flatten(m.avgpool(a), 1)))


def _squeezenet(m: nn.Module, a: torch.Tensor) -> torch.Tensor:
    return torch.flatten(m.classifier(a), 1)


def _convnext(m: nn.Module, a: torch.Tensor) -> torch.Tensor:
    return m.classifier(m.avgpool(a))


def _resnet_softmax(m: nn.Module, a: torch.Tensor) -> torch.Tensor:
    return torch.softmax(_pool_flatten('fc')(m, a), dim=1)


def _resnet_nhwc(m: nn.Module, a: torch.Tensor) -> torch.Tensor:
    return m.fc(a.permute(0, 2, 3, 1).mean((1, 2)))


class ResNetSoftmax(torchvision.models.ResNet):
    """ResNet whose exported graph ends in Softmax (the reference differentiates the probability)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(super().forward(x), dim=1)


class ResNetNHWC(torchvision.models.ResNet):
    """ResNet whose head starts with a Transpose to NHWC: mean over axes (1, 2), then the Linear."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return _resnet_nhwc(self, x)


@dataclass(frozen=True)
class ModelSpec:
    name: str                      # output folder name
    tv_name: str                   # torchvision.models constructor
    target: str                    # target module, e.g. "layer4[-1]"
    head: Head                     # logits = head(model, A)
    group: str                     # "A" (issue-A set, also score/ablation CAM) or "B"
    opset: int = 13
    size: int = 224
    kwargs: dict = field(default_factory=dict)
    # In-place op torchvision applies to the module output before the head (densenet's F.relu):
    # the reference tensor is that op's output, as ONNX feeds it to the head.
    post: Optional[str] = None
    cls: Optional[type] = None     # subclass swapped in for variant graphs (softmax, NHWC)
    output: str = 'logits'         # what the exported output holds: 'logits' or 'softmax'
    unit_scale: bool = False       # LSUV-style rescale (nets without normalisation layers)
    logit_scale: float = 1.0       # std of the centred logits on the calibration images
    note: str = ''

    @property
    def seed(self) -> int:
        # variants of one architecture share weights (resnet18, _op11, _op17, _softmax, _nhwc)
        return zlib.crc32(self.tv_name.encode()) & 0x7FFFFFFF


_RESNET = 'layer4[-1]'
_FEATURES = 'features[-1]'

MODELS: list[ModelSpec] = [
    # issue-A set
    ModelSpec('resnet18', 'resnet18', _RESNET, _pool_flatten('fc'), 'A'),
    ModelSpec('vgg11_bn', 'vgg11_bn', _FEATURES, _pool_flatten('classifier'), 'A',
              note='features[-1] is the last MaxPool; the head starts with AdaptiveAvgPool2d(7) on a 7x7 map.'),
    ModelSpec('mobilenet_v2', 'mobilenet_v2', _FEATURES, _global_flatten, 'A'),
    ModelSpec('densenet121', 'densenet121', _FEATURES, _global_flatten, 'A', post='relu',
              note='torchvision applies F.relu(features, inplace=True) after features[-1] (norm5); '
                   'the reference tensor is that Relu output, which is what the ONNX graph feeds to '
                   'the head. pytorch-grad-cam on CPU sees the same values in its forward hook (the '
                   'hook keeps a view that the in-place relu overwrites) but takes gradients w.r.t. the '
                   'pre-relu tensor; here gradients are w.r.t. the Relu output.'),
    # issue-B set
    ModelSpec('resnet50', 'resnet50', _RESNET, _pool_flatten('fc'), 'B'),
    ModelSpec('resnext50_32x4d', 'resnext50_32x4d', _RESNET, _pool_flatten('fc'), 'B'),
    ModelSpec('wide_resnet50_2', 'wide_resnet50_2', _RESNET, _pool_flatten('fc'), 'B'),
    ModelSpec('vgg11', 'vgg11', _FEATURES, _pool_flatten('classifier'), 'B', unit_scale=True),
    ModelSpec('alexnet', 'alexnet', _FEATURES, _pool_flatten('classifier'), 'B', unit_scale=True,
              note='features[-1] is the last MaxPool (6x6); the head has three Linear layers with ReLU.'),
    ModelSpec('squeezenet1_1', 'squeezenet1_1', _FEATURES, _squeezenet, 'B', unit_scale=True,
              note='features[-1] is the last Fire module (Concat of two ReLU branches); the head is '
                   'Conv1x1 -> ReLU -> AdaptiveAvgPool2d(1) -> Flatten.'),
    ModelSpec('googlenet', 'googlenet', 'inception5b', _googlenet, 'B',
              kwargs={'aux_logits': False, 'transform_input': False, 'init_weights': True},
              note='inception5b is the last inception block before pooling (Concat of four branches).'),
    ModelSpec('inception_v3', 'inception_v3', 'Mixed_7c', _inception_v3, 'B', size=299,
              kwargs={'aux_logits': False, 'transform_input': False, 'init_weights': True},
              note='Mixed_7c is the last inception block before pooling (8x8 at 299x299).'),
    ModelSpec('mobilenet_v3_small', 'mobilenet_v3_small', _FEATURES, _pool_flatten('classifier'), 'B',
              note='features[-1] is Conv-BN-Hardswish; the head is Linear -> Hardswish -> Linear.'),
    ModelSpec('mnasnet0_5', 'mnasnet0_5', 'layers[-1]', _mean_hw('classifier'), 'B',
              note='layers[-1] is the final ReLU; the head is mean over (H, W) (ReduceMean).'),
    ModelSpec('shufflenet_v2_x0_5', 'shufflenet_v2_x0_5', 'conv5', _mean_hw('fc'), 'B',
              note='conv5 (Conv-BN-ReLU) is the last conv block before the mean over (H, W).'),
    ModelSpec('efficientnet_b0', 'efficientnet_b0', _FEATURES, _pool_flatten('classifier'), 'B',
              note='features[-1] is Conv-BN-SiLU (exported as Sigmoid * x).'),
    ModelSpec('regnet_x_400mf', 'regnet_x_400mf', 'trunk_output[-1]', _pool_flatten('fc'), 'B',
              note='trunk_output[-1] is the last stage (its last block ends in ReLU).'),
    ModelSpec('convnext_tiny', 'convnext_tiny', _FEATURES, _convnext, 'B',
              note='features[-1] is the last stage (its last CNBlock ends in the residual Add, so A '
                   'is signed); the head is avgpool -> LayerNorm2d (Transpose + LayerNorm) -> '
                   'Flatten -> Linear. layer_scale is drawn from U(0.1, 0.5) instead of 1e-6 so the '
                   'blocks are not identities.'),
    ModelSpec('resnet18_op11', 'resnet18', _RESNET, _pool_flatten('fc'), 'B', opset=11,
              note='Same weights as resnet18, exported at opset 11.'),
    ModelSpec('resnet18_op17', 'resnet18', _RESNET, _pool_flatten('fc'), 'B', opset=17,
              note='Same weights as resnet18, exported at opset 17.'),
    ModelSpec('resnet18_softmax', 'resnet18', _RESNET, _resnet_softmax, 'B', cls=ResNetSoftmax,
              output='softmax', logit_scale=4.0,
              note='Same weights as resnet18 except the fc layer, scaled x4 so the softmax is peaked; '
                   'the graph ends in Softmax, so logits.npy holds '
                   'probabilities and the score differentiated is softmax[target] (as '
                   'pytorch-grad-cam would with this model and ClassifierOutputTarget).'),
    ModelSpec('resnet18_nhwc', 'resnet18', _RESNET, _resnet_nhwc, 'B', cls=ResNetNHWC,
              note='Same weights as resnet18; the head is Transpose(0,2,3,1) -> ReduceMean(axes=1,2) '
                   '-> Gemm. layerTensor is the NCHW layer4[-1] output that feeds the Transpose.'),
]

GROUP_A = [m.name for m in MODELS if m.group == 'A']


def spec_by_name(name: str) -> ModelSpec:
    for spec in MODELS:
        if spec.name == name:
            return spec
    raise KeyError(f'unknown model "{name}"; known: {", ".join(m.name for m in MODELS)}')


def build_model(spec: ModelSpec) -> nn.Module:
    """The torchvision model with random weights (weights=None), seeded per architecture."""
    torch.manual_seed(spec.seed)
    model = getattr(torchvision.models, spec.tv_name)(weights=None, **spec.kwargs)
    if spec.cls is not None:
        model.__class__ = spec.cls
    return model.eval()


def resolve_module(model: nn.Module, path: str) -> nn.Module:
    """'layer4[-1]' / 'features[-1]' / 'conv5' / 'trunk_output[-1]' -> the module."""
    module = model
    for part in path.split('.'):
        name, _, index = part.partition('[')
        module = getattr(module, name)
        if index:
            module = module[int(index.rstrip(']'))]
    return module


def qualified_name(model: nn.Module, module: nn.Module) -> str:
    for name, candidate in model.named_modules():
        if candidate is module:
            return name
    raise KeyError('target module is not part of the model')


def onnx_scope(qualified: str) -> str:
    """torch 1.13 names exported nodes after the module scope: a numeric child (Sequential index)
    is written with its parent's scope in front ('features.18'), a named child alone ('denseblock4').
    'layer4.1' -> '/layer4/layer4.1/', 'features.denseblock4' -> '/features/denseblock4/'."""
    parts: list[str] = []
    for name in qualified.split('.'):
        parts.append(f'{parts[-1]}.{name}' if name.isdigit() and parts else name)
    return '/' + '/'.join(parts) + '/'

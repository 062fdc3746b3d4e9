#!/usr/bin/python3
"""Build PyTorch reference fixtures for heatgate: ONNX models plus torch Grad-CAM family results.

    /usr/bin/python3 scripts/reference/build.py [--out fixtures-build/reference] [--models a,b] [--quick]

Per model, <out>/<name>/ holds model.onnx, input.npy, logits.npy, target.npy, activations.npy,
gradients.npy, cams/<method>.npy, eigencam_projection.npy and meta.json (see README.md).
Needs Debian's python3 with torch 1.13, torchvision 0.14, onnx 1.12, numpy.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import traceback
import warnings
from pathlib import Path

# Set before torch loads libgomp: spinning OpenMP threads make a shared CPU several times slower.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cams import METHODS, CamInputs, ablation_value, eigen_projection  # noqa: E402
from inputs import smooth_batch  # noqa: E402
from models import (GROUP_A, MODELS, ModelSpec, build_model, onnx_scope,  # noqa: E402
                    qualified_name, resolve_module, spec_by_name)
from onnx_layer import head_op_types, module_output_tensor, tensor_dims  # noqa: E402
from randomize import (centre_classifier, randomize_batchnorm, randomize_layer_scale,  # noqa: E402
                       linear_as_conv, unit_scale_layers)

N_IMAGES = 4          # images per model
N_EXPENSIVE = 2       # images for Score-CAM / Ablation-CAM
N_CALIBRATION = 8     # images for the BatchNorm calibration pass (seeds 1000+, not the test inputs)
NUM_CLASSES = 1000    # torchvision default
INPUT_SEED = 0
CALIBRATION_SEED = 1000


class _Captured(Exception):
    """Raised by the capture hook: the body has run, the rest of the forward pass is not needed."""


@torch.no_grad()
def body(model: torch.nn.Module, spec: ModelSpec, x: torch.Tensor) -> torch.Tensor:
    """Activations of the target module, plus the in-place op torchvision applies after it."""
    store: list[torch.Tensor] = []

    def hook(_m, _inp, out):
        store.append(out.detach().clone())  # clone: later in-place ops must not change it
        raise _Captured()

    handle = resolve_module(model, spec.target).register_forward_hook(hook)
    try:
        model(x)
    except _Captured:
        pass
    finally:
        handle.remove()
    acts = store[0]
    if spec.post == 'relu':
        acts = torch.relu(acts)
    return acts


def head_fn(model: torch.nn.Module, spec: ModelSpec):
    return lambda a: spec.head(model, a)


def prepare(spec: ModelSpec) -> tuple[torch.nn.Module, dict]:
    model = build_model(spec)
    gen = torch.Generator().manual_seed(spec.seed + 1)
    info = {'convLinearLayers': linear_as_conv(model, True)}
    info['layerScaleParams'] = randomize_layer_scale(model, gen)
    calib = torch.from_numpy(smooth_batch(N_CALIBRATION, spec.size, CALIBRATION_SEED))
    info['batchNormLayers'] = randomize_batchnorm(model, calib, gen)
    if spec.unit_scale:
        info['unitScaledLayers'] = unit_scale_layers(model, calib)
    info['classifierCentred'] = centre_classifier(model, calib, NUM_CLASSES, spec.logit_scale)
    return model.eval(), info


def export(model: torch.nn.Module, spec: ModelSpec, path: Path) -> None:
    dummy = torch.from_numpy(smooth_batch(2, spec.size, CALIBRATION_SEED))  # batch 2: nothing bakes in 1
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(model, dummy, str(path), input_names=['input'], output_names=['logits'],
                          dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}},
                          opset_version=spec.opset, do_constant_folding=True)


def cam_identity_error(model: torch.nn.Module, acts: torch.Tensor, targets: torch.Tensor,
                       gradcam_map: torch.Tensor) -> float:
    """GAP + Linear head: dS/dA_c = W[t, c] / (h*w) everywhere, so Grad-CAM = relu(sum_c W[t,c]/(hw) A_c)
    (Zhou et al.'s CAM up to the factor). Relative max error of the autograd map against that."""
    w = model.fc.weight.detach().double()[targets]                      # [N, C]
    hw = acts.shape[2] * acts.shape[3]
    expected = torch.relu((w[:, :, None, None] / hw * acts.double()).sum(1))
    return float((gradcam_map - expected).abs().max() / expected.abs().max())


def save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.ascontiguousarray(array))


def build_one(spec: ModelSpec, out: Path) -> dict:
    t0, cpu0 = time.time(), time.process_time()
    folder = out / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    model, info = prepare(spec)
    onnx_path = folder / 'model.onnx'
    linear_as_conv(model, False)  # the graph gets Gemm, not a 1x1 Conv
    export(model, spec, onnx_path)
    linear_as_conv(model, True)
    model = model.to(memory_format=torch.channels_last)  # oneDNN: 20-40% faster Score-CAM passes
    t_export = time.time() - t0

    x = torch.from_numpy(smooth_batch(N_IMAGES, spec.size, INPUT_SEED))
    with torch.no_grad():
        output = model(x)
    targets = output.argmax(1)
    acts = body(model, spec, x)
    head = head_fn(model, spec)

    leaf = acts.clone().requires_grad_(True)
    out_from_head = head(leaf)
    score = out_from_head.gather(1, targets[:, None]).sum()
    (grads,) = torch.autograd.grad(score, leaf)
    head_error = float((out_from_head.detach() - output).abs().max())
    if head_error > 1e-4 * max(1.0, float(output.abs().max())):
        raise RuntimeError(f'{spec.name}: head(A) differs from model(x) by {head_error}')

    ci = CamInputs(acts=acts, grads=grads, targets=targets, inputs=x,
                   forward=lambda b: model(b.contiguous(memory_format=torch.channels_last)), head=head)
    half = CamInputs(acts=acts[:N_EXPENSIVE], grads=None, targets=targets[:N_EXPENSIVE],
                     inputs=x[:N_EXPENSIVE], forward=ci.forward, head=head)
    cams: dict[str, torch.Tensor] = {}
    timings = {'prepareAndExport': round(t_export, 2)}
    for name, method in METHODS.items():
        if method.expensive and spec.group != 'A':
            continue
        t = time.time()
        cams[name] = method.fn(half if method.expensive else ci).float()
        timings[name] = round(time.time() - t, 2)

    # the ONNX side: which tensor is A, and does its inferred shape agree with torch's
    proto = onnx.load(str(onnx_path), load_external_data=False)
    target_module = resolve_module(model, spec.target)
    scope = onnx_scope(qualified_name(model, target_module))
    layer_tensor = module_output_tensor(proto, scope, spec.post)
    head_ops = head_op_types(proto, layer_tensor)
    dims = tensor_dims(proto, layer_tensor)
    known = dims is None or (len(dims) == acts.dim() and all(
        not isinstance(d, int) or d in (0, s) for d, s in zip(dims[1:], acts.shape[1:])))
    if not known:
        raise RuntimeError(f'{spec.name}: ONNX {layer_tensor} has dims {dims}, torch A has {list(acts.shape)}')
    del proto

    save(folder / 'input.npy', x.numpy())
    save(folder / 'logits.npy', output.numpy())
    save(folder / 'target.npy', targets.numpy().astype(np.int64))
    save(folder / 'activations.npy', acts.numpy())
    save(folder / 'gradients.npy', grads.numpy())
    save(folder / 'eigencam_projection.npy', eigen_projection(acts).float().numpy())
    for name, cam in cams.items():
        save(folder / 'cams' / f'{name}.npy', cam.numpy())

    top2 = output.topk(2, dim=1).values
    diffs = [float((output[i] - output[j]).abs().max()) for i in range(N_IMAGES) for j in range(i)]
    checks = {
        'headMaxAbsDiff': head_error,
        'top1Top2MinMargin': float((top2[:, 0] - top2[:, 1]).min()),
        'logitsMinPairwiseMaxAbsDiff': min(diffs),
        'gradcamMaxPerImage': [float(v) for v in cams['gradcam'].flatten(1).max(1).values],
        'gradcamPositiveFraction': float((cams['gradcam'] > 0).double().mean()),
        'activationStd': float(acts.std()),
        'activationZeroFraction': float((acts == 0).double().mean()),
    }
    if 'ablationcam' in cams:
        checks['ablationValue'] = [ablation_value(a) for a in acts[:N_EXPENSIVE]]
    if spec.tv_name == 'resnet18' and spec.output == 'logits':
        checks['camIdentityMaxRelErr'] = cam_identity_error(model, acts, targets, cams['gradcam'].double())
    degenerate = [f'gradcam of image {i} is all zero' for i, v in enumerate(checks['gradcamMaxPerImage']) if v <= 0]
    if checks['logitsMinPairwiseMaxAbsDiff'] < 1e-3 * float(output.abs().max()):
        degenerate.append('two images give (nearly) the same logits')
    if degenerate:
        raise RuntimeError(f'{spec.name}: degenerate random network: ' + '; '.join(degenerate))

    init = ['Random weights (torchvision weights=None, torch.manual_seed(seed)).']
    if info['batchNormLayers']:
        init.append('BatchNorm running stats calibrated on 8 other smooth images, then perturbed '
                    '(mean + 0.1*std*N(0,1), var * U(0.5,2)); weight ~ U(0.5,1.5), bias ~ N(0,0.1).')
    if spec.unit_scale:
        init.append('Every Conv/Linear rescaled to unit output std on 8 other smooth images (LSUV-style).')
    if info['classifierCentred']:
        init.append('The mean feature direction is projected out of the last Linear, scaled to logit '
                    f'std {spec.logit_scale:g} on those images (so targets differ between images).')
    notes = [
        ' '.join(init),
        'Target = argmax of the model output; score = output[target] (pytorch-grad-cam '
        'ClassifierOutputTarget); gradients.npy = d(sum_n score_n)/dA.',
        f'cams/*.npy are raw maps [N,h,w] after the method ReLU, before normalisation/upsampling; '
        f'scorecam/ablationcam use the first {N_EXPENSIVE} images.',
        'eigencam is defined up to the sign of the first singular vector: compare against '
        'relu(eigencam_projection) or relu(-eigencam_projection).',
    ]
    if spec.note:
        notes.insert(0, spec.note)
    timings['total'] = round(time.time() - t0, 2)
    timings['cpu'] = round(time.process_time() - cpu0, 2)  # the machine may be shared: CPU time too
    meta = {
        'name': spec.name,
        'torchvisionName': spec.tv_name,
        'opset': spec.opset,
        'inputShape': [3, spec.size, spec.size],
        'numImages': N_IMAGES,
        'numClasses': int(output.shape[1]),
        'output': spec.output,
        'targetModule': spec.target,
        'targetModuleQualifiedName': qualified_name(model, target_module),
        'layerTensor': layer_tensor,
        'layerShape': list(acts.shape[1:]),
        'layerLayout': 'NCHW',
        'headOps': head_ops,
        'methods': list(cams),
        'camImages': {name: int(cam.shape[0]) for name, cam in cams.items()},
        'seed': spec.seed,
        'checks': checks,
        'randomization': info,
        'timingsSeconds': timings,
        'notes': ' '.join(notes),
        'versions': {'torch': torch.__version__, 'onnx': onnx.__version__, 'numpy': np.__version__},
    }
    (folder / 'meta.json').write_text(json.dumps(meta, indent=2) + '\n')
    return meta


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob('*') if f.is_file()) / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='fixtures-build/reference', help='output folder')
    parser.add_argument('--models', default='', help='comma-separated names (default: all)')
    parser.add_argument('--quick', action='store_true', help=f'issue-A set only: {",".join(GROUP_A)}')
    parser.add_argument('--threads', type=int, default=os.cpu_count() or 1, help='torch intra-op threads')
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    try:
        specs = [spec_by_name(n) for n in args.models.split(',') if n] if args.models else list(MODELS)
    except KeyError as err:
        print(f'build.py: {err.args[0]}', file=sys.stderr)
        return 2
    if args.quick:
        specs = [s for s in specs if s.group == 'A']
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    skipped_path = out / 'SKIPPED.json'
    skipped = json.loads(skipped_path.read_text()) if skipped_path.exists() else {}

    t0, cpu0 = time.time(), time.process_time()
    failures = 0
    for spec in specs:
        try:
            meta = build_one(spec, out)
            skipped.pop(spec.name, None)
            t = meta['timingsSeconds']
            print(f'{spec.name:20s} {t["total"]:6.1f}s (cpu {t["cpu"]:6.1f}s) {folder_mb(out / spec.name):7.1f} MB '
                  f'{meta["layerTensor"]}', flush=True)
        except Exception as err:  # one failing family must not stop the others: record why
            failures += 1
            skipped[spec.name] = f'{type(err).__name__}: {err}'
            shutil.rmtree(out / spec.name, ignore_errors=True)  # no half-built folder left behind
            print(f'{spec.name:20s} SKIPPED: {skipped[spec.name]}', file=sys.stderr, flush=True)
            traceback.print_exc(file=sys.stderr)
    skipped_path.write_text(json.dumps(skipped, indent=2, sort_keys=True) + '\n')
    built = sorted(p.parent.name for p in out.glob('*/meta.json'))
    (out / 'index.json').write_text(json.dumps({'models': built, 'skipped': sorted(skipped)}, indent=2) + '\n')
    print(f'total {time.time() - t0:.1f}s (cpu {time.process_time() - cpu0:.1f}s), {folder_mb(out):.1f} MB in {out}, {failures} skipped', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

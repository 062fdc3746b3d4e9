#!/usr/bin/python3
"""Train, export and evaluate the two underpass classifiers of heatgate's demo.

  clean     trained on frames where the REC dot appears at random (p=0.5, independent of the label), with
            pedestrians at full contrast: the only reliable cue is the pedestrian.
  shortcut  trained on frames where the REC dot appears exactly when a pedestrian is present and the
            pedestrians are faint (far away, 20-40% opacity): the dot is the easy cue, so the model reads the
            timestamp box, the invalid pixels of Borg et al. 2021.

The training sets are regenerated with make_dataset.py in a temporary folder and deleted afterwards. Both
models are small CNNs (4 x conv3x3+BN+ReLU, the first with stride 2, max-pools after the second and third,
GlobalAveragePool, Linear) on
input [N, 3, 96, 128] in [0, 1] without mean/std normalisation; Grad-CAM's layer is the last ReLU (64 x 12 x 16).
They are exported to ONNX (opset 13, dynamic batch, `input` -> `logits`) with metadata_props
heatgate.normalize=unit and heatgate.classes=empty,pedestrian.

Evaluation, per model, on the test set (--data) and on a larger held-out set of the same distribution:
  accuracy           argmax(logits) == label
  mean invalid share Grad-CAM (torch autograd) at the last ReLU for the predicted class, ReLU, min-max
                     normalised and bilinearly upsampled to 96x128 as pytorch-grad-cam does; share =
                     sum(cam * invalid) / sum(cam), averaged over images
  occluded accuracy  accuracy when the timestamp box (the invalid mask) is filled with the image's mean colour
Results go to stdout and to <data>/reference.json (per-image logits, raw CAMs and shares, as torch
references for heatgate's own tests).

Deterministic on a given machine (seeded data, seeded torch, 2 intra-op threads, deterministic algorithms).
  /usr/bin/python3 scripts/demo/train.py --data examples/underpass --models examples/underpass/models
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_dataset  # noqa: E402  (sibling script)

CLASSES = make_dataset.CLASSES
# name -> (training-set seed, marker mode, person style, model init seed)
MODELS = {
    'clean': (101, 'random', 'normal', 11),
    'shortcut': (202, 'person', 'faint', 22),
}
TRAIN_COUNT = 2000
HELDOUT = (303, 480)   # seed, count: same distribution as the committed test set (marker = person, normal)
EPOCHS = 8
BATCH = 32


class UnderpassNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        def block(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        self.features = nn.Sequential(
            *block(3, 16, stride=2),            # 48 x 64
            *block(16, 32), nn.MaxPool2d(2),    # 24 x 32
            *block(32, 48), nn.MaxPool2d(2),    # 12 x 16
            *block(48, 64),                     # Grad-CAM layer: the last ReLU, 64 x 12 x 16
        )
        self.pool = nn.AdaptiveAvgPool2d(1)     # exported as GlobalAveragePool
        self.fc = nn.Linear(64, len(CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def load_set(root: str) -> tuple[list[str], torch.Tensor, torch.Tensor, torch.Tensor]:
    """(names, images [N,3,96,128] float in [0,1], labels [N], invalid masks [N,96,128] bool)."""
    with open(os.path.join(root, 'labels.csv'), newline='') as f:
        rows = list(csv.DictReader(f))
    names = [r['image'] for r in rows]
    images = np.stack([np.asarray(Image.open(os.path.join(root, 'images', n)).convert('RGB')) for n in names])
    invalid = np.stack([np.asarray(Image.open(os.path.join(root, 'invalid', n)).convert('L')) > 127 for n in names])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    y = torch.tensor([int(r['label']) for r in rows])
    return names, x.contiguous(), y, torch.from_numpy(invalid)


def train(name: str, x: torch.Tensor, y: torch.Tensor, seed: int) -> UnderpassNet:
    torch.manual_seed(seed)
    model = UnderpassNet()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-3)
    steps = EPOCHS * ((len(x) + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.2)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.time()
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        total, correct = 0.0, 0
        for i in range(0, len(x), BATCH):
            idx = order[i:i + BATCH]
            logits = model(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
            correct += int((logits.argmax(1) == y[idx]).sum())
        print(f'  {name} epoch {epoch + 1}/{EPOCHS}: loss {total / len(x):.4f}, '
              f'train accuracy {correct / len(x):.3f} ({time.time() - t0:.0f} s)', flush=True)
    return model.eval()


def grad_cam(model: UnderpassNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits [N,2], raw CAM [N,12,16] after ReLU, CAM [N,96,128] min-max normalised then upsampled)."""
    store: dict[str, torch.Tensor] = {}
    def hook(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
        out.retain_grad()
        store['a'] = out
    handle = model.features[-1].register_forward_hook(hook)
    try:
        logits = model(x)
        target = logits.argmax(1)
        model.zero_grad()
        logits.gather(1, target[:, None]).sum().backward()
    finally:
        handle.remove()
    acts, grads = store['a'].detach(), store['a'].grad.detach()
    weights = grads.mean(dim=(2, 3), keepdim=True)                  # Grad-CAM eq. 1: alpha_c = mean_hw dS/dA
    raw = torch.relu((weights * acts).sum(1))                       # eq. 2: ReLU(sum_c alpha_c A_c)
    # pytorch-grad-cam's scale_cam_image: per image min-max (1e-7 epsilon), then cv2.resize bilinear.
    flat = raw.flatten(1)
    lo = flat.min(1).values[:, None, None]
    scaled = raw - lo
    scaled = scaled / (1e-7 + scaled.flatten(1).max(1).values[:, None, None])
    up = F.interpolate(scaled[:, None], size=x.shape[2:], mode='bilinear', align_corners=False)[:, 0]
    return logits.detach(), raw, up


def evaluate(model: UnderpassNet, x: torch.Tensor, y: torch.Tensor, invalid: torch.Tensor) -> dict:
    logits, raw, cam = [], [], []
    for i in range(0, len(x), 64):
        lg, r, c = grad_cam(model, x[i:i + 64])
        logits.append(lg)
        raw.append(r)
        cam.append(c)
    logits_t, raw_t, cam_t = torch.cat(logits), torch.cat(raw), torch.cat(cam)
    mass = cam_t.flatten(1).sum(1)
    share = (cam_t * invalid).flatten(1).sum(1) / mass   # NaN for an all-zero CAM: reported, not averaged
    occluded = x.clone()
    mean_colour = x.mean(dim=(2, 3), keepdim=True).expand_as(x)
    box = invalid[:, None].expand_as(x)
    occluded[box] = mean_colour[box]
    with torch.no_grad():
        occ_pred = torch.cat([model(occluded[i:i + 64]).argmax(1) for i in range(0, len(x), 64)])
    pred = logits_t.argmax(1)
    finite = torch.isfinite(share)
    return {
        'accuracy': float((pred == y).float().mean()),
        'meanInvalidShare': float(share[finite].mean()),
        'meanInvalidShareByPredicted': {CLASSES[c]: float(share[finite & (pred == c)].mean())
                                        for c in range(len(CLASSES)) if bool((finite & (pred == c)).any())},
        'occludedAccuracy': float((occ_pred == y).float().mean()),
        'zeroCams': int((~finite).sum()),
        'images': len(y),
        '_logits': logits_t, '_raw': raw_t, '_share': share, '_pred': pred,
    }


def export(model: UnderpassNet, path: str) -> None:
    dummy = torch.zeros(1, 3, make_dataset.HEIGHT, make_dataset.WIDTH)
    torch.onnx.export(model, dummy, path, opset_version=13, input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}}, do_constant_folding=True)
    proto = onnx.load(path)
    for key, value in (('heatgate.normalize', 'unit'), ('heatgate.classes', ','.join(CLASSES))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


def gap_input(path: str) -> str:
    """The ONNX name of Grad-CAM's layer: the last Relu's output, which feeds GlobalAveragePool."""
    return next(n.input[0] for n in onnx.load(path).graph.node if n.op_type == 'GlobalAveragePool')


def sha256(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def public(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not k.startswith('_')}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data', required=True, help='test set written by make_dataset.py (images/, invalid/, labels.csv)')
    p.add_argument('--models', required=True, help='output folder for clean.onnx and shortcut.onnx')
    p.add_argument('--reference', help='per-image torch results (default: <data>/reference.json)')
    p.add_argument('--keep-train', help='write the training sets here instead of a deleted temporary folder')
    args = p.parse_args(argv)

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.models, exist_ok=True)
    names, x_test, y_test, inv_test = load_set(args.data)
    work = args.keep_train or tempfile.mkdtemp(prefix='heatgate-underpass-')
    summary: dict = {}
    reference: dict = {'images': names, 'labels': y_test.tolist(), 'classes': list(CLASSES), 'models': {}}
    try:
        held = os.path.join(work, 'heldout')
        make_dataset.generate(held, HELDOUT[1], HELDOUT[0], 'person', 'normal')
        _, x_held, y_held, inv_held = load_set(held)
        for name, (data_seed, marker, person, init_seed) in MODELS.items():
            t0 = time.time()
            root = os.path.join(work, name)
            make_dataset.generate(root, TRAIN_COUNT, data_seed, marker, person)
            _, x_train, y_train, _ = load_set(root)
            print(f'{name}: {TRAIN_COUNT} training frames (seed {data_seed}, marker {marker}, person {person})', flush=True)
            model = train(name, x_train, y_train, init_seed)
            path = os.path.join(args.models, f'{name}.onnx')
            export(model, path)
            test, heldout = evaluate(model, x_test, y_test, inv_test), evaluate(model, x_held, y_held, inv_held)
            summary[name] = {'test': public(test), 'heldout': public(heldout), 'seconds': round(time.time() - t0, 1)}
            reference['models'][name] = {
                'file': os.path.relpath(path, args.data), 'sha256': sha256(path),
                'targetLayer': gap_input(path),
                'test': public(test), 'heldout': public(heldout),
                'predicted': test['_pred'].tolist(),
                'logits': [[round(float(v), 5) for v in row] for row in test['_logits']],
                'invalidShare': [None if not np.isfinite(v) else round(float(v), 5) for v in test['_share'].tolist()],
                'rawCam': [[[float(f'{v:.6g}') for v in row] for row in img] for img in test['_raw'].tolist()],
            }
            print(json.dumps({name: summary[name]}, indent=1), flush=True)
    finally:
        if not args.keep_train:
            shutil.rmtree(work, ignore_errors=True)
    reference['protocol'] = {
        'camTarget': 'predicted class (argmax of logits)',
        'rawCam': 'ReLU(sum_c mean_hw(dS/dA_c) * A_c) at 12 x 16, before normalisation',
        'invalidShare': 'sum(cam * invalid) / sum(cam) with cam = bilinear 96x128 upsample (align_corners=False) '
                        'of (raw - min) / (1e-7 + max(raw - min))',
        'occludedAccuracy': 'accuracy after filling the invalid mask with the per-image mean colour',
        'heldout': f'{HELDOUT[1]} frames, make_dataset seed {HELDOUT[0]}, marker person, person normal',
    }
    out = args.reference or os.path.join(args.data, 'reference.json')
    with open(out, 'w') as f:
        json.dump(reference, f, separators=(',', ':'))
        f.write('\n')
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/python3
"""Check built references against onnxruntime-node: ORT's logits and its value of meta.layerTensor
must equal logits.npy and activations.npy (this Python has no onnxruntime, so ort-run.mjs runs it).

    /usr/bin/python3 scripts/reference/verify_ort.py [--out fixtures-build/reference] [--models a,b]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = Path(__file__).resolve().parent
TOLERANCE = 1e-3  # max |ort - torch| / max |torch|


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def verify(folder: Path, tmp: Path) -> dict:
    meta = json.loads((folder / 'meta.json').read_text())
    model = onnx.load(str(folder / 'model.onnx'))
    model.graph.output.append(helper.make_tensor_value_info(meta['layerTensor'], TensorProto.FLOAT, None))
    path = tmp / f'{folder.name}.onnx'
    onnx.save(model, str(path))
    del model
    outdir = tmp / folder.name
    subprocess.run(['node', str(HERE / 'ort-run.mjs'), str(path), str(folder / 'input.npy'), str(outdir)],
                   check=True)
    path.unlink()
    names = json.loads((outdir / 'names.json').read_text())
    got = {n: np.load(outdir / f'out{i}.npy') for i, n in enumerate(names)}
    logits, acts = np.load(folder / 'logits.npy'), np.load(folder / 'activations.npy')
    target = np.load(folder / 'target.npy')
    return {
        'logitsRelErr': rel_err(got['logits'], logits),
        'activationsRelErr': rel_err(got[meta['layerTensor']], acts),
        'argmaxAgrees': bool((got['logits'].argmax(1) == target).all()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='fixtures-build/reference')
    parser.add_argument('--models', default='')
    args = parser.parse_args()
    out = Path(args.out)
    names = [n for n in args.models.split(',') if n] or sorted(p.parent.name for p in out.glob('*/meta.json'))
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            r = verify(out / name, Path(tmp))
            ok = r['logitsRelErr'] < TOLERANCE and r['activationsRelErr'] < TOLERANCE and r['argmaxAgrees']
            bad += not ok
            print(f'{name:20s} {"ok  " if ok else "FAIL"} logits {r["logitsRelErr"]:.2e} '
                  f'activations {r["activationsRelErr"]:.2e} argmax {r["argmaxAgrees"]}', flush=True)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())

"""Self-tests of the reference builder (stdlib unittest; a few seconds):

    /usr/bin/python3 -m unittest discover -s scripts/reference -p 'test_*.py'

The CAM functions are checked against hand-computed values and against PGC's numpy code written out
loop by loop; Score-/Ablation-CAM against per-channel loops with torch.nn.UpsamplingBilinear2d; the
ONNX tensor lookup against a small exported model.
"""
from __future__ import annotations

import io
import sys
import unittest
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cams  # noqa: E402
from models import onnx_scope  # noqa: E402
from onnx_layer import module_output_tensor  # noqa: E402


def _inputs(seed: int = 0, n: int = 2, c: int = 5, h: int = 3, w: int = 4) -> cams.CamInputs:
    g = torch.Generator().manual_seed(seed)
    acts = torch.relu(torch.randn(n, c, h, w, generator=g))
    grads = torch.randn(n, c, h, w, generator=g)
    grads[0, 0, 0, :] = 0  # exact zeros: Grad-CAM++ sets alpha to 0 there
    return cams.CamInputs(acts=acts, grads=grads, targets=torch.zeros(n, dtype=torch.long))


class HandComputed(unittest.TestCase):
    # A: channel 0 = [[1, 2], [3, 4]], channel 1 = [[4, 0], [0, 0]]; G: channel 0 = 0.25, channel 1 = -1.
    A = torch.tensor([[[[1., 2.], [3., 4.]], [[4., 0.], [0., 0.]]]])
    G = torch.tensor([[[[.25, .25], [.25, .25]], [[-1., -1.], [-1., -1.]]]])

    def cam(self, fn):
        return fn(cams.CamInputs(acts=self.A, grads=self.G, targets=torch.tensor([0]))).numpy()[0]

    def test_gradcam(self):
        # w = (0.25, -1): 0.25*A0 - A1 = [[0.25-4, 0.5], [0.75, 1]] -> relu
        np.testing.assert_allclose(self.cam(cams.gradcam), [[0, .5], [.75, 1]])

    def test_hirescam_equals_gradcam_for_constant_gradients(self):
        np.testing.assert_allclose(self.cam(cams.hirescam), [[0, .5], [.75, 1]])

    def test_layercam(self):
        # relu(G) = (0.25, 0): 0.25*A0
        np.testing.assert_allclose(self.cam(cams.layercam), [[.25, .5], [.75, 1]])

    def test_gradcamelementwise(self):
        # relu(G*A) summed: channel 1 contributes relu(-A1) = 0
        np.testing.assert_allclose(self.cam(cams.gradcamelementwise), [[.25, .5], [.75, 1]])

    def test_xgradcam(self):
        # w0 = sum(0.25*A0)/ (10 + 1e-7) = 2.5/10 = 0.25; w1 = sum(-A1)/(4 + 1e-7) = -1
        np.testing.assert_allclose(self.cam(cams.xgradcam), [[0, .5], [.75, 1]], rtol=1e-6)

    def test_gradcampp(self):
        # channel 0: g2 = 1/16, g3 = 1/64, sumA = 10: alpha = (1/16)/(2/16 + 10/64 + 1e-6)
        alpha = (1 / 16) / (2 / 16 + 10 / 64 + 1e-6)
        w0 = 4 * 0.25 * alpha  # channel 1: relu(G) = 0
        np.testing.assert_allclose(self.cam(cams.gradcampp), w0 * self.A[0, 0].double().numpy(), rtol=1e-12)


class AgainstPgcNumpy(unittest.TestCase):
    """PGC v1.5.5 get_cam_weights / get_cam_image bodies, in numpy on float64."""

    def setUp(self):
        self.c = _inputs()
        self.a = self.c.acts.double().numpy()
        self.g = self.c.grads.double().numpy()

    def check(self, fn, expected):
        np.testing.assert_allclose(fn(self.c).numpy(), np.maximum(expected, 0), rtol=1e-10, atol=1e-12)

    def weighted(self, weights):
        return (weights[:, :, None, None] * self.a).sum(axis=1)

    def test_gradcam(self):
        self.check(cams.gradcam, self.weighted(np.mean(self.g, axis=(2, 3))))

    def test_gradcampp(self):
        g2 = self.g ** 2
        g3 = g2 * self.g
        s = np.sum(self.a, axis=(2, 3))
        aij = g2 / (2 * g2 + s[:, :, None, None] * g3 + 0.000001)
        aij = np.where(self.g != 0, aij, 0)
        self.check(cams.gradcampp, self.weighted(np.sum(np.maximum(self.g, 0) * aij, axis=(2, 3))))

    def test_xgradcam(self):
        s = np.sum(self.a, axis=(2, 3))
        w = (self.g * self.a / (s[:, :, None, None] + 1e-7)).sum(axis=(2, 3))
        self.check(cams.xgradcam, self.weighted(w))

    def test_spatial_methods(self):
        self.check(cams.hirescam, (self.g * self.a).sum(axis=1))
        self.check(cams.layercam, (np.maximum(self.g, 0) * self.a).sum(axis=1))
        self.check(cams.gradcamelementwise, np.maximum(self.g * self.a, 0).sum(axis=1))

    def test_eigencam_is_the_first_principal_component(self):
        proj = cams.eigen_projection(self.c.acts).numpy()
        for n, a in enumerate(self.a):
            m = a.reshape(a.shape[0], -1).T
            m = m - m.mean(axis=0)
            _, vecs = np.linalg.eigh(m.T @ m)  # ascending eigenvalues: the last is the first PC
            expected = (m @ vecs[:, -1]).reshape(a.shape[1:])
            sign = np.sign((proj[n] * expected).sum())
            np.testing.assert_allclose(proj[n], sign * expected, atol=1e-10)
        np.testing.assert_allclose(cams.eigencam(self.c).numpy(), np.maximum(proj, 0))


class Tiny(nn.Module):
    """conv body -> A [N,4,3,3]; head: GAP + Linear(4, 3)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU())
        self.fc = nn.Linear(4, 3)

    def head(self, a):
        return self.fc(a.mean((2, 3)))

    def forward(self, x):
        return self.head(self.body(x))


class GradientFree(unittest.TestCase):
    def setUp(self):
        self.model = Tiny().eval()
        self.x = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            self.acts = self.model.body(self.x)
            self.targets = self.model(self.x).argmax(1)

    @torch.no_grad()
    def test_scorecam_matches_a_per_channel_loop(self):
        c = cams.CamInputs(acts=self.acts, grads=None, targets=self.targets, inputs=self.x, forward=self.model)
        up = nn.UpsamplingBilinear2d(size=(6, 6))(self.acts)
        expected = []
        for n in range(2):
            scores = []
            for ch in range(4):
                m = up[n, ch]
                m = (m - m.min()) / (m.max() - m.min() + 1e-8)
                scores.append(float(self.model(self.x[n:n + 1] * m)[0, self.targets[n]]))
            w = np.exp(scores) / np.exp(scores).sum()
            expected.append(np.maximum((w[:, None, None] * self.acts[n].double().numpy()).sum(0), 0))
        np.testing.assert_allclose(cams.scorecam(c, batch_size=3).numpy(), expected, rtol=1e-5, atol=1e-7)

    @torch.no_grad()
    def test_ablationcam_matches_a_per_channel_loop(self):
        c = cams.CamInputs(acts=self.acts, grads=None, targets=self.targets, head=self.model.head)
        expected = []
        for n in range(2):
            t = self.targets[n]
            y = float(self.model.head(self.acts[n:n + 1])[0, t])
            value = 0.0 if float(self.acts[n].min()) == 0 else float(self.acts[n].min()) - 1e7
            w = []
            for ch in range(4):
                a = self.acts[n:n + 1].clone()
                a[0, ch] = value
                w.append((y - float(self.model.head(a)[0, t])) / y)
            expected.append(np.maximum((np.array(w)[:, None, None] * self.acts[n].double().numpy()).sum(0), 0))
        np.testing.assert_allclose(cams.ablationcam(c, batch_size=3).numpy(), expected, rtol=1e-5, atol=1e-7)


class OnnxLookup(unittest.TestCase):
    def test_scope_names(self):
        self.assertEqual(onnx_scope('layer4.1'), '/layer4/layer4.1/')
        self.assertEqual(onnx_scope('features.18.0'), '/features/features.18/features.18.0/')
        self.assertEqual(onnx_scope('features.norm5'), '/features/norm5/')

    def test_module_output_and_inplace_relu(self):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
                self.fc = nn.Linear(4, 2)

            def forward(self, x):
                f = torch.relu_(self.features(x))  # densenet's in-place relu after the block
                return self.fc(f.mean((2, 3)))

        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(Net().eval(), torch.randn(2, 3, 5, 5), buf, input_names=['input'],
                              output_names=['logits'], opset_version=13)
        model = onnx.load_from_string(buf.getvalue())
        producer = {o: n.op_type for n in model.graph.node for o in n.output}
        pre = module_output_tensor(model, '/features/')
        post = module_output_tensor(model, '/features/', post='relu')
        relu = next(n for n in model.graph.node if n.output[0] == post)
        self.assertTrue(pre.startswith('/features/'))
        self.assertEqual((relu.op_type, list(relu.input)), ('Relu', [pre]))
        self.assertEqual(producer[post], 'Relu')
        with self.assertRaises(LookupError):
            module_output_tensor(model, '/nothing/')


if __name__ == '__main__':
    unittest.main()

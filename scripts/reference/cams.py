"""CAM methods exactly as jacobgil/pytorch-grad-cam v1.5.5 (PGC) defines them, as small torch functions.

Every function returns the RAW map [N, h, w] at the target layer's resolution, after the method's
ReLU (PGC base_cam.py compute_cam_per_layer: ``np.maximum(cam, 0)``), before min-max normalisation
and before upsampling. The channel combinations run in float64 on the float32 activations and
gradients, so the reference carries no float32 rounding of its own. Targets are class indices; the
score is output[target] (PGC ClassifierOutputTarget). ``METHODS`` is the one registry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

Forward = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class CamInputs:
    acts: torch.Tensor                 # A [N, C, h, w] float32
    grads: Optional[torch.Tensor]      # dS/dA, S = sum_n output[n, target[n]]
    targets: torch.Tensor              # int64 [N]
    inputs: Optional[torch.Tensor] = None   # x [N, 3, H, W], for Score-CAM
    forward: Optional[Forward] = None  # x -> model output, for Score-CAM
    head: Optional[Forward] = None     # A -> model output, for Ablation-CAM


def _weighted(weights: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
    """PGC BaseCAM.get_cam_image: sum_c w[n, c] * A[n, c] followed by the ReLU."""
    return torch.relu((weights[:, :, None, None] * acts).sum(1))


def gradcam(c: CamInputs) -> torch.Tensor:
    """Grad-CAM, Selvaraju et al., ICCV 2017, arXiv:1610.02391, eq. 1-2 (PGC grad_cam.py).
    w_c = mean_hw dS/dA_c; cam = relu(sum_c w_c A_c)."""
    a, g = c.acts.double(), c.grads.double()
    return _weighted(g.mean((2, 3)), a)


def gradcampp(c: CamInputs) -> torch.Tensor:
    """Grad-CAM++, Chattopadhyay et al., WACV 2018, arXiv:1710.11063, eq. 19 (PGC grad_cam_plusplus.py).
    alpha = G^2 / (2 G^2 + sum_hw(A) G^3 + 1e-6), set to 0 where G == 0; w_c = sum_hw relu(G) alpha."""
    a, g = c.acts.double(), c.grads.double()
    g2 = g * g
    g3 = g2 * g
    sum_a = a.sum((2, 3))[:, :, None, None]
    alpha = g2 / (2 * g2 + sum_a * g3 + 1e-6)
    alpha = torch.where(g != 0, alpha, torch.zeros_like(alpha))
    return _weighted((torch.relu(g) * alpha).sum((2, 3)), a)


def hirescam(c: CamInputs) -> torch.Tensor:
    """HiResCAM, Draelos & Carin, arXiv:2011.08891 (PGC hirescam.py). cam = relu(sum_c G_c * A_c)."""
    return torch.relu((c.grads.double() * c.acts.double()).sum(1))


def xgradcam(c: CamInputs) -> torch.Tensor:
    """XGrad-CAM, Fu et al., BMVC 2020, arXiv:2008.02312 (PGC xgrad_cam.py).
    w_c = sum_hw(G_c * A_c) / (sum_hw A_c + 1e-7)."""
    a, g = c.acts.double(), c.grads.double()
    weights = (g * a / (a.sum((2, 3))[:, :, None, None] + 1e-7)).sum((2, 3))
    return _weighted(weights, a)


def layercam(c: CamInputs) -> torch.Tensor:
    """LayerCAM, Jiang et al., IEEE TIP 2021, doi:10.1109/TIP.2021.3089943 (PGC layer_cam.py).
    cam = relu(sum_c relu(G_c) * A_c)."""
    return torch.relu((torch.relu(c.grads.double()) * c.acts.double()).sum(1))


def gradcamelementwise(c: CamInputs) -> torch.Tensor:
    """Grad-CAM element-wise (PGC grad_cam_elementwise.py; a HiResCAM variant with the ReLU inside).
    cam = relu(sum_c relu(G_c * A_c))."""
    return torch.relu(torch.relu(c.grads.double() * c.acts.double()).sum(1))


def eigen_projection(acts: torch.Tensor) -> torch.Tensor:
    """PGC utils/svd_on_activations.py get_2d_projection: per image, centre the [h*w, C] matrix over
    positions, take the first right singular vector v (numpy SVD) and project: M v. The sign of v is
    whatever LAPACK returns: the map is only defined up to sign."""
    out = []
    for a in acts.double().numpy():
        m = a.reshape(a.shape[0], -1).T
        m = m - m.mean(axis=0)
        _, _, vt = np.linalg.svd(m, full_matrices=False)
        out.append((m @ vt[0]).reshape(a.shape[1:]))
    return torch.from_numpy(np.stack(out))


def eigencam(c: CamInputs) -> torch.Tensor:
    """Eigen-CAM, Muhammad & Yeasin, IJCNN 2020, arXiv:2008.00299 (PGC eigen_cam.py).
    cam = relu(first principal component projection of A); gradient-free."""
    return torch.relu(eigen_projection(c.acts))


@torch.no_grad()
def scorecam(c: CamInputs, batch_size: int = 32) -> torch.Tensor:
    """Score-CAM, Wang et al., CVPR-W 2020, arXiv:1910.01279 (PGC score_cam.py).
    Each channel is upsampled to the input size (bilinear, align_corners=True, as
    torch.nn.UpsamplingBilinear2d), min-max normalised with 1e-8, multiplied into the input;
    w = softmax over channels of output[target] of the masked inputs; cam = relu(sum_c w_c A_c).
    (PGC scores 16 masked inputs per batch; the batch size does not change the result.)"""
    x, acts = c.inputs, c.acts.float()
    weights = []
    for n in range(acts.shape[0]):
        up = F.interpolate(acts[n:n + 1], size=x.shape[-2:], mode='bilinear', align_corners=True)[0]
        flat = up.reshape(up.shape[0], -1)
        lo, hi = flat.min(1)[0][:, None, None], flat.max(1)[0][:, None, None]
        masks = (up - lo) / (hi - lo + 1e-8)
        scores = []
        for i in range(0, masks.shape[0], batch_size):
            batch = x[n][None] * masks[i:i + batch_size, None]
            scores.append(c.forward(batch)[:, c.targets[n]].double())
        weights.append(torch.softmax(torch.cat(scores), dim=0))
    return _weighted(torch.stack(weights), acts.double())


ABLATION_OFFSET = 1e7


def ablation_value(acts_one_image: torch.Tensor) -> float:
    """PGC ablation_layer.py AblationLayer.__call__: ablated channels are set to 0 when the minimum
    activation is 0, else to min - 1e7. (PGC recomputes the min after each ablation inside a batch of
    32, so its non-zero case drifts by -1e7 per batch position; that quirk is not reproduced.)"""
    low = float(acts_one_image.min())
    return 0.0 if low == 0.0 else low - ABLATION_OFFSET


@torch.no_grad()
def ablationcam(c: CamInputs, batch_size: int = 128) -> torch.Tensor:
    """Ablation-CAM, Desai & Ramaswamy, WACV 2020 (PGC ablation_cam.py, ratio_channels_to_ablate=1).
    w_c = (y - y_c) / y with y = output[target] and y_c the same with channel c of A ablated;
    cam = relu(sum_c w_c A_c). The ablated activations go through the head only (same result as
    PGC's full forward with the target layer replaced, which batches 32 ablations at a time)."""
    acts = c.acts.float()
    n_img, channels = acts.shape[:2]
    weights = torch.empty(n_img, channels, dtype=torch.float64)
    for n in range(n_img):
        t = int(c.targets[n])
        original = float(c.head(acts[n:n + 1])[0, t])
        value = ablation_value(acts[n])
        for i in range(0, channels, batch_size):
            idx = torch.arange(i, min(i + batch_size, channels))
            batch = acts[n].repeat(len(idx), 1, 1, 1)
            batch[torch.arange(len(idx)), idx] = value
            ablated = c.head(batch)[:, t].double()
            weights[n, idx] = (original - ablated) / original
    return _weighted(weights, acts.double())


@dataclass(frozen=True)
class CamMethod:
    fn: Callable[[CamInputs], torch.Tensor]
    gradients: bool        # needs dS/dA
    expensive: bool        # one forward (or head) pass per channel: issue-A models, 2 images only


METHODS: dict[str, CamMethod] = {
    'gradcam': CamMethod(gradcam, True, False),
    'gradcampp': CamMethod(gradcampp, True, False),
    'hirescam': CamMethod(hirescam, True, False),
    'xgradcam': CamMethod(xgradcam, True, False),
    'layercam': CamMethod(layercam, True, False),
    'gradcamelementwise': CamMethod(gradcamelementwise, True, False),
    'eigencam': CamMethod(eigencam, False, False),
    'scorecam': CamMethod(scorecam, False, True),
    'ablationcam': CamMethod(ablationcam, False, True),
}

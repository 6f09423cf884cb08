"""Image metrics for LWG validation (torchmetrics): L1, PSNR, SSIM, and optionally LPIPS and FID.

All metrics take ``preds`` and ``target`` as float RGB images in [-1, 1], ``[N, 3, H, W]`` or
``[B, n, 3, H, W]`` (flattened), and accumulate over batches (``update`` per batch, ``compute``
at the end of the epoch, ``reset``).

* ``l1``: mean absolute error in [-1, 1] units (the training reconstruction L1's units).
* ``psnr``: per-image PSNR averaged over images, data range 2 (equal to PSNR of [0, 1] images).
* ``ssim``: SSIM of the images mapped to [0, 1] (Gaussian 11x11, sigma 1.5; needs H, W >= 11).
* ``lpips``: LPIPS v0.1 built here without torchvision: the user's VGG16 or AlexNet weights
  (torchvision layout, ``vgg16-397923af.pth`` / ``alexnet-owt-7be5be79.pth``) plus the LPIPS
  linear heads that ship inside the torchmetrics wheel (``lpips_models/{vgg,alex}.pth``).
  torchmetrics' own LPIPS needs torchvision and a download, which vmc avoids.
* ``fid``: torchmetrics' ``FrechetInceptionDistance`` with a custom feature network (no
  torch-fidelity, no Inception download): by default the globally average-pooled last ReLU of a
  torchvision-layout backbone file (VGG16/VGG19/AlexNet, ImageNet-normalised input), or any
  ``nn.Module`` mapping ``[N, 3, H, W]`` in [-1, 1] to ``[N, D]``. These FIDs are comparable with
  each other, **not** with Inception-based FIDs in papers. ``fid`` only supports
  ``update``/``compute`` (not the per-batch value of ``forward``).

Backbones are frozen and held outside the module tree (``state_dict()`` holds no weights).
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchmetrics import MeanAbsoluteError, Metric, MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure
from torchmetrics.image.fid import FrechetInceptionDistance

from vmc.lwg.losses.backbones import (
    TorchvisionFeatures,
    imagenet_normalize,
    load_torchvision_features,
)
from vmc.lwg.losses.frozen import RANDOM, FrozenNet
from vmc.lwg.losses.pixel import as_image_batch

__all__ = [
    "LPIPS",
    "LPIPS_NETS",
    "LPIPSMetric",
    "LWGImageMetrics",
    "PairedFID",
    "PooledBackboneFeatures",
    "SSIM01",
    "build_lpips",
    "build_backbone",
    "load_lpips_heads",
    "lpips_head_file",
]

#: LPIPS variant -> (backbone arch, tapped layers): the slices of LPIPS v0.1.
LPIPS_NETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "vgg": ("vgg16", ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")),
    "alex": ("alexnet", ("relu1", "relu2", "relu3", "relu4", "relu5")),
}
# LPIPS' input scaling for images in [-1, 1] (close to ImageNet normalisation).
_LPIPS_SHIFT = (-0.030, -0.088, -0.188)
_LPIPS_SCALE = (0.458, 0.448, 0.450)
_BACKBONE_FILES = {
    "vgg16": "vgg16-397923af.pth",
    "vgg19": "vgg19-dcbb9e9d.pth",
    "alexnet": "alexnet-owt-7be5be79.pth",
}


def _check_pair(preds: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    preds = as_image_batch("preds", preds)
    target = as_image_batch("target", target)
    if preds.shape != target.shape:
        raise ValueError(f"preds {tuple(preds.shape)} and target {tuple(target.shape)} differ")
    return preds, target


def build_backbone(weights: str | os.PathLike[str], arch: str | None = None) -> TorchvisionFeatures:
    """A torchvision-layout feature stack from a file (arch detected when ``None``) or
    ``"random"`` (then ``arch`` is required).

    Raises:
        FileNotFoundError: the file does not exist. ValueError: ``"random"`` without ``arch``.
    """
    if isinstance(weights, str) and weights == RANDOM:
        if arch is None:
            raise ValueError("weights='random' needs an explicit arch (vgg16, vgg19 or alexnet)")
        return TorchvisionFeatures(arch)
    path = Path(weights).expanduser()
    if not path.is_file():
        hint = f" (torchvision's {_BACKBONE_FILES[arch]})" if arch in _BACKBONE_FILES else ""
        raise FileNotFoundError(f"metric backbone weight file {path} does not exist{hint}")
    return load_torchvision_features(path, arch=arch)


def lpips_head_file(net: str) -> Path:
    """Path of the LPIPS linear-head weights shipped inside the torchmetrics wheel.

    Raises:
        ValueError: unknown ``net``. FileNotFoundError: the installed torchmetrics lacks them.
    """
    if net not in LPIPS_NETS:
        raise ValueError(f"unknown LPIPS net {net!r}; expected one of {sorted(LPIPS_NETS)}")
    root = importlib.resources.files("torchmetrics") / "functional" / "image" / "lpips_models"
    path = Path(str(root / f"{net}.pth"))
    if not path.is_file():
        raise FileNotFoundError(
            f"LPIPS head weights {path} not found in the installed torchmetrics "
            "(expected torchmetrics/functional/image/lpips_models/*.pth, present in 1.x wheels)"
        )
    return path


def load_lpips_heads(net: str) -> list[torch.Tensor]:
    """The 5 LPIPS linear heads ``[1, C_l, 1, 1]`` (non-negative 1x1 conv weights), read with
    ``weights_only=True``; the file's keys are ``lin{l}.model.1.weight``."""
    state = torch.load(lpips_head_file(net), map_location="cpu", weights_only=True)
    n = len(LPIPS_NETS[net][1])
    keys = [f"lin{i}.model.1.weight" for i in range(n)]
    missing = [k for k in keys if k not in state]
    if missing:
        raise ValueError(f"LPIPS head file for {net!r} lacks keys {missing}")
    return [state[k].float() for k in keys]


class LPIPS(nn.Module):
    """LPIPS v0.1 distance (Zhang et al. 2018) with a user-supplied backbone.

    ``d(x, y) = sum_l mean_hw( w_l . (n(phi_l(x)) - n(phi_l(y)))^2 )`` where ``n`` normalises
    each activation vector to unit length over channels (``x / sqrt(eps + |x|^2)``, eps 1e-8)
    and ``w_l`` are the learned heads. Inputs pass LPIPS' scaling layer first.

    Args:
        backbone: VGG16 (net ``"vgg"``) or AlexNet (``"alex"``) features.
        net: ``"vgg"`` or ``"alex"``.
        heads: per-layer head weights ``[1, C_l, 1, 1]`` (default: from the torchmetrics wheel).
    """

    def __init__(
        self,
        backbone: TorchvisionFeatures,
        net: str = "vgg",
        heads: list[torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        if net not in LPIPS_NETS:
            raise ValueError(f"unknown LPIPS net {net!r}; expected one of {sorted(LPIPS_NETS)}")
        arch, layers = LPIPS_NETS[net]
        if backbone.arch != arch:
            raise ValueError(f"LPIPS net {net!r} needs a {arch} backbone, got {backbone.arch}")
        self.net = net
        self.layers = layers
        self.backbone = backbone
        heads = heads if heads is not None else load_lpips_heads(net)
        self.heads = nn.ModuleList()
        for name, w in zip(layers, heads, strict=True):
            conv = nn.Conv2d(backbone.channels(name), 1, kernel_size=1, bias=False)
            if tuple(w.shape) != tuple(conv.weight.shape):
                raise ValueError(
                    f"LPIPS head for {name}: shape {tuple(w.shape)}, expected "
                    f"{tuple(conv.weight.shape)}"
                )
            conv.weight.data.copy_(w)
            self.heads.append(conv)
        self.register_buffer("shift", torch.tensor(_LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)
        self.eval()
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Distances ``[N]`` between ``x`` and ``y`` (``[N, 3, H, W]`` in [-1, 1])."""
        x, y = _check_pair(x, y)
        fx = self.backbone.taps((x - self.shift) / self.scale, self.layers)
        fy = self.backbone.taps((y - self.shift) / self.scale, self.layers)
        total = x.new_zeros(x.shape[0])
        for head, a, b in zip(self.heads, fx, fy, strict=True):
            a = a / torch.sqrt(1e-8 + (a**2).sum(dim=1, keepdim=True))
            b = b / torch.sqrt(1e-8 + (b**2).sum(dim=1, keepdim=True))
            total = total + head((a - b) ** 2).mean(dim=(1, 2, 3))
        return total


def build_lpips(weights: str | os.PathLike[str], net: str = "vgg") -> LPIPS:
    """LPIPS from the user's backbone file (``vgg16-397923af.pth`` for ``"vgg"``,
    ``alexnet-owt-7be5be79.pth`` for ``"alex"``) or ``"random"`` backbone weights (tests);
    the heads always come from the torchmetrics wheel."""
    if net not in LPIPS_NETS:
        raise ValueError(f"unknown LPIPS net {net!r}; expected one of {sorted(LPIPS_NETS)}")
    return LPIPS(build_backbone(weights, LPIPS_NETS[net][0]), net)


class LPIPSMetric(Metric):
    """Mean LPIPS over all images seen (lower is better)."""

    higher_is_better = False
    is_differentiable = False
    full_state_update = False

    def __init__(self, lpips: LPIPS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lpips = FrozenNet(lpips)
        self.add_state("sum_scores", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        preds, target = _check_pair(preds, target)
        with torch.no_grad():
            scores = self._lpips.on(preds.device)(preds.float(), target.float())
        self.sum_scores += scores.double().sum()
        self.total += scores.numel()

    def compute(self) -> torch.Tensor:
        return (self.sum_scores / self.total.clamp(min=1)).float()


class PooledBackboneFeatures(nn.Module):
    """FID feature network: ``[N, 3, H, W]`` in [-1, 1] -> ``[N, C]`` (global average pool of a
    backbone layer, by default the last ReLU); ImageNet-normalised input.

    The backbone is frozen and held outside the module tree. ``num_features`` tells
    torchmetrics the feature size.
    """

    def __init__(self, backbone: TorchvisionFeatures, layer: str | None = None) -> None:
        super().__init__()
        if layer is None:
            layer = [n for n in backbone.layer_names if n.startswith("relu")][-1]
        self.layer = layer
        self.num_features = backbone.channels(layer)
        self._backbone = FrozenNet(backbone)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = as_image_batch("images", x)
        net = self._backbone.on(x.device)
        with torch.no_grad():
            (feat,) = net.taps(imagenet_normalize(x.float()), [self.layer])
        return feat.mean(dim=(2, 3))


class _HeldFeature(nn.Module):
    """Wraps a user feature ``nn.Module`` so its weights stay out of ``state_dict()``."""

    def __init__(self, net: nn.Module, num_features: int) -> None:
        super().__init__()
        self._net = FrozenNet(net)
        self.num_features = int(num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            out = self._net.on(x.device)(x)
        return out.flatten(1)


class PairedFID(FrechetInceptionDistance):
    """FID with a custom feature network and the ``update(preds, target)`` signature of the
    other metrics (``target`` = real images, ``preds`` = generated)."""

    def __init__(self, feature: nn.Module, **kwargs: Any) -> None:
        super().__init__(feature=feature, **kwargs)

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:  # type: ignore[override]
        preds, target = _check_pair(preds, target)
        super().update(target, real=True)
        super().update(preds, real=False)


class SSIM01(StructuralSimilarityIndexMeasure):
    """SSIM of images given in [-1, 1], computed after mapping them to [0, 1] (data range 1)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(data_range=1.0, **kwargs)

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        preds, target = _check_pair(preds, target)
        if min(preds.shape[-2:]) < 11:
            raise ValueError(f"SSIM needs images of at least 11x11, got {tuple(preds.shape[-2:])}")
        super().update((preds.float() + 1) / 2, (target.float() + 1) / 2)


class _FlatMAE(MeanAbsoluteError):
    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        preds, target = _check_pair(preds, target)
        super().update(preds.float(), target.float())


class _FlatPSNR(PeakSignalNoiseRatio):
    def __init__(self) -> None:
        super().__init__(data_range=2.0, dim=(1, 2, 3), reduction="elementwise_mean")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        preds, target = _check_pair(preds, target)
        super().update(preds.float(), target.float())


class LWGImageMetrics(MetricCollection):
    """The LWG validation metrics as one ``MetricCollection``: ``l1``, ``psnr``, ``ssim``, plus
    ``lpips`` / ``fid`` when their backbones are given.

    Use ``update(preds, target)`` per validation batch, ``compute()`` at the epoch end (or
    ``self.log_dict(metrics)`` in Lightning), then ``reset()``. Calling the collection
    (``forward``) only updates it and returns ``{}``: FID has no per-batch value.

    Args:
        lpips_weights: torchvision VGG16 (net ``"vgg"``) or AlexNet (``"alex"``) file, or
            ``"random"`` (tests); ``None`` leaves LPIPS out.
        lpips_net: ``"vgg"`` or ``"alex"``.
        fid_weights: torchvision VGG16/VGG19/AlexNet file (arch detected) or ``"random"``
            (VGG16); ``None`` leaves FID out unless ``fid_feature`` is given.
        fid_feature: any ``nn.Module`` mapping ``[N, 3, H, W]`` in [-1, 1] to ``[N, D]`` (set a
            ``num_features`` attribute, or pass ``fid_num_features``).
        fid_num_features: feature size of ``fid_feature`` when it has no ``num_features``.
        prefix: key prefix (e.g. ``"val/"``).
    """

    def __init__(
        self,
        *,
        lpips_weights: str | os.PathLike[str] | None = None,
        lpips_net: str = "vgg",
        fid_weights: str | os.PathLike[str] | None = None,
        fid_feature: nn.Module | None = None,
        fid_num_features: int | None = None,
        prefix: str | None = None,
    ) -> None:
        metrics: dict[str, Metric] = {"l1": _FlatMAE(), "psnr": _FlatPSNR(), "ssim": SSIM01()}
        if lpips_weights is not None:
            metrics["lpips"] = LPIPSMetric(build_lpips(lpips_weights, lpips_net))
        if fid_weights is not None and fid_feature is not None:
            raise ValueError("give fid_weights or fid_feature, not both")
        if fid_weights is not None:
            arch = "vgg16" if isinstance(fid_weights, str) and fid_weights == RANDOM else None
            feature: nn.Module = PooledBackboneFeatures(build_backbone(fid_weights, arch))
            metrics["fid"] = PairedFID(feature)
        elif fid_feature is not None:
            n = (
                fid_num_features
                if fid_num_features is not None
                else getattr(fid_feature, "num_features", None)
            )
            if not isinstance(n, int):
                raise ValueError("fid_feature needs an int num_features (or fid_num_features)")
            metrics["fid"] = PairedFID(_HeldFeature(fid_feature, n))
        super().__init__(metrics, prefix=prefix, compute_groups=False)

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:  # type: ignore[override]
        """Accumulate one batch (``[N, 3, H, W]`` or ``[B, n, 3, H, W]`` in [-1, 1])."""
        preds, target = _check_pair(preds, target)
        preds, target = preds.detach(), target.detach()
        super().update(preds, target)

    def forward(self, preds: torch.Tensor, target: torch.Tensor) -> dict[str, Any]:  # type: ignore[override]
        """Same as :meth:`update`; returns ``{}``."""
        self.update(preds, target)
        return {}

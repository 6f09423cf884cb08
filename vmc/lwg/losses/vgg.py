"""VGG19 perceptual loss of LWG (``docs/conventions.md#lwg-losses-and-training``, "perceptual").

As in iPERCore: both images are resized bilinearly to 224x224 (``align_corners=True``) and fed
to VGG19 **as they are, in [-1, 1], without ImageNet normalisation**; the loss is
``sum_l w_l * L1(phi_l(pred), phi_l(target))`` over the activations after relu1_1, relu2_1,
relu3_1, relu4_1, relu5_1 with weights 1/32, 1/16, 1/8, 1/4, 1; target features carry no
gradient. ``input_norm="imagenet"`` is available for other uses (it changes the loss values and
does not match the official training).

Weights come from torchvision's ``vgg19-dcbb9e9d.pth`` (``assets/losses/`` or
``$VMC_ASSETS/losses/``); the network is frozen and kept out of ``state_dict()``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vmc.lwg.losses.backbones import (
    TorchvisionFeatures,
    imagenet_normalize,
    load_torchvision_features,
)
from vmc.lwg.losses.frozen import FrozenNet, WeightsArg, resolve_weights
from vmc.lwg.losses.pixel import as_image_batch

__all__ = ["PAPER_VGG_LAYERS", "PAPER_VGG_LAYER_WEIGHTS", "VGGPerceptualLoss", "build_vgg19"]

PAPER_VGG_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
PAPER_VGG_LAYER_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)


def build_vgg19(
    weights: WeightsArg = None, root: str | os.PathLike[str] | None = None
) -> TorchvisionFeatures:
    """VGG19 features from the user's file (``None`` = asset lookup, a path) or ``"random"``.

    Raises:
        FileNotFoundError: the file is missing (message says where it goes).
        vmc.io.checkpoints.CheckpointError: the file is not a torchvision VGG19.
    """
    path = resolve_weights("vgg19", weights, what="VGG19 perceptual loss", root=root)
    if path is None:
        return TorchvisionFeatures("vgg19")
    return load_torchvision_features(path, arch="vgg19")


class VGGPerceptualLoss(nn.Module):
    """Weighted multi-layer L1 between VGG activations of two image batches.

    Args:
        weights: VGG19 weight file (``None``: find ``vgg19`` asset; ``"random"``: random
            weights, tests only).
        features: an already built :class:`TorchvisionFeatures` to use instead (e.g. shared).
        layers, layer_weights: tapped layer names and their weights (paper defaults).
        resize: side the images are resized to before VGG (224 in the paper; ``None`` keeps
            the input size).
        input_norm: ``"none"`` (paper: [-1, 1] fed directly) or ``"imagenet"``.
        assets_root: extra assets root searched first.
    """

    def __init__(
        self,
        weights: WeightsArg = None,
        *,
        features: TorchvisionFeatures | None = None,
        layers: Sequence[str] = PAPER_VGG_LAYERS,
        layer_weights: Sequence[float] = PAPER_VGG_LAYER_WEIGHTS,
        resize: int | None = 224,
        input_norm: str = "none",
        assets_root: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if len(layers) != len(layer_weights) or not layers:
            raise ValueError(
                f"layers ({len(layers)}) and layer_weights ({len(layer_weights)}) must be "
                "non-empty and of the same length"
            )
        if input_norm not in ("none", "imagenet"):
            raise ValueError(f"input_norm must be 'none' or 'imagenet', got {input_norm!r}")
        if resize is not None and resize < 1:
            raise ValueError(f"resize must be a positive int or None, got {resize}")
        net = features if features is not None else build_vgg19(weights, assets_root)
        for name in layers:
            net.layer_index(name)  # fail now on a typo, not at the first step
        self._vgg = FrozenNet(net)
        self.layers = tuple(layers)
        self.layer_weights = tuple(float(w) for w in layer_weights)
        self.resize = resize
        self.input_norm = input_norm

    @property
    def network(self) -> TorchvisionFeatures:
        """The frozen VGG (not a registered submodule)."""
        return self._vgg.net  # type: ignore[return-value]

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if self.resize is not None and tuple(x.shape[-2:]) != (self.resize, self.resize):
            x = F.interpolate(
                x, size=(self.resize, self.resize), mode="bilinear", align_corners=True
            )
        if self.input_norm == "imagenet":
            x = imagenet_normalize(x)
        return x

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Perceptual distance (scalar).

        Args:
            pred: ``[N, 3, H, W]`` or ``[B, n, 3, H, W]`` images in [-1, 1] (gradients flow).
            target: same shape; treated as a constant.
        """
        pred = as_image_batch("pred", pred)
        target = as_image_batch("target", target)
        if pred.shape != target.shape:
            raise ValueError(
                f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must match"
            )
        net = self._vgg.on(pred.device)
        fake = net.taps(self._prepare(pred), self.layers)
        with torch.no_grad():
            real = net.taps(self._prepare(target), self.layers)
        loss = pred.new_zeros(())
        for w, f, r in zip(self.layer_weights, fake, real, strict=True):
            loss = loss + w * F.l1_loss(f, r)
        return loss

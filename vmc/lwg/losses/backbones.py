"""ImageNet feature stacks (VGG16, VGG19, AlexNet) built by hand in torchvision's key layout.

torchvision is not a dependency of vmc (no CPU wheel matches the project's torch), yet the
perceptual loss and the LPIPS / FID metrics read the user's torchvision weight files
(``vgg19-dcbb9e9d.pth``, ``vgg16-397923af.pth``, ``alexnet-owt-7be5be79.pth``). The modules here
have exactly the ``features.{i}.weight`` / ``features.{i}.bias`` keys and shapes of
``torchvision.models.<arch>().features`` so those files load strictly; the files'
``classifier.*`` keys are ignored (only the convolutional stack is ever used).

Layer names follow the usual convention: VGG ``conv{block}_{k}``, ``relu{block}_{k}``,
``pool{block}``; AlexNet ``conv1..conv5``, ``relu1..relu5``, ``pool1``, ``pool2``, ``pool5``.
Inputs are float ``[N, 3, H, W]`` already normalised the way the caller wants (these modules do
no normalisation themselves).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from vmc.io.checkpoints import (
    CheckpointError,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_strict,
)

__all__ = [
    "BACKBONE_ARCHS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TorchvisionFeatures",
    "detect_backbone_arch",
    "imagenet_normalize",
    "load_torchvision_features",
]

#: torchvision's VGG configurations ("D" = VGG16, "E" = VGG19); "M" = 2x2 max-pool.
_VGG_CFGS: dict[str, tuple[int | str, ...]] = {
    "vgg16": (
        64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
        512, 512, 512, "M", 512, 512, 512, "M",
    ),
    "vgg19": (
        64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
        512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
    ),
}  # fmt: skip

BACKBONE_ARCHS = ("vgg16", "vgg19", "alexnet")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    """Map images in [-1, 1] to ImageNet-normalised inputs: ``((x + 1) / 2 - mean) / std``."""
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x + 1.0) * 0.5 - mean) / std


def _vgg_layers(arch: str) -> tuple[list[nn.Module], list[str]]:
    layers: list[nn.Module] = []
    names: list[str] = []
    in_ch, block, k = 3, 1, 0
    for item in _VGG_CFGS[arch]:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            names.append(f"pool{block}")
            block, k = block + 1, 0
            continue
        k += 1
        layers += [nn.Conv2d(in_ch, int(item), kernel_size=3, padding=1), nn.ReLU()]
        names += [f"conv{block}_{k}", f"relu{block}_{k}"]
        in_ch = int(item)
    return layers, names


def _alexnet_layers() -> tuple[list[nn.Module], list[str]]:
    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
    ]
    names = [
        "conv1", "relu1", "pool1", "conv2", "relu2", "pool2",
        "conv3", "relu3", "conv4", "relu4", "conv5", "relu5", "pool5",
    ]  # fmt: skip
    return layers, names


class TorchvisionFeatures(nn.Module):
    """The convolutional ``features`` stack of a torchvision classifier (keys ``features.{i}.*``).

    ReLUs are not in-place (so tapped activations stay intact). Use :meth:`taps` to get the
    activations after chosen layers.

    Args:
        arch: ``"vgg16"``, ``"vgg19"`` or ``"alexnet"``.
    """

    def __init__(self, arch: str = "vgg19") -> None:
        super().__init__()
        if arch not in BACKBONE_ARCHS:
            raise ValueError(f"unknown backbone arch {arch!r}; expected one of {BACKBONE_ARCHS}")
        self.arch = arch
        layers, names = _alexnet_layers() if arch == "alexnet" else _vgg_layers(arch)
        self.features = nn.Sequential(*layers)
        self.layer_names: tuple[str, ...] = tuple(names)

    def layer_index(self, name: str) -> int:
        """Index in ``features`` of a named layer (e.g. ``"relu3_1"``)."""
        try:
            return self.layer_names.index(name)
        except ValueError:
            raise ValueError(
                f"{self.arch} has no layer {name!r}; available: {', '.join(self.layer_names)}"
            ) from None

    def channels(self, name: str) -> int:
        """Number of channels of the activation after the named layer."""
        idx = self.layer_index(name)
        for layer in reversed(self.features[: idx + 1]):
            if isinstance(layer, nn.Conv2d):
                return layer.out_channels
        return 3

    def taps(self, x: torch.Tensor, names: Sequence[str]) -> list[torch.Tensor]:
        """Activations after the named layers (in the order given).

        Args:
            x: ``[N, 3, H, W]`` float, already normalised.
            names: layer names, e.g. ``("relu1_1", "relu2_1")``.

        Returns:
            one ``[N, C_l, H_l, W_l]`` tensor per name. Only the layers up to the deepest tap
            are run.
        """
        wanted = [self.layer_index(n) for n in names]
        last = max(wanted)
        found: dict[int, torch.Tensor] = {}
        for i, layer in enumerate(self.features[: last + 1]):
            x = layer(x)
            if i in wanted:
                found[i] = x
        return [found[i] for i in wanted]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The whole stack: ``[N, 3, H, W] -> [N, C, H', W']``."""
        return self.features(x)


def detect_backbone_arch(state: Mapping[str, torch.Tensor]) -> str:
    """Tell VGG16 / VGG19 / AlexNet apart from the ``features.*`` keys of a torchvision file.

    Raises:
        CheckpointError: the keys match none of them.
    """
    first = state.get("features.0.weight")
    if first is not None and tuple(first.shape) == (64, 3, 11, 11):
        return "alexnet"
    if first is not None and tuple(first.shape) == (64, 3, 3, 3):
        if "features.34.weight" in state:
            return "vgg19"
        if "features.28.weight" in state:
            return "vgg16"
    feats = sorted(k for k in state if k.startswith("features."))[:6]
    raise CheckpointError(
        "not a torchvision VGG16/VGG19/AlexNet state dict (expected 'features.0.weight' of shape "
        f"(64, 3, 3, 3) or (64, 3, 11, 11)); first feature keys: {feats or 'none'}"
    )


def load_torchvision_features(
    path: str | os.PathLike[str], arch: str | None = None
) -> TorchvisionFeatures:
    """Build the feature stack and load a torchvision weight file into it, strictly.

    The file is read with ``torch.load(weights_only=True)`` (or safetensors). ``classifier.*``
    keys are dropped; every ``features.*`` key must be present with the right shape and no
    other key may remain (e.g. the BatchNorm keys of ``vgg19_bn`` are reported).

    Args:
        path: e.g. ``assets/losses/vgg19-dcbb9e9d.pth``.
        arch: expected architecture; ``None`` detects it from the keys.

    Raises:
        FileNotFoundError: missing file. CheckpointError: unsafe file or mismatching keys.
    """
    path = Path(path)
    state = extract_state_dict(load_checkpoint_file(path), source=str(path))
    state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    if arch is None:
        arch = detect_backbone_arch(state)
    net = TorchvisionFeatures(arch)
    load_state_dict_strict(net, state, source=f"{path} (torchvision {arch})")
    return net

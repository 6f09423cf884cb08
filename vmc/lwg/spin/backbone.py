"""ResNet-50 trunk (torchvision layout, no classifier) used as the SPIN/HMR image encoder.

torchvision is not a dependency of vmc, so the network is written out here with the exact
torchvision parameter names: ``conv1``, ``bn1``, ``layer{1..4}.{k}.{conv1,bn1,conv2,bn2,conv3,
bn3}`` and ``layer{1..4}.0.downsample.{0,1}`` (1x1 projection conv + BatchNorm). The bottleneck
is "ResNet v1.5": the stride sits on the 3x3 ``conv2`` of the first block of layers 2-4. There is
no ``fc`` layer: SPIN's checkpoint has none.

Input ``[B, 3, H, W]`` (ImageNet-normalised RGB); :meth:`ResNet50Trunk.forward_features` returns
the global-average-pooled ``[B, 2048]`` feature (SPIN uses ``H = W = 224``: a 7x7 map, so the
global mean equals its ``AvgPool2d(7)``).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Bottleneck", "ResNet50Trunk", "RESNET50_BLOCKS"]

#: Bottleneck blocks per stage of ResNet-50.
RESNET50_BLOCKS = (3, 4, 6, 3)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (carries the stride) -> 1x1 expand (x4), BatchNorm after each conv.

    Args:
        in_channels: input channels.
        width: bottleneck width; the block outputs ``4 * width`` channels.
        stride: spatial stride of the 3x3 conv (and of the projection shortcut).
        downsample: projection shortcut ``Sequential(conv1x1, BatchNorm2d)`` or ``None``
            (identity) when the shape is unchanged.
    """

    expansion = 4

    def __init__(
        self, in_channels: int, width: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, H, W]`` -> ``[B, 4 * width, H / stride, W / stride]``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _stage(in_channels: int, width: int, blocks: int, stride: int) -> nn.Sequential:
    out_channels = width * Bottleneck.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels),
        )
    layers = [Bottleneck(in_channels, width, stride, downsample)]
    layers += [Bottleneck(out_channels, width) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNet50Trunk(nn.Module):
    """ResNet-50 without its classifier; parameters named as in torchvision.

    The submodules are attributes of this module itself (not of a ``backbone`` child), so a
    subclass that adds a head keeps the flat key names of SPIN's checkpoint.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        widths = (64, 128, 256, 512)
        in_channels = 64
        for i, (width, blocks) in enumerate(zip(widths, RESNET50_BLOCKS, strict=True)):
            stage = _stage(in_channels, width, blocks, stride=1 if i == 0 else 2)
            self.add_module(f"layer{i + 1}", stage)
            in_channels = width * Bottleneck.expansion
        self.feature_dim = in_channels  # 2048
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` normalised images -> ``[B, 2048]`` globally average-pooled features."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean(dim=(2, 3))

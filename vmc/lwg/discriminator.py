"""Conditional PatchGAN discriminators of LWG (``docs/conventions.md#lwg-losses-and-training``;
manifest ``tests/data/reference/lwg_discriminator_state_dict.json``).

* :class:`GlobalDiscriminator` - one PatchGAN on the full conditional image (personalisation /
  fine-tuning; iPERCore ``patch_global``). Keys ``global_model.model.{0,2,5,8,11,14}``.
* :class:`GlobalBodyHeadDiscriminator` - four PatchGANs (pretraining; ``patch_global_body_head``
  with ``use_aug_bg``): ``global`` on the full image, ``body`` on the body box resized to
  ``H/2``, ``head`` on the head box resized to ``H/4``, ``bg`` on ``[bg image, mask]``.

Inputs are batch-first float images: ``x [N, 6, H, W]`` = ``concat([I, C_t])`` (RGB in [-1, 1]
plus the 3-channel correspondence map), ``bg_x [N, 4, H, W]``. Both discriminators return an
ordered ``dict`` of raw logits ``[n, 1, h', w']`` per head (no sigmoid; LSGAN targets are
applied by the loss); :func:`average_logits` is the reference's "get_avg".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "GlobalBodyHeadDiscriminator",
    "GlobalDiscriminator",
    "PatchDiscriminator",
    "average_logits",
    "crop_and_resize",
]


class PatchDiscriminator(nn.Module):
    """pix2pix-style N-layer PatchGAN (iPERCore ``PatchDiscriminator``), keys ``model.{i}``.

    Layout: conv4x4 s2 (in -> ndf) + LReLU(0.2); ``n_layers - 1`` times conv4x4 s2 + IN + LReLU
    with widths ``ndf * min(2**k, max_nf_mult)``; conv4x4 s1 + IN + LReLU; conv4x4 s1 -> 1. All
    convs have bias and padding 1; InstanceNorm is affine-free. 512 px input, n_layers 4 ->
    30x30 logits.

    Args:
        in_channels: input channels (6 conditional image, 4 background).
        ndf: width of the first layer (64 released).
        n_layers: number of stride-2 convs (4 released).
        max_nf_mult: cap on the width multiplier (8 released).
    """

    def __init__(
        self, in_channels: int = 6, ndf: int = 64, n_layers: int = 4, max_nf_mult: int = 8
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"PatchDiscriminator: n_layers must be >= 1, got {n_layers}")
        self.n_layers = n_layers
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, ndf, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        width = ndf
        for k in range(1, n_layers + 1):
            out = ndf * min(2**k, max_nf_mult)
            stride = 2 if k < n_layers else 1
            layers += [
                nn.Conv2d(width, out, kernel_size=4, stride=stride, padding=1),
                nn.InstanceNorm2d(out, affine=False),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width = out
        layers.append(nn.Conv2d(width, 1, kernel_size=4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    @property
    def min_input_size(self) -> int:
        """Smallest input side that works: each s2 conv halves (floor), each s1 conv loses one
        pixel, and the InstanceNorm after the first s1 conv needs more than one pixel."""
        return 3 * 2**self.n_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W] -> [N, 1, h', w']`` raw logits."""
        return self.model(x)


def average_logits(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean over heads of each head's mean logit (the reference's ``get_avg``); scalar tensor."""
    if not outputs:
        raise ValueError("average_logits: no discriminator outputs to average")
    return torch.stack([o.mean() for o in outputs.values()]).mean()


def _check_image(name: str, x: torch.Tensor, channels: int) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != channels:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a [N, {channels}, H, W] tensor, got {got}")


class GlobalDiscriminator(nn.Module):
    """Single-head conditional PatchGAN (personalisation D): ``x -> {"global": logits}``."""

    def __init__(
        self, in_channels: int = 6, ndf: int = 64, n_layers: int = 4, max_nf_mult: int = 8
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.global_model = PatchDiscriminator(in_channels, ndf, n_layers, max_nf_mult)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x [N, in_channels, H, W]`` -> ``{"global": [N, 1, h', w']}``."""
        _check_image("x", x, self.in_channels)
        return {"global": self.global_model(x)}


def crop_and_resize(
    x: torch.Tensor, rects: torch.Tensor, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop one box per sample and resize it (bilinear, ``align_corners=True``).

    Args:
        x: ``[N, C, H, W]`` images.
        rects: ``[N, 4]`` integer boxes ``(min_x, max_x, min_y, max_y)`` in pixels, ends
            exclusive. Values are clamped to the image (the reference slices, which clips
            the ends the same way).
        size: output ``(h, w)``.

    Returns:
        ``(crops [n, C, h, w], kept [n] long)``: boxes that are empty on either axis are
        **skipped** as in the reference, so ``n`` can be smaller than ``N`` (even 0).
    """
    if rects.dim() != 2 or rects.shape != (x.shape[0], 4):
        raise ValueError(
            f"rects must have shape [N, 4] = [{x.shape[0]}, 4] "
            f"(min_x, max_x, min_y, max_y), got {tuple(rects.shape)}"
        )
    h, w = x.shape[-2:]
    crops, kept = [], []
    for i, (x0, x1, y0, y1) in enumerate(rects.detach().to("cpu", torch.long).tolist()):
        x0, x1 = min(max(x0, 0), w), min(max(x1, 0), w)
        y0, y1 = min(max(y0, 0), h), min(max(y1, 0), h)
        if x1 <= x0 or y1 <= y0:
            continue
        crop = x[i : i + 1, :, y0:y1, x0:x1]
        crops.append(F.interpolate(crop, size=size, mode="bilinear", align_corners=True))
        kept.append(i)
    if not crops:
        return x.new_zeros((0, x.shape[1], *size)), torch.zeros(0, dtype=torch.long)
    return torch.cat(crops, dim=0), torch.tensor(kept, dtype=torch.long)


class GlobalBodyHeadDiscriminator(nn.Module):
    """Four-head pretraining discriminator (global, body, head and, optionally, background).

    Keys ``global_model.*``, ``body_model.*``, ``head_model.*`` and, with ``use_bg``,
    ``bg_model.*`` (each a :class:`PatchDiscriminator`). The body crop is resized to
    ``(H//2, W//2)``, the head crop to ``(H//4, W//4)``: with ``n_layers`` 4 the input must be at
    least 256 px so the head crop still yields logits.
    """

    def __init__(
        self,
        in_channels: int = 6,
        bg_in_channels: int = 4,
        ndf: int = 64,
        n_layers: int = 4,
        max_nf_mult: int = 8,
        use_bg: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.bg_in_channels = bg_in_channels
        self.global_model = PatchDiscriminator(in_channels, ndf, n_layers, max_nf_mult)
        self.body_model = PatchDiscriminator(in_channels, ndf, n_layers, max_nf_mult)
        self.head_model = PatchDiscriminator(in_channels, ndf, n_layers, max_nf_mult)
        self.bg_model = (
            PatchDiscriminator(bg_in_channels, ndf, n_layers, max_nf_mult) if use_bg else None
        )

    @property
    def use_bg(self) -> bool:
        return self.bg_model is not None

    def crops(
        self, x: torch.Tensor, body_rects: torch.Tensor, head_rects: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Body ``[n_b, C, H/2, W/2]`` and head ``[n_h, C, H/4, W/4]`` crops fed to the heads."""
        h, w = x.shape[-2:]
        body, _ = crop_and_resize(x, body_rects, (h // 2, w // 2))
        head, _ = crop_and_resize(x, head_rects, (h // 4, w // 4))
        return body, head

    def forward(
        self,
        x: torch.Tensor,
        body_rects: torch.Tensor,
        head_rects: torch.Tensor,
        bg_x: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Run every head.

        Args:
            x: ``[N, in_channels, H, W]`` conditional image.
            body_rects, head_rects: ``[N, 4]`` boxes ``(min_x, max_x, min_y, max_y)``.
            bg_x: ``[N, bg_in_channels, H, W]`` background input; required iff ``use_bg``.

        Returns:
            ``{"bg", "global", "body", "head"}`` logits in the reference's order. Samples with
            an empty box are skipped for that head; a head with no valid box is left out.
        """
        _check_image("x", x, self.in_channels)
        if (bg_x is None) == self.use_bg:
            raise ValueError(
                "bg_x must be given exactly when the discriminator has a bg head "
                f"(use_bg={self.use_bg}, bg_x given: {bg_x is not None})"
            )
        outs: dict[str, torch.Tensor] = {}
        if self.bg_model is not None:
            _check_image("bg_x", bg_x, self.bg_in_channels)
            outs["bg"] = self.bg_model(bg_x)
        outs["global"] = self.global_model(x)
        body, head = self.crops(x, body_rects, head_rects)
        if body.shape[0]:
            outs["body"] = self.body_model(body)
        if head.shape[0]:
            outs["head"] = self.head_model(head)
        return outs

"""Building blocks of the LWG generator (iPERCore "AttLWB-SPADE"), key-for-key with the release.

Every module here keeps the attribute names and ``nn.Sequential`` index layout of the original
networks, so that ``state_dict()`` keys match ``tests/data/reference/lwg_generator_state_dict.json``
(see ``docs/conventions.md#lwg-generator``). Conventions:

* feature maps are ``[N, C, h, w]`` float;
* flows are ``grid_sample`` coordinates ``[..., H, W, 2]`` (x right, y down, pixel centres at
  ``(2i+1)/N - 1``), with ``(-2, -2)`` meaning "no correspondence" (samples to 0);
* ``grid_sample`` always runs with bilinear / zeros padding / ``align_corners=False``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "AttentionLWB",
    "Decoder",
    "Encoder",
    "NormResidualBlock",
    "ResidualBlock",
    "SPADE",
    "SkipDecoder",
    "attention_weights",
    "regression_head",
    "resize_flow",
    "warp_features",
]


class ResidualBlock(nn.Module):
    """``x + conv3x3(ReLU(conv3x3(x)))`` without normalisation (SIDNet / TSFNet bottleneck).

    Keys ``main.0`` and ``main.2`` (both convs with bias). Shape-preserving ``[N, C, h, w]``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


class NormResidualBlock(nn.Module):
    """``x + IN(conv3x3(ReLU(IN(conv3x3(x)))))`` (BGNet); keys ``main.0`` and ``main.3``.

    InstanceNorm is affine-free without running statistics (no state-dict entries). No ReLU
    after the addition.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1),
            nn.InstanceNorm2d(channels, affine=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1),
            nn.InstanceNorm2d(channels, affine=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


class Encoder(nn.Module):
    """Stride-2 3x3 conv + ReLU per level; keys ``layers.{i}.0``.

    Args:
        in_channels: input channels.
        filters: output channels per level (one halving of the resolution per level).
        bias: SIDNet convs have a bias, TSFNet convs do not.
    """

    def __init__(self, in_channels: int, filters: Sequence[int], bias: bool) -> None:
        super().__init__()
        chans = [in_channels, *filters]
        self.layers = nn.Sequential(
            *(
                nn.Sequential(
                    nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1, bias=bias),
                    nn.ReLU(inplace=True),
                )
                for i in range(len(filters))
            )
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[N, C_in, H, W]`` -> list of ``[N, filters[l], H/2^(l+1), W/2^(l+1)]``."""
        outs = []
        for layer in self.layers:
            x = layer(x)
            outs.append(x)
        return outs


class Decoder(nn.Module):
    """ConvTranspose 4x4 s2 p1 (bias) + ReLU per level, no skips; keys ``layers.{i}.0``."""

    def __init__(self, in_channels: int, filters: Sequence[int]) -> None:
        super().__init__()
        chans = [in_channels, *filters]
        self.layers = nn.Sequential(
            *(
                nn.Sequential(
                    nn.ConvTranspose2d(chans[i], chans[i + 1], 4, stride=2, padding=1, bias=True),
                    nn.ReLU(inplace=True),
                )
                for i in range(len(filters))
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class SkipDecoder(nn.Module):
    """TSFNet decoder: up-convs, each but the last followed by a skip fusion.

    ``upconvs.{j}.0`` = ConvTranspose 4x4 s2 p1 (bias) + ReLU,
    ``dec_filters[j-1] -> dec_filters[j]``;
    ``skippers.{j}.0`` = conv3x3 (bias) + ReLU on ``cat([enc_outs[n-2-j], up], dim=1)``.

    Args:
        in_channels: channels of the bottleneck input.
        enc_filters: encoder widths (level order, shallow first).
        dec_filters: decoder widths (normally ``reversed(enc_filters)``).
    """

    def __init__(
        self, in_channels: int, enc_filters: Sequence[int], dec_filters: Sequence[int]
    ) -> None:
        super().__init__()
        n = len(dec_filters)
        chans = [in_channels, *dec_filters]
        # skippers before upconvs: the original's attribute order (state_dict key order).
        self.skippers = nn.Sequential(
            *(
                nn.Sequential(
                    nn.Conv2d(
                        enc_filters[n - 2 - i] + dec_filters[i], dec_filters[i], 3, padding=1
                    ),
                    nn.ReLU(inplace=True),
                )
                for i in range(n - 1)
            )
        )
        self.upconvs = nn.Sequential(
            *(
                nn.Sequential(
                    nn.ConvTranspose2d(chans[i], chans[i + 1], 4, stride=2, padding=1),
                    nn.ReLU(inplace=True),
                )
                for i in range(n)
            )
        )

    def forward(self, x: torch.Tensor, enc_outs: Sequence[torch.Tensor]) -> torch.Tensor:
        """``x [N, C, h, w]`` + encoder outputs (shallow first) -> ``[N, C_out, H, W]``."""
        n = len(self.upconvs)
        for i in range(n):
            x = self.upconvs[i](x)
            if i != n - 1:
                x = self.skippers[i](torch.cat([enc_outs[n - 2 - i], x], dim=1))
        return x


def regression_head(in_channels: int, out_channels: int, activation: nn.Module) -> nn.Sequential:
    """Output head: conv 5x5 p2 without bias, then ``activation`` (Tanh colour / Sigmoid mask)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=5, stride=1, padding=2, bias=False),
        activation,
    )


class SPADE(nn.Module):
    """Spatially-adaptive normalisation "spadeinstance3x3": ``IN(x) * (1 + gamma(c)) + beta(c)``.

    ``IN`` is affine-free InstanceNorm (eps 1e-5); ``gamma``/``beta`` are 3x3 convs on
    ``ReLU(conv3x3(c))`` with ``hidden`` channels (128 in the original at every width).
    Keys ``mlp_shared.0``, ``mlp_gamma``, ``mlp_beta``.
    """

    def __init__(self, norm_channels: int, cond_channels: int, hidden: int = 128) -> None:
        super().__init__()
        self.param_free_norm = nn.InstanceNorm2d(norm_channels, affine=False)
        self.mlp_shared = nn.Sequential(
            nn.Conv2d(cond_channels, hidden, kernel_size=3, padding=1), nn.ReLU()
        )
        self.mlp_gamma = nn.Conv2d(hidden, norm_channels, kernel_size=3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, norm_channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``x [N, C, h, w]``, ``cond [N, C_cond, h, w]`` (same h, w) -> ``[N, C, h, w]``."""
        actv = self.mlp_shared(cond)
        return self.param_free_norm(x) * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a flow field like an image (values are already normalised, so not rescaled).

    Args:
        flow: ``[N, H, W, 2]`` grid_sample coordinates.
        size: target ``(h, w)``.

    Returns:
        ``[N, h, w, 2]``; bilinear with ``align_corners=True`` as in the original. The
        ``(-2, -2)`` sentinels are interpolated too (body borders get in-between values).
        Returned unchanged when the size already matches.
    """
    if tuple(flow.shape[1:3]) == tuple(size):
        return flow
    resized = F.interpolate(
        flow.permute(0, 3, 1, 2), size=size, mode="bilinear", align_corners=True
    )
    return resized.permute(0, 2, 3, 1)


def warp_features(features: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Liquid warping: ``grid_sample(features, flow resized to the feature size)``.

    Args:
        features: ``[N, C, h, w]`` source features.
        flow: ``[N, H, W, 2]`` flow at any resolution (resized to ``(h, w)`` if needed).

    Returns:
        ``[N, C, h, w]``; 0 where the flow points outside the image (sentinel ``-2``).
    """
    flow = resize_flow(flow, (features.shape[-2], features.shape[-1]))
    return F.grid_sample(features, flow, mode="bilinear", padding_mode="zeros", align_corners=False)


def attention_weights(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Per-pixel softmax over sources of ``<K_n(p), q(p)> / sqrt(C)``.

    Args:
        q: ``[N, C, h, w]`` query.
        k: ``[N, ns, C, h, w]`` keys.

    Returns:
        ``alpha [N, ns, 1, h, w]``, summing to 1 over ``ns`` at each pixel.
    """
    logits = torch.einsum("nschw,nchw->nshw", k, q) / math.sqrt(k.shape[2])
    return torch.softmax(logits, dim=1).unsqueeze(2)


class AttentionLWB(nn.Module):
    """Attentional Liquid Warping Block (iPERCore ``SelfAttentionLWB``, non-temporal).

    Warps every source's features with its flow, forms keys/values with 1x1 convs, attends per pixel
    over the sources with a query from the transfer stream, and uses the attended values as the
    SPADE condition that re-normalises the transfer features
    (``docs/conventions.md#lwg-generator``). Pixels whose warped features are all 0 are *not*
    masked: there K, V reduce to the conv biases.

    Keys ``fq``, ``fk``, ``fv`` (1x1, bias) and ``spade.*``.

    Args:
        channels_q: channels of the transfer (query) stream.
        channels_s: channels of the source features.
        channels: attention width (the original uses ``channels_q``).
        spade_hidden: SPADE hidden width (128 in the original).
    """

    def __init__(
        self, channels_q: int, channels_s: int, channels: int, spade_hidden: int = 128
    ) -> None:
        super().__init__()
        self.fq = nn.Conv2d(channels_q, channels, kernel_size=1)
        self.fk = nn.Conv2d(channels_s, channels, kernel_size=1)
        self.fv = nn.Conv2d(channels_s, channels, kernel_size=1)
        self.spade = SPADE(channels_q, channels, spade_hidden)

    def attend(
        self, tsf_x: torch.Tensor, src_x: torch.Tensor, flow: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Warp + attention, returning intermediates for inspection and tests.

        Args:
            tsf_x: ``[N, Cq, h, w]`` transfer features.
            src_x: ``[N*ns, Cs, h, w]`` source features, source index fastest.
            flow: ``[N, ns, H, W, 2]`` flows (any resolution; resized to ``(h, w)``).

        Returns:
            ``(warped [N*ns, Cs, h, w], alpha [N, ns, 1, h, w], attended [N, C, h, w])``.
        """
        n, ns, fh, fw, _ = flow.shape
        h, w = tsf_x.shape[-2:]
        warped = warp_features(src_x, flow.reshape(n * ns, fh, fw, 2))
        k = self.fk(warped).view(n, ns, -1, h, w)
        v = self.fv(warped).view(n, ns, -1, h, w)
        alpha = attention_weights(self.fq(tsf_x), k)
        return warped, alpha, (alpha * v).sum(dim=1)

    def forward(self, tsf_x: torch.Tensor, src_x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """Same arguments as :meth:`attend`; returns the modulated ``[N, Cq, h, w]``."""
        return self.spade(tsf_x, self.attend(tsf_x, src_x, flow)[2])

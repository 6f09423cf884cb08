"""The LWG generator "AttLWB-SPADE" (BGNet + SIDNet + TSFNet with attentional liquid warping).

Rebuilt from ``docs/conventions.md#lwg-generator`` with the original parameter names: built with
:data:`PAPER_GENERATOR_CONFIG` it has exactly the 221 keys / 36,276,992 parameters of iPERCore's
``AttLWB-SPADE_id_G_2020-05-18.pth`` (``tests/data/reference/lwg_generator_state_dict.json``).

Tensor conventions (all float, batch-first, ``H`` and ``W`` multiples of ``2**levels``, i.e. 8
for the released widths):

* ``bg_inputs [B, nb, 4, H, W]`` = ``[I * M, M]`` with ``M`` the eroded background mask
  (1 = background); ``nb`` is 1 in the pipeline;
* ``src_inputs [B, ns, 6, H, W]`` = ``[I_morph, C_s]`` (RGB in [-1, 1], uv_seg correspondence);
* ``tsf_inputs [B, nt, 6, H, W]`` = ``[I_syn, C_t]``;
* ``Tst [B, nt, ns, H, W, 2]`` grid_sample flows target -> source with ``(-2, -2)`` sentinels;
* outputs: colours in [-1, 1] (tanh), masks in [0, 1] (sigmoid, **1 = background**); the frame
  is ``mask * bg + (1 - mask) * img`` (:func:`composite`).

Two ways to run it, numerically equivalent:

* ``G(bg_inputs, src_inputs, tsf_inputs, Tst) -> GeneratorOutput`` (training);
* ``G.forward_bg`` once, ``G.encode_sources`` once (cache the :class:`SourceFeatures`), then
  ``G.forward_transfer`` per batch of frames (inference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from vmc.lwg.blocks import (
    AttentionLWB,
    Decoder,
    Encoder,
    NormResidualBlock,
    ResidualBlock,
    SkipDecoder,
    regression_head,
    resize_flow,
)

__all__ = [
    "PAPER_GENERATOR_CONFIG",
    "AttentionLWBGenerator",
    "BackgroundInpaintor",
    "GeneratorConfig",
    "GeneratorOutput",
    "SourceAutoEncoder",
    "SourceFeatures",
    "composite",
]


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture hyper-parameters of :class:`AttentionLWBGenerator`.

    The defaults are the released configuration (``AttLWB-SPADE.toml``). ``*_filters`` are the
    per-level widths (one stride-2 halving per level after BGNet's stem); SIDNet and TSFNet must
    have the same number of levels and of residual blocks (their features are paired).
    """

    bg_filters: tuple[int, ...] = (64, 128, 128, 256)
    bg_res_blocks: int = 6
    bg_in_channels: int = 4
    src_filters: tuple[int, ...] = (64, 128, 256)
    src_res_blocks: int = 6
    src_in_channels: int = 6
    tsf_filters: tuple[int, ...] = (64, 128, 256)
    tsf_res_blocks: int = 6
    tsf_in_channels: int = 6
    spade_hidden: int = 128

    def __post_init__(self) -> None:
        # Accept lists (Hydra ListConfig, JSON) and normalise to tuples of ints.
        for name in ("bg_filters", "src_filters", "tsf_filters"):
            value = tuple(int(v) for v in getattr(self, name))
            if not value or min(value) <= 0:
                raise ValueError(f"GeneratorConfig.{name} must be non-empty positive ints: {value}")
            object.__setattr__(self, name, value)
        if len(self.bg_filters) < 2:
            raise ValueError("GeneratorConfig.bg_filters needs a stem width and >= 1 level")
        if len(self.src_filters) != len(self.tsf_filters):
            raise ValueError(
                "GeneratorConfig: src_filters and tsf_filters need the same number of levels, got "
                f"{self.src_filters} and {self.tsf_filters}"
            )
        if self.src_res_blocks != self.tsf_res_blocks:
            raise ValueError(
                "GeneratorConfig: src_res_blocks and tsf_res_blocks must be equal (paired blocks),"
                f" got {self.src_res_blocks} and {self.tsf_res_blocks}"
            )

    @property
    def size_multiple(self) -> int:
        """``H`` and ``W`` must be multiples of this (every down-sampling must be exact)."""
        return 2 ** max(len(self.bg_filters) - 1, len(self.tsf_filters))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (lists for the widths)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


PAPER_GENERATOR_CONFIG = GeneratorConfig()


def composite(img: torch.Tensor, mask: torch.Tensor, bg: torch.Tensor) -> torch.Tensor:
    """Blend a generated colour map over a background: ``mask * bg + (1 - mask) * img``.

    Args:
        img: ``[..., 3, H, W]`` colour in [-1, 1].
        mask: ``[..., 1, H, W]`` in [0, 1], 1 = background.
        bg: background broadcastable to ``img`` (e.g. ``[B, 1, 3, H, W]`` against ``[B, nt, ...]``).
    """
    return mask * bg + (1 - mask) * img


@dataclass
class GeneratorOutput:
    """Raw heads of the full forward (not composited).

    Attributes:
        bg: ``[B, nb, 3, H, W]`` inpainted background in [-1, 1].
        src_img: ``[B, ns, 3, H, W]`` SIDNet colour (source reconstruction).
        src_mask: ``[B, ns, 1, H, W]`` SIDNet mask (1 = background).
        tsf_img: ``[B, nt, 3, H, W]`` TSFNet colour ``P_t``.
        tsf_mask: ``[B, nt, 1, H, W]`` TSFNet mask ``A_t`` (1 = background).
    """

    bg: torch.Tensor
    src_img: torch.Tensor
    src_mask: torch.Tensor
    tsf_img: torch.Tensor
    tsf_mask: torch.Tensor

    def frames(self) -> torch.Tensor:
        """Composited target frames ``[B, nt, 3, H, W]`` over the first background."""
        return composite(self.tsf_img, self.tsf_mask, self.bg[:, :1])

    def reconstructed_sources(self) -> torch.Tensor:
        """Composited source reconstructions ``[B, ns, 3, H, W]`` over the first background."""
        return composite(self.src_img, self.src_mask, self.bg[:, :1])


@dataclass
class SourceFeatures:
    """SIDNet features of a source set, cached for :meth:`AttentionLWBGenerator.forward_transfer`.

    Attributes:
        enc: per encoder level ``[B*ns, C_l, H/2^(l+1), W/2^(l+1)]`` (source index fastest).
        res: per residual block ``[B*ns, C, H/2^L, W/2^L]``.
        batch_size: ``B``.
        num_sources: ``ns``.
        image_size: ``(H, W)`` of the inputs they came from.
    """

    enc: tuple[torch.Tensor, ...]
    res: tuple[torch.Tensor, ...]
    batch_size: int
    num_sources: int
    image_size: tuple[int, int] = field(default=(0, 0))

    def detach(self) -> SourceFeatures:
        """A copy whose tensors are detached from the autograd graph."""
        return SourceFeatures(
            tuple(t.detach() for t in self.enc),
            tuple(t.detach() for t in self.res),
            self.batch_size,
            self.num_sources,
            self.image_size,
        )


class BackgroundInpaintor(nn.Module):
    """BGNet (iPERCore ``ResNetInpaintor``): encoder / IN residual blocks / decoder, no skips.

    ``main`` layout (indices are the state-dict keys): stem conv7 (bias) + IN + ReLU; per level a
    conv3x3 s2 (bias) + IN + ReLU; ``n_res_blocks`` :class:`NormResidualBlock`; per level a
    ConvTranspose 4x4 s2 (no bias) + IN + ReLU; conv7 (no bias) + Tanh.

    ``[N, in_channels, H, W] -> [N, 3, H, W]`` in [-1, 1].
    """

    def __init__(
        self,
        in_channels: int = 4,
        filters: Sequence[int] = (64, 128, 128, 256),
        n_res_blocks: int = 6,
    ) -> None:
        super().__init__()
        f = list(filters)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, f[0], kernel_size=7, stride=1, padding=3, bias=True),
            nn.InstanceNorm2d(f[0], affine=False),
            nn.ReLU(inplace=True),
        ]
        for i in range(1, len(f)):
            layers += [
                nn.Conv2d(f[i - 1], f[i], kernel_size=3, stride=2, padding=1, bias=True),
                nn.InstanceNorm2d(f[i], affine=False),
                nn.ReLU(inplace=True),
            ]
        layers += [NormResidualBlock(f[-1]) for _ in range(n_res_blocks)]
        rf = f[::-1]
        for i in range(1, len(rf)):
            layers += [
                nn.ConvTranspose2d(
                    rf[i - 1], rf[i], kernel_size=4, stride=2, padding=1, bias=False
                ),
                nn.InstanceNorm2d(rf[i], affine=False),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.Conv2d(f[0], 3, kernel_size=7, stride=1, padding=3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class SourceAutoEncoder(nn.Module):
    """SIDNet (iPERCore ``ResAutoEncoder``): encoder with bias, residual blocks, plain decoder.

    Keys ``encoders.layers.{l}.0``, ``res_blocks.{i}.main.{0,2}``, ``decoders.layers.{l}.0``,
    ``img_reg.0``, ``att_reg.0``.
    """

    def __init__(
        self, in_channels: int = 6, filters: Sequence[int] = (64, 128, 256), n_res_blocks: int = 6
    ) -> None:
        super().__init__()
        f = list(filters)
        self.encoders = Encoder(in_channels, f, bias=True)
        self.res_blocks = nn.Sequential(*(ResidualBlock(f[-1]) for _ in range(n_res_blocks)))
        self.decoders = Decoder(f[-1], f[::-1])
        self.img_reg = regression_head(f[0], 3, nn.Tanh())
        self.att_reg = regression_head(f[0], 1, nn.Sigmoid())

    def encode(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """``[N, C_in, H, W]`` -> (encoder outputs per level, output of every residual block)."""
        enc = self.encoders(x)
        res = []
        h = enc[-1]
        for block in self.res_blocks:
            h = block(h)
            res.append(h)
        return enc, res

    def regress(self, bottleneck: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode the last residual output to ``(img [N, 3, H, W], mask [N, 1, H, W])``."""
        dec = self.decoders(bottleneck)
        return self.img_reg(dec), self.att_reg(dec)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.regress(self.encode(x)[1][-1])


class AttentionLWBGenerator(nn.Module):
    """iPERCore ``AttentionLWBGenerator`` ("AttLWB-SPADE", non-temporal).

    Keyword arguments are the fields of :class:`GeneratorConfig` (defaults = the release), so
    ``hydra.utils.instantiate`` can build it from flat config keys. Works at any ``H, W`` that
    are multiples of :attr:`GeneratorConfig.size_multiple` and with any number of sources /
    targets. No BatchNorm or dropout: train and eval modes compute the same function.
    """

    def __init__(
        self,
        bg_filters: Sequence[int] = PAPER_GENERATOR_CONFIG.bg_filters,
        bg_res_blocks: int = 6,
        bg_in_channels: int = 4,
        src_filters: Sequence[int] = PAPER_GENERATOR_CONFIG.src_filters,
        src_res_blocks: int = 6,
        src_in_channels: int = 6,
        tsf_filters: Sequence[int] = PAPER_GENERATOR_CONFIG.tsf_filters,
        tsf_res_blocks: int = 6,
        tsf_in_channels: int = 6,
        spade_hidden: int = 128,
    ) -> None:
        super().__init__()
        cfg = GeneratorConfig(
            bg_filters=tuple(bg_filters),
            bg_res_blocks=int(bg_res_blocks),
            bg_in_channels=int(bg_in_channels),
            src_filters=tuple(src_filters),
            src_res_blocks=int(src_res_blocks),
            src_in_channels=int(src_in_channels),
            tsf_filters=tuple(tsf_filters),
            tsf_res_blocks=int(tsf_res_blocks),
            tsf_in_channels=int(tsf_in_channels),
            spade_hidden=int(spade_hidden),
        )
        self.config = cfg
        sf, tf = list(cfg.src_filters), list(cfg.tsf_filters)

        # Attribute names and creation order follow the original so state_dict() key order
        # matches the released file.
        self.bg_net = BackgroundInpaintor(cfg.bg_in_channels, cfg.bg_filters, cfg.bg_res_blocks)
        self.src_net = SourceAutoEncoder(cfg.src_in_channels, sf, cfg.src_res_blocks)
        self.tsf_net_enc = Encoder(cfg.tsf_in_channels, tf, bias=False)
        self.tsf_net_dec = SkipDecoder(tf[-1], tf, tf[::-1])
        self.enc_attlwbs = nn.ModuleList(
            AttentionLWB(tf[i], sf[i], tf[i], cfg.spade_hidden) for i in range(len(tf))
        )
        self.res_attlwbs = nn.ModuleList(
            AttentionLWB(tf[-1], sf[-1], tf[-1], cfg.spade_hidden)
            for _ in range(cfg.tsf_res_blocks)
        )
        self.res_blocks = nn.Sequential(*(ResidualBlock(tf[-1]) for _ in range(cfg.tsf_res_blocks)))
        self.tsf_img_reg = regression_head(tf[0], 3, nn.Tanh())
        self.tsf_att_reg = regression_head(tf[0], 1, nn.Sigmoid())

    @classmethod
    def from_config(cls, config: GeneratorConfig | dict[str, Any]) -> AttentionLWBGenerator:
        """Build from a :class:`GeneratorConfig` or a dict of its fields."""
        if isinstance(config, GeneratorConfig):
            config = asdict(config)
        return cls(**config)

    # ------------------------------------------------------------------ input checks
    def _check_image(self, name: str, x: torch.Tensor, channels: int) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 5:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} must be a 5-D tensor [B, n, {channels}, H, W], got {shape}")
        if x.shape[2] != channels:
            raise ValueError(
                f"{name} must have {channels} channels in dim 2 ([B, n, {channels}, H, W]), "
                f"got shape {tuple(x.shape)}"
            )
        m = self.config.size_multiple
        h, w = x.shape[-2:]
        if h % m or w % m or h == 0 or w == 0:
            raise ValueError(
                f"{name}: height and width must be positive multiples of {m} for this generator, "
                f"got {h}x{w}"
            )

    def _check_flow(self, tsf_inputs: torch.Tensor, tst: torch.Tensor, batch: int, ns: int) -> None:
        b, nt, _, h, w = tsf_inputs.shape
        if b != batch:
            raise ValueError(f"tsf_inputs batch {b} does not match the sources' batch {batch}")
        expected = (batch, nt, ns, h, w, 2)
        if not isinstance(tst, torch.Tensor) or tuple(tst.shape) != expected:
            got = tuple(tst.shape) if isinstance(tst, torch.Tensor) else type(tst).__name__
            raise ValueError(f"Tst must have shape [B, nt, ns, H, W, 2] = {expected}, got {got}")

    # ------------------------------------------------------------------ split forward
    def forward_bg(self, bg_inputs: torch.Tensor) -> torch.Tensor:
        """BGNet: ``bg_inputs [B, nb, 4, H, W]`` -> inpainted background ``[B, nb, 3, H, W]``."""
        self._check_image("bg_inputs", bg_inputs, self.config.bg_in_channels)
        b, nb, c, h, w = bg_inputs.shape
        return self.bg_net(bg_inputs.reshape(b * nb, c, h, w)).view(b, nb, 3, h, w)

    def encode_sources(self, src_inputs: torch.Tensor) -> SourceFeatures:
        """SIDNet encoder + residual blocks on ``src_inputs [B, ns, 6, H, W]`` (cache this)."""
        self._check_image("src_inputs", src_inputs, self.config.src_in_channels)
        b, ns, c, h, w = src_inputs.shape
        enc, res = self.src_net.encode(src_inputs.reshape(b * ns, c, h, w))
        return SourceFeatures(tuple(enc), tuple(res), b, ns, (h, w))

    def reconstruct_sources(self, features: SourceFeatures) -> tuple[torch.Tensor, torch.Tensor]:
        """SIDNet decoder heads: ``(src_img [B, ns, 3, H, W], src_mask [B, ns, 1, H, W])``."""
        img, mask = self.src_net.regress(features.res[-1])
        b, ns = features.batch_size, features.num_sources
        h, w = img.shape[-2:]
        return img.view(b, ns, 3, h, w), mask.view(b, ns, 1, h, w)

    def forward_transfer(
        self, tsf_inputs: torch.Tensor, Tst: torch.Tensor, src_features: SourceFeatures
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """TSFNet for a batch of target frames against cached source features.

        The ``nt`` targets are folded into the batch (every layer is per-sample, so this equals
        running them one at a time); the flow is resized once per feature resolution.

        Args:
            tsf_inputs: ``[B, nt, 6, H, W]`` = ``[I_syn, C_t]``.
            Tst: ``[B, nt, ns, H, W, 2]`` flows.
            src_features: from :meth:`encode_sources` with the same ``B`` and ``ns``.

        Returns:
            ``(tsf_img [B, nt, 3, H, W] in [-1, 1], tsf_mask [B, nt, 1, H, W] in [0, 1])``.
        """
        self._check_image("tsf_inputs", tsf_inputs, self.config.tsf_in_channels)
        b, ns = src_features.batch_size, src_features.num_sources
        self._check_flow(tsf_inputs, Tst, b, ns)
        _, nt, c, h, w = tsf_inputs.shape
        if src_features.image_size not in ((0, 0), (h, w)):
            raise ValueError(
                f"source features come from {src_features.image_size} images but tsf_inputs are "
                f"{h}x{w}"
            )
        n = b * nt
        flow = Tst.reshape(n * ns, h, w, 2)
        resized: dict[tuple[int, int], torch.Tensor] = {}

        def flow_at(size: tuple[int, int]) -> torch.Tensor:
            if size not in resized:
                resized[size] = resize_flow(flow, size).reshape(n, ns, *size, 2)
            return resized[size]

        def per_target(feat: torch.Tensor) -> torch.Tensor:
            # [B*ns, C, h, w] -> [B*nt*ns, C, h, w]: every target attends to its own sources.
            if nt == 1:
                return feat
            fc, fh, fw = feat.shape[1:]
            return (
                feat.view(b, 1, ns, fc, fh, fw)
                .expand(b, nt, ns, fc, fh, fw)
                .reshape(n * ns, fc, fh, fw)
            )

        x = tsf_inputs.reshape(n, c, h, w)
        enc_outs = []
        for layer, block, src_x in zip(
            self.tsf_net_enc.layers, self.enc_attlwbs, src_features.enc, strict=True
        ):
            x = layer(x)
            x = block(x, per_target(src_x), flow_at(tuple(x.shape[-2:])))
            enc_outs.append(x)
        for res_block, block, src_x in zip(
            self.res_blocks, self.res_attlwbs, src_features.res, strict=True
        ):
            x = res_block(x)
            x = block(x, per_target(src_x), flow_at(tuple(x.shape[-2:])))
        x = self.tsf_net_dec(x, enc_outs)
        img = self.tsf_img_reg(x).view(b, nt, 3, h, w)
        mask = self.tsf_att_reg(x).view(b, nt, 1, h, w)
        return img, mask

    # ------------------------------------------------------------------ full forward
    def forward(
        self,
        bg_inputs: torch.Tensor,
        src_inputs: torch.Tensor,
        tsf_inputs: torch.Tensor,
        Tst: torch.Tensor,
    ) -> GeneratorOutput:
        """All five heads (BGNet, SIDNet reconstruction, TSFNet); see the module docstring."""
        self._check_image("bg_inputs", bg_inputs, self.config.bg_in_channels)
        self._check_image("src_inputs", src_inputs, self.config.src_in_channels)
        if (
            bg_inputs.shape[0] != src_inputs.shape[0]
            or bg_inputs.shape[-2:] != src_inputs.shape[-2:]
        ):
            raise ValueError(
                f"bg_inputs {tuple(bg_inputs.shape)} and src_inputs {tuple(src_inputs.shape)} "
                "must share batch size and image size"
            )
        bg = self.forward_bg(bg_inputs)
        feats = self.encode_sources(src_inputs)
        src_img, src_mask = self.reconstruct_sources(feats)
        tsf_img, tsf_mask = self.forward_transfer(tsf_inputs, Tst, feats)
        return GeneratorOutput(bg, src_img, src_mask, tsf_img, tsf_mask)
